"""The gateway's routes and the state behind them: one fanout and one latest-state cache per
topic, one publisher per topic, all created on first use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from hub.access import AccessControl, Action, Permission
from hub.config import Deployment
from hub.connections import Connections
from hub.errors import RegistryError, SchemaError
from hub.gateway import metrics
from hub.gateway.fanout import TopicFanout
from hub.gateway.latest import LatestBudget, LatestState
from hub.gateway.problems import problem
from hub.gateway.publish import (
    IdempotencyStore,
    PublishLimits,
    TopicPublisher,
    handle_publish,
    read_body,
)
from hub.gateway.streams import StreamLimits, StreamTally, parse_filter, stream_handler
from hub.gateway.strict import RecordChecker
from hub.kafka import Reader
from hub.registry.binding import bind_topic
from hub.registry.decoding import TopicDecoder
from hub.schemas.catalogue import SchemaCatalogue

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["Gateway"]


class Gateway:
    """Routes under /v1/topics and the per-topic state they share."""

    def __init__(
        self,
        deployment: Deployment,
        catalogue: SchemaCatalogue,
        connections: Connections,
        engine: AsyncEngine,
        *,
        access: AccessControl | None = None,
        limits: PublishLimits | None = None,
        stream_limits: StreamLimits | None = None,
    ) -> None:
        self.deployment = deployment
        self.catalogue = catalogue
        self.connections = connections
        # Keys, grants, rate limits and the audit log; public topics need no key to read.
        self.access = access or AccessControl.from_deployment(engine, deployment)
        self.limits = limits or PublishLimits()
        self.stream_limits = stream_limits or StreamLimits()
        self.idempotency = IdempotencyStore(engine, publish_timeout_s=self.limits.publish_timeout_s)
        self._fanouts: dict[str, TopicFanout] = {}
        self._latest: dict[str, LatestState] = {}
        settings = deployment.hub.gateway.latest
        self.latest_budget = LatestBudget(settings.max_bytes_per_topic, settings.max_bytes_total)
        self._publishers: dict[str, TopicPublisher] = {}
        self._decoders: dict[str, TopicDecoder] = {}
        self._lock = asyncio.Lock()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/topics/{topic}/stream", self._stream)
        app.router.add_get("/v1/topics/{topic}/latest", self._latest_values)
        app.router.add_post("/v1/topics/{topic}/records", self._publish)

    # --- shared per-topic state ---------------------------------------------------------

    def _topic(self, name: str) -> Any:
        topic = self.deployment.topics.get(name)
        if topic is None:
            raise problem(404, "Unknown topic", f"no topic {name!r} in this hub's catalogue")
        return topic

    async def _principal(
        self, request: web.Request, name: str, permission: Permission, action: Action
    ) -> str:
        """Who may do this (401/403/429 problem otherwise); the attempt is audited by the
        caller once it knows how much was read or published."""
        self._topic(name)
        return await self.access.require(request, name, permission, action=action, audit_ok=False)

    def _decode_for(self, name: str) -> Callable[[bytes], Awaitable[dict[str, Any]]]:
        """The topic's decoder, shared by its streams and its latest state."""
        decoder = self._decoders.get(name)
        if decoder is None:
            topic = self._topic(name)
            decoder = self._decoders[name] = TopicDecoder(
                name,
                topic.format,
                self.connections.registry_for(topic.area),
                self.catalogue.get(topic.schema_name).parsed,
            )
        return decoder.decode_one

    def _reader_factory(self, name: str) -> Callable[[], Reader]:
        cluster = self.connections.cluster_for(self._topic(name).area)
        backend = self.connections.backend
        return lambda: backend.reader(cluster, name)

    async def fanout(self, name: str) -> TopicFanout:
        """The topic's live fanout (created on first use)."""
        self._topic(name)
        async with self._lock:
            if name not in self._fanouts:
                self._fanouts[name] = TopicFanout(
                    name, self._reader_factory(name), self._decode_for(name)
                )
            return self._fanouts[name]

    async def _latest_state(self, name: str) -> LatestState:
        async with self._lock:
            if name not in self._latest:
                state = LatestState(
                    name, self._reader_factory(name), self._decode_for(name), self.latest_budget
                )
                state.start()
                self._latest[name] = state
            return self._latest[name]

    async def _publisher(self, name: str) -> TopicPublisher:
        async with self._lock:
            if name not in self._publishers:
                topic = self._topic(name)
                binding = bind_topic(self.deployment, self.catalogue, name)
                try:
                    encoder = await binding.encoder(self.connections.registry_for(topic.area))
                except SchemaError as exc:
                    # The subject refuses the topic's schema (damaged by hand): nothing
                    # can be encoded for it until an operator repairs it.
                    raise problem(
                        503,
                        "Topic schema unavailable",
                        f"{exc}; an operator repairs it with `tsunagu schemas repair "
                        f"{binding.subject}`",
                    ) from exc
                except RegistryError as exc:
                    raise problem(503, "Registry unavailable", str(exc)) from exc
                self._publishers[name] = TopicPublisher(
                    name,
                    topic.area,
                    topic.key,
                    encoder,
                    await self.connections.producer_for(topic.area),
                    checker=RecordChecker(binding.entry.parsed),
                )
            return self._publishers[name]

    # --- handlers -----------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["topic"]
        principal = await self._principal(request, name, "read", "subscribe")
        tally = StreamTally()
        try:
            return await stream_handler(
                request,
                tally,
                fanout=await self.fanout(name),
                access=self.access,
                limits=self.stream_limits,
            )
        finally:
            await self.access.record(
                request,
                principal,
                "subscribe",
                name,
                amount=tally.delivered,
                outcome=tally.outcome,
                detail=tally.detail,
            )

    async def _latest_values(self, request: web.Request) -> web.Response:
        name = request.match_info["topic"]
        principal = await self._principal(request, name, "read", "read")
        state = await self._latest_state(name)
        ready = await state.wait_ready(30.0)
        refused = state.over_budget
        if refused is not None:
            await self.access.record(
                request, principal, "read", name, outcome="507", detail="over budget"
            )
            raise problem(
                507,
                "Latest state over budget",
                str(refused),
                topic=name,
                budget_bytes=refused.budget,
                setting=refused.setting,
            )
        if not ready:
            raise problem(503, "Not ready", f"the latest state of {name} is still loading")
        wanted_id = request.query.get("id")
        if wanted_id is not None:
            record = await state.get(wanted_id)
            await self.access.record(request, principal, "read", name, amount=int(bool(record)))
            if record is None:
                raise problem(404, "Unknown id", f"{name} has no record with key {wanted_id!r}")
            return _json(record)
        try:
            limit = min(10_000, max(1, int(request.query.get("limit", "1000"))))
        except ValueError as exc:
            raise problem(400, "Bad limit", "limit is an integer") from exc
        records = await state.select(parse_filter(request), limit)
        await self.access.record(request, principal, "read", name, amount=len(records))
        return _json({"topic": name, "count": len(records), "records": records})

    async def _publish(self, request: web.Request) -> web.Response:
        name = request.match_info["topic"]
        principal = await self._principal(request, name, "publish", "publish")
        value_format = self._topic(name).format
        if value_format != "avro":
            # Publishing encodes Avro; mixed into a JSON topic it would be undecodable.
            metrics.PUBLISH_REFUSED.labels(name, "415").inc()
            await self.access.record(
                request, principal, "publish", name, outcome="415", detail="not an Avro topic"
            )
            raise problem(
                415,
                "Topic not writable over HTTP",
                f"{name} holds {value_format} values written by its bridge; HTTP publishing "
                "writes Avro records and is open to Avro topics only",
            )
        try:
            publisher = await self._publisher(name)
            body = await read_body(request, self.limits.max_body_bytes)
            response = await handle_publish(
                request,
                body,
                publisher=publisher,
                store=self.idempotency,
                principal=principal,
                limits=self.limits,
            )
        except web.HTTPException as exc:
            metrics.PUBLISH_REFUSED.labels(name, str(exc.status)).inc()
            await self.access.record(
                request, principal, "publish", name, outcome=str(exc.status), detail=exc.reason
            )
            raise
        await self.access.record(
            request,
            principal,
            "publish",
            name,
            amount=int(response.headers.get("X-Records", "0")),
            size_bytes=len(body),  # the bytes read: a chunked body announces no length
        )
        return response

    async def close(self) -> None:
        await self.access.close()
        for fanout in self._fanouts.values():
            await fanout.close()
        for state in self._latest.values():
            await state.close()


def _json(data: object) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")
