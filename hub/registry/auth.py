"""Who may change the embedded registry: anyone reads, only an admin key writes.

Stock Confluent clients read schemas without credentials, so every read stays open. A write
(register, delete a subject or version, set or drop a compatibility level) needs an API key
with a ``registry:write`` grant covering the subject (``*`` for the global level), sent as
``Authorization: Bearer``, ``X-API-Key`` or HTTP Basic (user = key id, password = secret:
Confluent's ``basic.auth.user.info``). The hub's own parts write with an internal credential
that `tsunagu up` makes in memory at each start and never shows. Refusals are Confluent
errors (40101, 40301, 42901) and go to the audit log with every keyed write.
"""

from __future__ import annotations

import hmac

import orjson
from aiohttp import web

from hub.access.http import AccessControl, presented_key
from hub.metrics import REGISTRY_WRITES_REFUSED
from hub.registry.codes import RegistryResponseError

__all__ = [
    "FORBIDDEN",
    "GLOBAL_SUBJECT",
    "INTERNAL_USER",
    "RATE_LIMITED",
    "UNAUTHORIZED",
    "RegistryWriters",
]

#: The Basic user name of the hub's internal credential.
INTERNAL_USER = "tsunagu-hub"

#: What a grant must cover to change the global compatibility level: only ``*`` does.
GLOBAL_SUBJECT = "*"

UNAUTHORIZED = 40101
FORBIDDEN = 40301
RATE_LIMITED = 42901

_CODES = {401: UNAUTHORIZED, 403: FORBIDDEN, 429: RATE_LIMITED}


class RegistryWriters:
    """Decides who may write the registry: `access` for API keys, plus the hub itself when
    it was given `internal_secret` (Basic ``tsunagu-hub:<secret>``)."""

    def __init__(self, access: AccessControl, *, internal_secret: str | None = None) -> None:
        self.access = access
        self._internal = f"{INTERNAL_USER}.{internal_secret}" if internal_secret else None

    async def require(self, request: web.Request, subject: str | None) -> str | None:
        """The key id allowed to write `subject` (None: the global config), or None for the
        hub itself; raise a Confluent 401/403/429 otherwise (audited)."""
        credential = presented_key(request, basic=True)
        if (
            self._internal is not None
            and credential is not None
            and hmac.compare_digest(credential.encode(), self._internal.encode())
        ):
            return None
        try:
            return await self.access.require(
                request,
                subject or GLOBAL_SUBJECT,
                "registry:write",
                action="registry-write",
                audit_ok=False,
                basic=True,
            )
        except web.HTTPException as exc:
            REGISTRY_WRITES_REFUSED.labels(str(exc.status)).inc()
            raise _confluent(exc) from None

    async def record(
        self, request: web.Request, principal: str, subject: str | None, outcome: str
    ) -> None:
        """Audit a keyed write once its answer is known (``ok`` or the error status)."""
        await self.access.record(
            request,
            principal,
            "registry-write",
            subject or GLOBAL_SUBJECT,
            outcome=outcome,
            detail=f"{request.method} {request.path_qs}"[:500],
        )


def _confluent(exc: web.HTTPException) -> RegistryResponseError:
    """The access layer's problem+json refusal as Confluent's error body."""
    try:
        detail = str(orjson.loads(exc.text or "{}").get("detail") or exc.reason)
    except (orjson.JSONDecodeError, AttributeError):
        detail = exc.reason
    headers = {name: exc.headers[name] for name in ("Retry-After",) if name in exc.headers}
    if exc.status == 401:
        # Confluent clients send Basic; say so rather than the gateway's Bearer challenge.
        headers["WWW-Authenticate"] = 'Basic realm="tsunagu-registry"'
    return RegistryResponseError(exc.status, _CODES.get(exc.status, exc.status), detail, headers)
