"""``GET /v1/topics/{topic}/stream``: records as JSON over Server-Sent Events or WebSocket.

Query parameters (both transports):
- ``start``: ``latest`` (default), ``earliest``, an RFC 3339 time or epoch milliseconds;
- ``resume``: a position token (SSE clients may send ``Last-Event-ID`` instead);
- ``bbox=minLon,minLat,maxLon,maxLat``, ``ids=a,b,c``, ``where=field:value`` (repeatable).
A bad parameter is a 400 problem whose ``parameter`` member names it.

Every event carries its position token; reconnecting with the last one continues right
after it. A stream ends with a reason the client can read (SSE ``event: overflow`` or
``event: closed``; a WebSocket message and close code, see `CLOSE_CODES`) when:
- the subscriber does not take what is sent: more than ``max_buffer_bytes`` wait in the
  connection's buffer, or it falls ``queue_size`` events behind (``overflow``);
- its key is revoked or its grant withdrawn or expired (``revoked-key``, ``grant-expired``,
  ``no-grant``): the stream re-reads its key every ``recheck_s`` and ends at a grant's
  expiry, so a revocation made by another process cuts it within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson
from aiohttp import WSMsgType, web

from hub.access import AccessControl, presented_key
from hub.errors import KafkaError
from hub.gateway import metrics
from hub.gateway.fanout import Filter, Start, Subscription, TopicFanout, event_json
from hub.gateway.positions import PositionError, decode_token
from hub.gateway.problems import problem

__all__ = [
    "CLOSE_CODES",
    "StreamLimits",
    "StreamTally",
    "parse_filter",
    "parse_start",
    "stream_handler",
]

log = logging.getLogger(__name__)

#: WebSocket close code per end reason (4000-4999 is the application's range).
CLOSE_CODES = {
    "revoked-key": 4001,
    "invalid-key": 4001,
    "grant-expired": 4003,
    "no-grant": 4003,
    "overflow": 4008,
}

# Epoch ms of 9999-12-31T23:59:59.999Z: beyond it a start time means nothing.
_MAX_EPOCH_MS = 253_402_300_799_999
# What one query string may ask the filter to test per record: bounded so a request cannot
# buy unbounded work on every record of the topic.
_MAX_IDS = 1000
_MAX_ID_CHARS = 256
_MAX_WHERE = 16
_MAX_WHERE_CHARS = 256
# How often a stream notices that its client has gone (no write needed to notice).
_TICK_S = 0.5


@dataclass(frozen=True)
class StreamLimits:
    """What one subscriber may cost, and how quickly a stream notices changes."""

    # Bytes written to a subscriber that its connection has not yet taken: past this, the
    # subscriber is cut off with an overflow (an event larger than this still goes out
    # when nothing else waits).
    max_buffer_bytes: int = 1 << 20
    # The kernel's send buffer of a stream's socket (Linux doubles it): without a cap it
    # grows to megabytes for a client that never reads.
    send_buffer_bytes: int = 256 << 10
    # SSE comment interval keeping proxies from closing an idle stream; WebSocket pings.
    heartbeat_s: float = 15.0
    # How often a stream re-reads its key and grants (revocation by another process).
    recheck_s: float = 1.0
    # How long the last bytes of an ended stream may wait for a client that does not read.
    linger_s: float = 10.0


@dataclass
class StreamTally:
    """What a stream did, for the audit log: records delivered and how it ended."""

    delivered: int = 0
    outcome: str = "ok"  # "ok", or the status its key or grant would now get (401, 403)
    detail: str | None = None


@dataclass(frozen=True)
class _End:
    reason: str  # one of CLOSE_CODES' keys
    detail: str
    position: str | None = None  # where to resume (overflow)
    status: int = 200  # for the audit log

    def payload(self) -> dict[str, object]:
        body: dict[str, object] = {"reason": self.reason, "detail": self.detail}
        if self.position is not None:
            body["position"] = self.position
        return body


def _bad(parameter: str, detail: str) -> web.HTTPException:
    return problem(400, f"Bad {parameter}", detail, parameter=parameter)


def parse_start(request: web.Request) -> Start:
    """The start position a request asks for; HTTP 400 problem when it is malformed."""
    header = request.headers.get("Last-Event-ID")
    source = "resume" if request.query.get("resume") else "Last-Event-ID"
    token = request.query.get("resume") or header
    if token:
        try:
            return Start("positions", positions=decode_token(token))
        except ValueError as exc:
            raise _bad(source, str(exc)) from exc
    start = request.query.get("start", "latest")
    if start in {"latest", "earliest"}:
        return Start(start)
    if start.isascii() and start.isdigit():
        if len(start) > 15 or int(start) > _MAX_EPOCH_MS:
            raise _bad("start", f"epoch milliseconds up to {_MAX_EPOCH_MS}")
        return Start("time", timestamp_ms=int(start))
    try:
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad("start", "start is latest, earliest, RFC 3339 time or epoch ms") from exc
    if when.tzinfo is None:
        raise _bad("start", "a start time needs a UTC offset, e.g. 2026-01-01T09:00Z")
    try:
        timestamp_ms = int(when.timestamp() * 1000)
    except (OverflowError, ValueError) as exc:
        raise _bad("start", "the start time is out of range") from exc
    if not 0 <= timestamp_ms <= _MAX_EPOCH_MS:
        raise _bad("start", "a start time is between 1970 and 9999")
    return Start("time", timestamp_ms=timestamp_ms)


def parse_filter(request: web.Request) -> Filter:
    """The filter a request asks for; HTTP 400 problem when it is malformed."""
    bbox = None
    if "bbox" in request.query:
        bbox = _parse_bbox(request.query["bbox"])
    ids = None
    if "ids" in request.query:
        # maxsplit: a list far too long is refused without splitting all of it.
        listed = [i for i in request.query["ids"].split(",", _MAX_IDS) if i]
        if len(listed) > _MAX_IDS:
            raise _bad("ids", f"at most {_MAX_IDS} ids")
        if any(len(i) > _MAX_ID_CHARS for i in listed):
            raise _bad("ids", f"an id is at most {_MAX_ID_CHARS} characters")
        ids = frozenset(listed)
    clauses = request.query.getall("where", [])
    if len(clauses) > _MAX_WHERE:
        raise _bad("where", f"at most {_MAX_WHERE} where clauses")
    equals = []
    for clause in clauses:
        if len(clause) > _MAX_WHERE_CHARS:
            raise _bad("where", f"a where clause is at most {_MAX_WHERE_CHARS} characters")
        name, sep, value = clause.partition(":")
        if not sep or not name:
            raise _bad("where", f"where is field:value, not {clause!r}")
        equals.append((name, value))
    return Filter(bbox, ids, tuple(equals))


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    usage = "bbox is minLon,minLat,maxLon,maxLat in degrees"
    fields = text.split(",", 4)
    if len(fields) != 4:
        raise _bad("bbox", f"{usage}: four numbers, not {len(fields)}")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(x) for x in fields)
    except ValueError as exc:
        raise _bad("bbox", f"{usage}: numbers") from exc
    corners = (min_lon, min_lat, max_lon, max_lat)
    if not all(math.isfinite(x) for x in corners):
        raise _bad("bbox", f"{usage}: finite numbers")
    if not (-180 <= min_lon <= max_lon <= 180):
        raise _bad("bbox", f"{usage}: longitudes within -180..180, min before max")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise _bad("bbox", f"{usage}: latitudes within -90..90, min before max")
    return corners


async def stream_handler(
    request: web.Request,
    tally: StreamTally,
    *,
    fanout: TopicFanout,
    access: AccessControl,
    limits: StreamLimits,
) -> web.StreamResponse:
    """Serve one subscription of ``fanout``'s topic over WebSocket (on upgrade) or SSE, for
    as long as ``access`` still lets the presented key read it; ``tally`` is filled in with
    what was delivered and why the stream ended."""
    topic = fanout.topic
    start, wanted = parse_start(request), parse_filter(request)
    guard = _Guard(access, presented_key(request), topic)
    # When the grant lapses; a refusal here (revoked since the request was let in) ends
    # the stream at the watcher's first look, with its reason.
    await guard.check()
    try:
        subscription = await fanout.subscribe(start, wanted)
    except PositionError as exc:
        parameter = "resume" if request.query.get("resume") else "Last-Event-ID"
        raise problem(400, "Position not in this topic", str(exc), parameter=parameter) from exc
    except KafkaError as exc:
        raise problem(503, "Kafka unavailable", str(exc)) from exc
    try:
        # timeout: how long closing waits for the client's close frame, within linger_s.
        websocket = web.WebSocketResponse(heartbeat=limits.heartbeat_s, timeout=limits.linger_s / 2)
        sink: _Sink
        if websocket.can_prepare(request).ok:
            await websocket.prepare(request)
            sink = _WebSocketSink(request, websocket)
            response: web.StreamResponse = websocket
        else:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",  # reverse proxies must not buffer a stream
                }
            )
            await response.prepare(request)
            sink = _SseSink(request, response)
        _bound_buffers(request, limits)
        metrics.SUBSCRIBERS.labels(topic).inc()
        try:
            end = await _Stream(sink, subscription, guard, limits, topic, tally).serve()
        finally:
            subscription.close()
            metrics.SUBSCRIBERS.labels(topic).dec()
        if end is not None:
            await _finish(request, sink, end, limits, tally)
        else:
            await sink.stop()
        return response
    finally:
        subscription.close()


def _bound_buffers(request: web.Request, limits: StreamLimits) -> None:
    transport = request.transport
    if transport is None:
        return
    # The transport pauses writers only past our own bound, so a write never waits on a
    # client that does not read; the bound is checked before each write instead.
    transport.set_write_buffer_limits(high=limits.max_buffer_bytes + (64 << 10))
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.send_buffer_bytes)


class _Sink(Protocol):
    """One transport a stream writes to."""

    def buffered(self) -> int: ...

    def gone(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, token: str, body: bytes) -> None: ...

    async def idle(self) -> None: ...

    async def end(self, end: _End) -> None: ...


class _SseSink:
    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self.request = request
        self.response = response

    def buffered(self) -> int:
        transport = self.request.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def gone(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()

    async def start(self) -> None:
        await self.response.write(b": subscribed\nretry: 2000\n\n")

    async def send(self, token: str, body: bytes) -> None:
        await self.response.write(b"id: %s\nevent: record\ndata: %s\n\n" % (token.encode(), body))

    async def idle(self) -> None:
        await self.response.write(b": keep-alive\n\n")

    async def stop(self) -> None:
        pass  # the client left

    async def end(self, end: _End) -> None:
        name = b"overflow" if end.reason == "overflow" else b"closed"
        await self.response.write(b"event: %s\ndata: %s\n\n" % (name, orjson.dumps(end.payload())))
        # The connection closes after this response: a client told why it was cut off
        # must reconnect, not reuse it.
        self.response.force_close()
        await self.response.write_eof()


class _WebSocketSink:
    def __init__(self, request: web.Request, websocket: web.WebSocketResponse) -> None:
        self.request = request
        self.websocket = websocket
        # Clients only listen; reading lets aiohttp answer pings and notice a close.
        self.reader = asyncio.create_task(self._drain_client())

    async def _drain_client(self) -> None:
        async for message in self.websocket:
            if message.type in {WSMsgType.CLOSE, WSMsgType.ERROR}:
                break

    def buffered(self) -> int:
        transport = self.request.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def gone(self) -> bool:
        transport = self.request.transport
        return (
            self.reader.done()
            or self.websocket.closed
            or transport is None
            or transport.is_closing()
        )

    async def start(self) -> None:
        pass

    async def send(self, token: str, body: bytes) -> None:
        await self.websocket.send_str('{"type":"record",' + body[1:].decode())

    async def idle(self) -> None:
        pass  # aiohttp pings (heartbeat) keep a WebSocket alive

    async def end(self, end: _End) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        kind = "overflow" if end.reason == "overflow" else "closed"
        await self.websocket.send_str(orjson.dumps({"type": kind, **end.payload()}).decode())
        await self.websocket.close(
            code=CLOSE_CODES.get(end.reason, 1008), message=end.reason.encode(), drain=False
        )

    async def stop(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        if not self.websocket.closed:
            await self.websocket.close()


class _Guard:
    """Whether the stream's key may still read the topic, re-read from the store."""

    def __init__(self, access: AccessControl, plaintext: str | None, topic: str) -> None:
        self.access = access
        self.plaintext = plaintext
        self.topic = topic
        self.until_ms: int | None = None
        self._failing = False

    def lapsed(self) -> bool:
        """True once a grant the stream relies on has run out (its expiry is known)."""
        return self.until_ms is not None and self.access.clock() >= self.until_ms

    async def check(self) -> _End | None:
        """The end a refusal means, or None while the key may still read."""
        try:
            decision, until = await self.access.recheck(self.plaintext, self.topic, "read")
        except Exception:
            # The store is unreachable: the stream goes on under what was last known, but
            # a known expiry still ends it; say so once, not every second.
            if not self._failing:
                log.exception("cannot recheck the key of a stream of %s", self.topic)
            self._failing = True
            if self.lapsed():
                return _End("grant-expired", "the read grant has expired", status=403)
            return None
        if self._failing:
            log.info("rechecking keys of streams of %s works again", self.topic)
            self._failing = False
        if decision.allowed:
            self.until_ms = until
            return None
        return _End(decision.reason, decision.detail, status=decision.status)


@dataclass
class _Stream:
    """One subscriber's stream: events pumped to its transport while a watcher notices a
    client that left and a key or grant that no longer allows reading."""

    sink: _Sink
    subscription: Subscription
    guard: _Guard
    limits: StreamLimits
    topic: str
    tally: StreamTally

    async def serve(self) -> _End | None:
        """The end that stopped the stream, or None when the client left."""
        await self.sink.start()
        pump = asyncio.create_task(self._pump())
        watch = asyncio.create_task(self._watch())
        try:
            done, _ = await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            first = pump if pump in done else watch
            try:
                return first.result()
            except ConnectionError:
                return None
        finally:
            for task in (pump, watch):
                task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(BaseException):
                    await task

    async def _pump(self) -> _End | None:
        sink, subscription, limits = self.sink, self.subscription, self.limits
        sent = metrics.EVENTS.labels(self.topic)
        last_sent = subscription.token()
        async with contextlib.aclosing(subscription.events()) as events:
            async for event in events:
                if self.guard.lapsed():
                    # Checked per event: nothing published after a grant's expiry goes out.
                    end = await self.guard.check()
                    if end is not None:
                        return end
                token = subscription.token()
                body = event_json(event, token)
                waiting = sink.buffered()
                if waiting and waiting + len(body) > limits.max_buffer_bytes:
                    return _overflow(f"over {limits.max_buffer_bytes} bytes unread", last_sent)
                await sink.send(token, body)
                last_sent = token
                sent.inc()
                self.tally.delivered += 1
        if subscription.overflowed:
            return _overflow(f"over {subscription.queue.maxsize} events behind", last_sent)
        return None

    async def _watch(self) -> _End | None:
        guard, limits = self.guard, self.limits
        loop = asyncio.get_running_loop()
        next_check = loop.time() + limits.recheck_s
        next_beat = loop.time() + limits.heartbeat_s
        while True:
            wake = min(next_check, next_beat, loop.time() + _TICK_S)
            if guard.until_ms is not None:
                # A grant's expiry is known: wake for it rather than up to a tick late.
                left_s = max(0.0, guard.until_ms - guard.access.clock()) / 1000
                wake = min(wake, loop.time() + left_s)
            await asyncio.sleep(max(0.0, wake - loop.time()))
            if self.sink.gone() or self.subscription.closed:
                return None
            now = loop.time()
            if now >= next_check or guard.lapsed():
                end = await guard.check()
                if end is not None:
                    return end
                next_check = now + limits.recheck_s
            if now >= next_beat:
                await self.sink.idle()
                next_beat = now + limits.heartbeat_s


def _overflow(why: str, position: str) -> _End:
    return _End("overflow", f"subscriber too slow ({why}); reconnect to resume", position)


async def _finish(
    request: web.Request, sink: _Sink, end: _End, limits: StreamLimits, tally: StreamTally
) -> None:
    """Tell the client why its stream ends, audit it, and bound how long the connection
    may hold its last bytes for a client that does not read."""
    topic = request.match_info["topic"]
    metrics.STREAMS_ENDED.labels(topic, end.reason).inc()
    if end.reason == "overflow":
        metrics.OVERFLOWS.labels(topic).inc()
    else:
        tally.outcome = str(end.status)
    tally.detail = f"stream closed: {end.reason} ({end.detail})"
    transport = request.transport
    try:
        async with asyncio.timeout(limits.linger_s):
            await sink.end(end)
    except (TimeoutError, ConnectionError):
        if transport is not None:
            transport.abort()
        return
    if transport is not None:
        # Closing waits for the buffer to empty; a client that never reads gets linger_s.
        asyncio.get_running_loop().call_later(limits.linger_s, transport.abort)
