"""``apply`` against the real embedded broker and the embedded registry over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from hub.apply import apply
from hub.config import load_config
from hub.db import create_schema, make_engine
from hub.errors import IncompatibleSchemaError
from hub.kafka import Cluster, get_backend
from hub.registry.client import RegistryClient
from hub.registry.store import RegistryStore
from hub.schemas.catalogue import SchemaCatalogue
from tests.hub_registry import HUB_AUTH, hub_registry_app

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Counter",
    "namespace": "test.apply",
    "doc": "A test record.",
    "fields": [
        {"name": "id", "type": "string", "doc": "Global id."},
        {"name": "count", "type": "long", "doc": "A count."},
    ],
}


def deployment_yaml(topics: list[str]) -> str:
    body = "\n".join(
        f"""  {name}:
    area: apply
    schema: test.apply.Counter
    partitions: 2
    cleanup: compact
    licence: CC-BY-4.0
    publisher: Test City"""
        for name in topics
    )
    return f"version: 1\nareas:\n  apply: {{title: Apply test}}\ntopics:\n{body}\n"


async def test_apply_creates_registers_and_refuses_incompatible(
    tmp_path: Path, cluster: Cluster, unique: str
) -> None:
    schemas = tmp_path / "avro"
    schemas.mkdir()
    (schemas / "Counter.avsc").write_text(json.dumps(SCHEMA))
    config = tmp_path / "topics.yaml"
    first_topic = f"apply.t{unique}.counters.v1"
    config.write_text(deployment_yaml([first_topic]))

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    await create_schema(engine)
    server = TestServer(hub_registry_app(RegistryStore(engine)), host="127.0.0.1")
    await server.start_server()
    registry = RegistryClient(str(server.make_url("")).rstrip("/"), auth=HUB_AUTH)
    admin = get_backend().admin(cluster)
    try:
        deployment = load_config(config, SchemaCatalogue.load(schemas))
        report = await apply(
            deployment, SchemaCatalogue.load(schemas), lambda _: admin, lambda _: registry
        )
        assert sorted(report.created_topics) == sorted([first_topic, f"{first_topic}.dlq"])
        assert list(report.registered) == [f"{first_topic}-value"]
        assert (await admin.list_topics())[first_topic] == 2

        again = await apply(
            deployment, SchemaCatalogue.load(schemas), lambda _: admin, lambda _: registry
        )
        assert again.created_topics == []
        assert again.registered == report.registered

        # An incompatible change (new field without default) plus a new topic: nothing is created.
        schema_v2 = dict(
            SCHEMA, fields=[*SCHEMA["fields"], {"name": "unit", "type": "string", "doc": "Unit."}]
        )
        (schemas / "Counter.avsc").write_text(json.dumps(schema_v2))
        second_topic = f"apply.t{unique}.others.v1"
        config.write_text(deployment_yaml([first_topic, second_topic]))
        changed = load_config(config, SchemaCatalogue.load(schemas))
        with pytest.raises(IncompatibleSchemaError, match="unit"):
            await apply(changed, SchemaCatalogue.load(schemas), lambda _: admin, lambda _: registry)
        assert second_topic not in await admin.list_topics()
    finally:
        await admin.close()
        await registry.close()
        await server.close()
        await engine.dispose()
