"""Access control at the HTTP edge: `AccessControl.require` checks a request's API key,
rate limit and grant, audits the attempt and raises problem+json 401/403/429; `setup_cors`
answers browsers' preflights for the configured origins.

Framework-light on purpose: the gateway calls ``await access.require(request, topic, "read")``
from its handlers and gets the principal (key id or ``anonymous``) back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import metrics
from hub.access.audit import AuditLog, AuditSeal, audit_seal
from hub.access.keys import KeyInfo, KeyStore, Permission, split_key
from hub.access.policy import ANONYMOUS, Decision, authorize, grants_everything, lapses_at
from hub.access.problems import access_problem
from hub.access.ratelimit import RateLimiter
from hub.http.app import KafkaDisclosure, from_this_machine

if TYPE_CHECKING:
    from hub.config import Deployment

__all__ = ["AccessControl", "Action", "kafka_disclosure", "presented_key", "setup_cors"]

#: What an audited attempt was: opening a stream, reading (latest state), publishing,
#: changing the embedded schema registry.
Action = Literal["subscribe", "read", "publish", "registry-write"]

# Longest claimed key id kept in the audit log for an unknown key (the input is the caller's).
_MAX_CLAIMED = 64

log = logging.getLogger(__name__)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def presented_key(request: web.Request, *, basic: bool = False) -> str | None:
    """The API key a request carries in ``Authorization: Bearer`` or ``X-API-Key``, if any.

    With `basic`, ``Authorization: Basic`` counts too, with the key id as user name and the
    secret as password (what Confluent registry clients send as ``basic.auth.user.info``).
    An Authorization header of another scheme counts as a (wrong) key, so it gets a 401
    rather than being silently treated as anonymous.
    """
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if basic and scheme.lower() == "basic":
            return _basic_key(token.strip()) or authorization
        return token.strip() if scheme.lower() == "bearer" else authorization
    header = request.headers.get("X-API-Key")
    return header.strip() if header is not None else None


def kafka_disclosure(
    engine: AsyncEngine,
    *,
    advertise: bool,
    embedded: bool,
    clock: Callable[[], int] = _now_ms,
) -> KafkaDisclosure:
    """Who ``/v1/info`` tells the default Kafka cluster's bootstrap addresses.

    Everyone when the deployment says so (``hub.http.advertise_kafka``: its clusters have
    authentication and ACLs of their own, so the address is no secret); a caller on this
    machine when the broker is the embedded one (it listens on loopback, so such a caller
    could find it anyway, and ``tsunagu apply`` beside ``up`` needs it); otherwise only a
    key granted read and publish on ``*``, which the broker's lack of ACLs cannot widen.
    """
    keys = KeyStore(engine, clock=clock)

    async def may_see(request: web.Request) -> bool:
        if advertise or (embedded and from_this_machine(request)):
            return True
        plaintext = presented_key(request)
        if plaintext is None:
            return False
        return grants_everything(await keys.authenticate(plaintext), now_ms=clock())

    return may_see


def _basic_key(token: str) -> str | None:
    """``<key id>.<secret>`` from a Basic credential of user = key id, password = secret."""
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return f"{user}.{password}" if colon else None


class AccessControl:
    """The hub's access policy: keys and grants from the store, public topics from the
    deployment, in-memory rate limits, and the audit log every attempt goes to."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        public_topics: Iterable[str] = (),
        limiter: RateLimiter | None = None,
        clock: Callable[[], int] = _now_ms,
        cache_ttl_s: float = 2.0,
        audit_delay_s: float = 0.05,
        recheck_ttl_s: float = 1.0,
        audit_seal: AuditSeal | None = None,
    ) -> None:
        self.keys = KeyStore(engine, clock=clock)
        self.audit = AuditLog(engine, clock=clock, seal=audit_seal)
        self.limiter = limiter or RateLimiter()
        self.public_topics = frozenset(public_topics)
        self.clock = clock
        self.cache_ttl_s = cache_ttl_s
        self.audit_delay_s = audit_delay_s
        # plaintext -> (key, KeyStore generation, monotonic expiry): a valid key is checked
        # against the store at most every cache_ttl_s, so a revocation made by another
        # process (tsunagu keys revoke) takes effect within that time; in this process at once.
        self._known: dict[str, tuple[KeyInfo, int, float]] = {}
        # Audit entries wait here, then go to the log in one transaction: the log costs one
        # commit per burst, not one per request (group commit). An entry the caller must
        # see committed (an acknowledged publish) starts the write at once and waits for
        # it, along with every other entry waiting then; the rest wait at most
        # audit_delay_s. `_committed` resolves when the entries now in `_pending` are.
        self._pending: list[dict[str, object]] = []
        self._committed: asyncio.Future[None] | None = None
        self._urgent = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        # For `recheck`: plaintext -> (key as last read, KeyStore generation, monotonic
        # expiry), and the reads under way, so many streams of one key cost one query per
        # recheck_ttl_s between them.
        self.recheck_ttl_s = recheck_ttl_s
        self._rechecked: dict[str, tuple[KeyInfo | None, int, float]] = {}
        self._rechecking: dict[str, asyncio.Task[KeyInfo | None]] = {}

    @classmethod
    def from_deployment(
        cls, engine: AsyncEngine, deployment: Deployment, *, limiter: RateLimiter | None = None
    ) -> AccessControl:
        """Access control whose public topics are the deployment's ``access: public`` ones,
        auditing with the deployment's audit key (made beside a SQLite store if missing)."""
        public = [name for name, topic in deployment.topics.items() if topic.access == "public"]
        settings = deployment.hub.audit
        seal = audit_seal(
            engine.url.render_as_string(hide_password=False),
            key_file=settings.key_file,
            checkpoint_file=settings.checkpoint_file,
            create=True,
        )
        if seal is None:
            log.warning(
                "no audit key (set TSUNAGU_AUDIT_KEY or hub.audit.key_file): the audit log is "
                "only hash-chained, and someone who can write the store can rewrite it unseen"
            )
        elif seal.checkpoint is None:
            log.warning(
                "no audit checkpoint file (hub.audit.checkpoint_file): deleting the newest "
                "audit entries shows only through the checkpoints published to Kafka"
            )
        return cls(engine, public_topics=public, limiter=limiter, audit_seal=seal)

    async def require(
        self,
        request: web.Request,
        topic: str,
        permission: Permission,
        *,
        action: Action | None = None,
        audit_ok: bool = True,
        basic: bool = False,
    ) -> str:
        """Return the principal allowed to `permission` on `topic`, or raise a problem+json
        401 (no, invalid or revoked key), 429 (over the key's rate) or 403 (no or expired
        grant). Every refusal is audited; an allowed attempt too, unless `audit_ok` is False
        because the caller will `record` it with its amount once known.

        `action` names the attempt in the audit log (default: the permission's name); with
        `basic` the key may also come as HTTP Basic credentials (see `presented_key`).
        """
        audited_action: str = action or permission
        plaintext = presented_key(request, basic=basic)
        key = await self._authenticate(plaintext) if plaintext is not None else None
        decision = authorize(
            key,
            topic,
            permission,
            self.public_topics,
            now_ms=self.clock(),
            key_presented=plaintext is not None,
        )
        principal = _principal(key, plaintext)
        # Rate-limit before answering 403, so probing for grants costs the prober its budget;
        # callers without a valid key share a bucket per client address.
        live_key = key is not None and not key.revoked
        bucket = principal if live_key else f"ip:{request.remote or 'unknown'}"
        verdict = self.limiter.check(bucket, key.rate_per_minute if key and live_key else None)
        if not verdict.allowed:
            retry = max(1, math.ceil(verdict.retry_after_s))
            await self._audit(
                request, principal, audited_action, topic, outcome="429", detail="rate-limited"
            )
            raise access_problem(
                429,
                f"rate limit exceeded; retry in {retry} s",
                instance=request.path,
                reason="rate-limited",
                headers={"Retry-After": str(retry)},
            )
        if not decision.allowed:
            await self._audit(
                request,
                principal,
                audited_action,
                topic,
                outcome=str(decision.status),
                detail=decision.reason,
            )
            raise _refusal(request, decision)
        if audit_ok:
            await self._audit(
                request, principal, audited_action, topic, outcome="ok", detail=decision.reason
            )
        return principal

    async def _authenticate(self, plaintext: str) -> KeyInfo | None:
        now = time.monotonic()
        known = self._known.get(plaintext)
        if known is not None and known[1] == self.keys.generation and known[2] > now:
            return known[0]
        key = await self.keys.authenticate(plaintext)
        if key is not None and not key.revoked:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[plaintext] = (key, self.keys.generation, now + self.cache_ttl_s)
        else:
            self._known.pop(plaintext, None)
        return key

    async def recheck(
        self, plaintext: str | None, topic: str, permission: Permission
    ) -> tuple[Decision, int | None]:
        """Whether a caller that presented `plaintext` (None: no key) may still `permission`
        on `topic`, and when that lapses by itself (epoch ms; None when nothing expires).

        For uses that outlive a request, such as a stream: the key is read from the store at
        most every ``recheck_ttl_s`` whoever asks, so a revocation or withdrawn grant made by
        another process is seen within that time. A refusal based on a cached read is
        confirmed against the store first, so a grant renewed elsewhere cuts nothing. Not
        audited: the caller records how its use ended.
        """
        if plaintext is None:
            key = None
        else:
            key = await self._current_key(plaintext, fresh=False)
        decision, until = self._standing(key, topic, permission, presented=plaintext is not None)
        if not decision.allowed and plaintext is not None:
            key = await self._current_key(plaintext, fresh=True)
            decision, until = self._standing(key, topic, permission, presented=True)
        return decision, until

    def _standing(
        self, key: KeyInfo | None, topic: str, permission: Permission, *, presented: bool
    ) -> tuple[Decision, int | None]:
        now = self.clock()
        decision = authorize(
            key, topic, permission, self.public_topics, now_ms=now, key_presented=presented
        )
        if not decision.allowed:
            return decision, None
        return decision, lapses_at(key, topic, permission, self.public_topics, now_ms=now)

    async def _current_key(self, plaintext: str, *, fresh: bool) -> KeyInfo | None:
        known = self._rechecked.get(plaintext)
        if (
            not fresh
            and known is not None
            and known[1] == self.keys.generation
            and known[2] > time.monotonic()
        ):
            return known[0]
        read = self._rechecking.get(plaintext)
        if read is None:
            read = asyncio.create_task(self._read_key(plaintext))
            self._rechecking[plaintext] = read
        # Shielded: one waiter giving up must not cancel the read the others wait for.
        return await asyncio.shield(read)

    async def _read_key(self, plaintext: str) -> KeyInfo | None:
        try:
            generation = self.keys.generation
            key = await self.keys.authenticate(plaintext)
            if len(self._rechecked) > 10_000:
                self._rechecked.clear()
            self._rechecked[plaintext] = (key, generation, time.monotonic() + self.recheck_ttl_s)
            return key
        finally:
            self._rechecking.pop(plaintext, None)

    async def flush(self) -> None:
        """Write the audit entries still waiting (call before reading the log)."""
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            committed, self._committed = self._committed, None
            if not batch:
                return
            try:
                await self.audit.append_many(batch)
            except BaseException as exc:
                metrics.AUDIT_FAILURES.inc()
                if committed is not None and not committed.done():
                    if isinstance(exc, asyncio.CancelledError):
                        committed.cancel()
                    else:
                        committed.set_exception(exc)
                        committed.exception()  # retrieved: no waiter may be left to read it
                raise
            metrics.AUDIT_COMMITS.inc()
            metrics.AUDIT_ENTRIES.inc(len(batch))
            if committed is not None and not committed.done():
                committed.set_result(None)

    async def _flush_soon(self) -> None:
        # Wait for audit_delay_s or an urgent entry, whichever comes first, then write until
        # nothing waits: entries that arrived during one commit go in the next.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), self.audit_delay_s)
        while self._pending:
            self._urgent.clear()
            try:
                await self.flush()
            except Exception:
                # Callers that wait get the error; the batched rest is lost: say so once
                # per failed batch, and keep the loop for the next entries.
                log.exception("could not write audit entries")
        self._urgent.clear()

    async def close(self) -> None:
        """Write what is waiting; call on shutdown."""
        if self._flusher is not None:
            # Let a write under way finish (cancelling it would lose its batch), at once.
            self._urgent.set()
            await self._flusher
        await self.flush()

    async def _append(self, *, durable: bool = False, **fields: object) -> None:
        self._pending.append({"at_ms": self.clock(), **fields})
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
        committed = self._committed
        if durable:
            self._urgent.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        if durable:
            # shield: a client hanging up must not cancel the shared write for the others.
            await asyncio.shield(committed)

    async def record(
        self,
        request: web.Request | None,
        principal: str,
        action: Action,
        topic: str,
        *,
        amount: int | None = None,
        size_bytes: int | None = None,
        outcome: str = "ok",
        detail: str | None = None,
        durable: bool | None = None,
    ) -> None:
        """Audit an attempt the caller completed itself: how many records (`amount`) and bytes
        were published or delivered, e.g. when a stream closes or a batch is accepted.

        `durable` waits until the entry is committed, so the caller answers only after its
        audit row exists; by default an accepted publish (an acknowledgement) is durable,
        and reads, streams and refusals are written within audit_delay_s.
        """
        if durable is None:
            durable = action == "publish" and outcome == "ok"
        await self._append(
            durable=durable,
            key_id=principal,
            action=action,
            topic=topic,
            outcome=outcome,
            amount=amount,
            size_bytes=size_bytes,
            client=request.remote if request is not None else None,
            detail=detail,
        )

    async def _audit(
        self,
        request: web.Request,
        principal: str,
        action: str,
        topic: str,
        *,
        outcome: str,
        detail: str,
    ) -> None:
        await self._append(
            key_id=principal,
            action=action,
            topic=topic,
            outcome=outcome,
            client=request.remote,
            detail=detail,
        )


def _principal(key: KeyInfo | None, plaintext: str | None) -> str:
    if key is not None:
        return key.key_id
    if plaintext is not None:
        # Who claimed to be whom is worth auditing, even when the secret was wrong.
        parts = split_key(plaintext)
        if parts is not None:
            return parts[0][:_MAX_CLAIMED]
    return ANONYMOUS


def _refusal(request: web.Request, decision: Decision) -> web.HTTPException:
    headers = None
    if decision.status == 401:
        # RFC 6750: tell the client which scheme to use, and why the token failed.
        error = "" if decision.reason == "missing-key" else ', error="invalid_token"'
        headers = {"WWW-Authenticate": f'Bearer realm="tsunagu"{error}'}
    return access_problem(
        decision.status,
        decision.detail,
        instance=request.path,
        reason=decision.reason,
        headers=headers,
    )


# --- CORS ---------------------------------------------------------------------------------

_ALLOW_METHODS = "GET, POST, OPTIONS"
_ALLOW_HEADERS = "Authorization, X-API-Key, Content-Type, Idempotency-Key, Last-Event-ID"
_EXPOSE_HEADERS = "Retry-After, WWW-Authenticate, Location"


def setup_cors(
    app: web.Application, allowed_origins: Collection[str], *, max_age_s: int = 600
) -> None:
    """Let browsers on `allowed_origins` (exact origins such as ``https://maas.example``,
    or ``*`` for any) call the app: preflights are answered before routing, and every
    response to an allowed origin, errors and streams included, carries the CORS headers.

    No credentials mode: keys travel in headers, never in cookies.
    """
    origins = frozenset(o.rstrip("/") for o in allowed_origins)
    any_origin = "*" in origins

    def allowed(origin: str | None) -> str | None:
        if origin is None:
            return None
        if any_origin:
            return "*"
        return origin if origin in origins else None

    @web.middleware
    async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return await handler(request)
        origin = allowed(request.headers.get("Origin"))
        if origin is None:
            raise access_problem(
                403,
                "this origin may not call the hub from a browser",
                instance=request.path,
                reason="origin-not-allowed",
            )
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": _ALLOW_METHODS,
                "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                "Access-Control-Max-Age": str(max_age_s),
                "Vary": "Origin",
            },
        )

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        # on_response_prepare runs before the headers are sent, for streamed responses and
        # raised HTTP errors alike, which a middleware could not reach.
        origin = allowed(request.headers.get("Origin"))
        if origin is None or "Access-Control-Allow-Origin" in response.headers:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
        if origin != "*":
            response.headers.add("Vary", "Origin")

    app.middlewares.append(preflight)
    app.on_response_prepare.append(add_headers)
