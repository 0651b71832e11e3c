"""Turn a bridge of the deployment into a ready ``BridgeRunner``: mapping loaded and checked
against both schemas, target schema registered in the target area's registry, a consumer
on the source cluster and a producer on the target cluster."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from hub.bridge.runner import BridgeEnds, BridgeRunner, Mapper
from hub.config import Deployment
from hub.connections import Connections
from hub.errors import ConfigError, SchemaError, TsunaguError
from hub.mapping import check_mapping, compile_key_mapping, compile_mapping, load_mapping
from hub.mapping.ngsi_ld import NgsiLdEncoder
from hub.registry.binding import bind_topic
from hub.registry.decoding import TopicDecoder
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["build_bridge", "group_id"]


def group_id(deployment: Deployment, name: str) -> str:
    """The consumer group every process of bridge ``name`` joins."""
    return deployment.bridges[name].group_id or f"tsunagu-bridge-{name}"


class _CompiledMapper:
    def __init__(self, name: str, version: int, function: Any) -> None:
        self.name = name
        self.version = version
        self._function = function

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._function(record)
        return result


async def build_bridge(
    name: str, deployment: Deployment, catalogue: SchemaCatalogue, connections: Connections
) -> BridgeRunner:
    """Everything bridge ``name`` needs; ConfigError when its mapping does not type-check."""
    bridge = deployment.bridges[name]
    source = deployment.topic(bridge.source)
    target = deployment.topic(bridge.target)
    source_entry = catalogue.get(source.schema_name)
    binding = bind_topic(deployment, catalogue, bridge.target)
    target_entry = binding.entry
    spec = await asyncio.to_thread(load_mapping, bridge.mapping)
    problems = check_mapping(spec, source_entry.raw, target_entry.raw)
    if problems:
        raise ConfigError(problems)
    function = compile_mapping(spec, source_entry.raw, target_entry.raw)
    mapper: Mapper = _CompiledMapper(spec.name, spec.version, function)

    encode_value = None
    if target.format == "ngsi-ld":
        # JSON-LD documents, not Confluent-framed Avro (the binding registers nothing).
        encode_value = NgsiLdEncoder(
            target_entry.raw, deployment.area(target.area).ngsi_ld_context, bridge.entity_type
        )
    try:
        encoder = await binding.encoder(
            connections.registry_for(target.area), may_register=bridge.register_target_schema
        )
    except SchemaError as exc:
        if bridge.register_target_schema:
            raise
        raise SchemaError(f"bridge {name}: {exc} (register_target_schema: false)") from exc
    ends = BridgeEnds(
        name,
        source.area,
        bridge.source,
        target.area,
        bridge.target,
        deployment.dead_letter_topic(bridge.target),
        target.key,
    )
    exactly_once = bridge.delivery == "exactly-once"
    source_cluster = connections.cluster_for(source.area)
    consumer = connections.backend.consumer(
        source_cluster,
        group_id(deployment, name),
        [bridge.source],
        read_committed=exactly_once,
    )
    transactions = None
    if exactly_once:
        # validate has checked that both topics live on one cluster.
        backend = connections.backend
        if not backend.transactions:
            raise TsunaguError(
                f"bridge {name}: exactly-once needs transactions, which the "
                f"{connections.backend.name} client does not offer here; use kafka_client: "
                "confluent"
            )
        transactions = backend.transactional_producer(
            source_cluster, f"tsunagu-bridge-{name}-{uuid.uuid4().hex[:12]}"
        )
    return BridgeRunner(
        ends,
        consumer=consumer,
        producer=await connections.producer_for(target.area),
        decoder=TopicDecoder(
            bridge.source,
            source.format,
            connections.registry_for(source.area),
            source_entry.parsed,
        ),
        encoder=encoder,
        mapper=mapper,
        encode_value=encode_value,
        transactions=transactions,
        tombstone_key=compile_key_mapping(spec, source.key, target.key),
    )
