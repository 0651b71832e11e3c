"""``GET /v1/topics/{topic}/stream``: records as JSON over Server-Sent Events or WebSocket.

Query parameters (both transports):
- ``start``: ``latest`` (default), ``earliest``, an RFC 3339 time or epoch milliseconds;
- ``resume``: a position token (SSE clients may send ``Last-Event-ID`` instead);
- ``bbox=minLon,minLat,maxLon,maxLat``, ``ids=a,b,c``, ``where=field:value`` (repeatable).

Every event carries its position token; reconnecting with the last one continues right
after it. A subscriber that falls ``queue_size`` events behind gets an ``overflow``
message and is closed, so a slow client never costs unbounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import orjson
from aiohttp import WSMsgType, web

from hub.errors import KafkaError
from hub.gateway import metrics
from hub.gateway.fanout import Filter, Start, Subscription, event_json
from hub.gateway.positions import decode_token
from hub.gateway.problems import problem

if TYPE_CHECKING:
    from hub.gateway.service import Gateway

__all__ = ["parse_filter", "parse_start", "stream_handler"]

_HEARTBEAT_S = 15.0


def parse_start(request: web.Request) -> Start:
    """The start position a request asks for; HTTP 400 problem when it is malformed."""
    token = request.query.get("resume") or request.headers.get("Last-Event-ID")
    if token:
        try:
            return Start("positions", positions=decode_token(token))
        except ValueError as exc:
            raise problem(400, "Bad resume token", str(exc)) from exc
    start = request.query.get("start", "latest")
    if start in {"latest", "earliest"}:
        return Start(start)
    if start.isdigit():
        return Start("time", timestamp_ms=int(start))
    try:
        when = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as exc:
        raise problem(
            400, "Bad start", "start is latest, earliest, RFC 3339 time or epoch ms"
        ) from exc
    if when.tzinfo is None:
        raise problem(400, "Bad start", "a start time needs a UTC offset, e.g. 2026-01-01T09:00Z")
    return Start("time", timestamp_ms=int(when.timestamp() * 1000))


def parse_filter(request: web.Request) -> Filter:
    """The filter a request asks for; HTTP 400 problem when it is malformed."""
    bbox = None
    if "bbox" in request.query:
        try:
            parts = [float(x) for x in request.query["bbox"].split(",")]
        except ValueError:
            parts = []
        if len(parts) != 4 or parts[0] > parts[2] or parts[1] > parts[3]:
            raise problem(400, "Bad bbox", "bbox is minLon,minLat,maxLon,maxLat in degrees")
        bbox = (parts[0], parts[1], parts[2], parts[3])
    ids = None
    if "ids" in request.query:
        ids = frozenset(i for i in request.query["ids"].split(",") if i)
    equals = []
    for clause in request.query.getall("where", []):
        name, sep, value = clause.partition(":")
        if not sep or not name:
            raise problem(400, "Bad where", f"where is field:value, not {clause!r}")
        equals.append((name, value))
    return Filter(bbox, ids, tuple(equals))


async def stream_handler(
    gateway: Gateway, request: web.Request, delivered: Callable[[int], None]
) -> web.StreamResponse:
    """Serve one subscription over WebSocket (on upgrade) or SSE; ``delivered`` counts."""
    topic = request.match_info["topic"]
    fanout = await gateway.fanout(topic)
    start, wanted = parse_start(request), parse_filter(request)
    try:
        subscription = await fanout.subscribe(start, wanted)
    except KafkaError as exc:
        raise problem(503, "Kafka unavailable", str(exc)) from exc
    metrics.SUBSCRIBERS.labels(topic).inc()
    try:
        websocket = web.WebSocketResponse(heartbeat=_HEARTBEAT_S)
        if websocket.can_prepare(request).ok:
            await websocket.prepare(request)
            await _serve_websocket(websocket, subscription, topic, delivered)
            return websocket
        return await _serve_sse(request, subscription, topic, delivered)
    finally:
        subscription.close()
        metrics.SUBSCRIBERS.labels(topic).dec()


async def _serve_sse(
    request: web.Request,
    subscription: Subscription,
    topic: str,
    delivered: Callable[[int], None],
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # reverse proxies must not buffer a stream
        }
    )
    await response.prepare(request)
    await response.write(b": subscribed\nretry: 2000\n\n")
    sent = metrics.EVENTS.labels(topic)
    events = subscription.events().__aiter__()
    next_event: asyncio.Task[object] | None = None
    try:
        while True:
            if next_event is None:
                next_event = asyncio.ensure_future(events.__anext__())
            done, _ = await asyncio.wait({next_event}, timeout=_HEARTBEAT_S)
            if not done:
                await response.write(b": keep-alive\n\n")
                continue
            try:
                event = next_event.result()
            except StopAsyncIteration:
                break
            finally:
                next_event = None
            token = subscription.token()
            body = event_json(event, token)  # type: ignore[arg-type]
            await response.write(b"id: %s\nevent: record\ndata: %s\n\n" % (token.encode(), body))
            sent.inc()
            delivered(1)
        if subscription.overflowed:
            metrics.OVERFLOWS.labels(topic).inc()
            await response.write(
                b"event: overflow\ndata: %s\n\n"
                % orjson.dumps(
                    {
                        "detail": "subscriber too slow; reconnect with Last-Event-ID to resume",
                        "position": subscription.token(),
                    }
                )
            )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if next_event is not None:
            next_event.cancel()
            with contextlib.suppress(BaseException):
                await next_event
    return response


async def _serve_websocket(
    websocket: web.WebSocketResponse,
    subscription: Subscription,
    topic: str,
    delivered: Callable[[int], None],
) -> None:
    async def drain_client() -> None:
        # Clients only listen; reading lets aiohttp answer pings and notice a close.
        async for message in websocket:
            if message.type in {WSMsgType.CLOSE, WSMsgType.ERROR}:
                break
        subscription.closed = True

    reader = asyncio.create_task(drain_client())
    sent = metrics.EVENTS.labels(topic)
    try:
        async for event in subscription.events():
            if websocket.closed:
                break
            token = subscription.token()
            body = event_json(event, token)
            await websocket.send_str('{"type":"record",' + body[1:].decode())
            sent.inc()
            delivered(1)
        if subscription.overflowed and not websocket.closed:
            metrics.OVERFLOWS.labels(topic).inc()
            await websocket.send_str(
                orjson.dumps(
                    {
                        "type": "overflow",
                        "detail": "subscriber too slow; reconnect with ?resume=<position>",
                        "position": subscription.token(),
                    }
                ).decode()
            )
            await websocket.close(code=4008, message=b"subscriber too slow")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        if not websocket.closed:
            await websocket.close()
