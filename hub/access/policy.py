"""Who may do what: a pure decision from a key (or none), a topic and a permission.

No I/O here, so every rule is testable without a database or a server.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from fnmatch import fnmatchcase

from hub.access.keys import KeyInfo, Permission

__all__ = [
    "ANONYMOUS",
    "Decision",
    "authorize",
    "grants_everything",
    "lapses_at",
    "topic_matches",
]

#: The principal of a request made without a key.
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one access question.

    `status` is the HTTP status it maps to (200, 401 or 403), `reason` a short machine-readable
    code (``ok``, ``public``, ``missing-key``, ``invalid-key``, ``revoked-key``, ``no-grant``,
    ``grant-expired``) and `detail` a sentence for the caller.
    """

    status: int
    reason: str
    detail: str
    principal: str = ANONYMOUS

    @property
    def allowed(self) -> bool:
        return self.status == 200


def topic_matches(pattern: str, topic: str) -> bool:
    """True when a grant or public-topic pattern (exact name or glob) covers `topic`."""
    # Case-sensitive on every OS: topic names are case-sensitive in Kafka.
    return pattern == topic or fnmatchcase(topic, pattern)


def _covers(pattern: str, topic: str, permission: Permission) -> bool:
    if topic_matches(pattern, topic):
        return True
    # A registry grant on a topic's name covers the topic's subjects (TopicNameStrategy).
    if permission == "registry:write":
        for suffix in ("-value", "-key"):
            if topic.endswith(suffix) and topic_matches(pattern, topic.removesuffix(suffix)):
                return True
    return False


def authorize(
    key: KeyInfo | None,
    topic: str,
    permission: Permission,
    public_topics: Collection[str] = (),
    *,
    now_ms: int,
    key_presented: bool = False,
) -> Decision:
    """Decide whether `key` may `permission` on `topic` at `now_ms`.

    `key` is None when no key was sent, or (with `key_presented`) when the one sent is not
    valid. `public_topics` are names or globs anyone may read without a key; a key that is
    sent is still checked, so a revoked key is refused even on a public topic.
    """
    if key is None:
        if key_presented:
            return Decision(401, "invalid-key", "the API key is not valid")
        if permission == "read" and any(topic_matches(p, topic) for p in public_topics):
            return Decision(200, "public", f"{topic} is public")
        return Decision(401, "missing-key", f"{permission} on {topic} needs an API key")
    if key.revoked:
        return Decision(401, "revoked-key", f"API key {key.key_id} has been revoked", key.key_id)
    matching = [
        g for g in key.grants if g.permission == permission and _covers(g.topic, topic, permission)
    ]
    if any(not g.expired(now_ms) for g in matching):
        return Decision(200, "ok", f"{permission} on {topic} granted", key.key_id)
    if matching:
        return Decision(
            403,
            "grant-expired",
            f"the {permission} grant of {key.key_id} on {topic} has expired",
            key.key_id,
        )
    # A public topic stays readable for keys without a grant on it.
    if permission == "read" and any(topic_matches(p, topic) for p in public_topics):
        return Decision(200, "public", f"{topic} is public", key.key_id)
    return Decision(
        403, "no-grant", f"API key {key.key_id} has no {permission} grant on {topic}", key.key_id
    )


#: What a Kafka listener without ACLs gives whoever reaches it.
_KAFKA_PERMISSIONS: tuple[Permission, ...] = ("read", "publish")


def grants_everything(key: KeyInfo | None, *, now_ms: int) -> bool:
    """True for a live key granted read and publish on every topic (the pattern ``*``).

    A Kafka listener without authentication of its own lets whoever reaches it read and
    write every topic; only such a key loses nothing by learning where the listener is.
    (``registry:write`` is not needed: the registry is reached over HTTP, not Kafka.)
    """
    if key is None or key.revoked:
        return False
    return all(
        any(g.topic == "*" and g.permission == p and not g.expired(now_ms) for g in key.grants)
        for p in _KAFKA_PERMISSIONS
    )


def lapses_at(
    key: KeyInfo | None,
    topic: str,
    permission: Permission,
    public_topics: Collection[str] = (),
    *,
    now_ms: int,
) -> int | None:
    """When an allowed `permission` on `topic` stops by itself: the latest expiry of the grants
    that allow it now, or None when nothing runs out (a grant without expiry, a public topic).

    Lets a long-lived use of a grant (a stream) be scheduled to end instead of polled.
    """
    if permission == "read" and any(topic_matches(p, topic) for p in public_topics):
        return None
    if key is None:
        return None
    live = [
        g
        for g in key.grants
        if g.permission == permission and topic_matches(g.topic, topic) and not g.expired(now_ms)
    ]
    if not live or any(g.expires_ms is None for g in live):
        return None
    return max(g.expires_ms for g in live if g.expires_ms is not None)
