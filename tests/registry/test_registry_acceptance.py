"""Acceptance: confluent-kafka's own registry client and Avro serdes against the embedded registry.

The registry runs on a real port in the test's event loop; confluent-kafka's synchronous
client runs in a worker thread, as any outside tool would talk to the hub.
"""

from __future__ import annotations

import asyncio
import json
import struct
import warnings

import pytest

from hub.registry import RegistryClient, RegistryStore

from .conftest import VEHICLE_POSITION, record

with warnings.catch_warnings():
    # confluent-kafka's OAuth support imports authlib's httpx integration, which warns
    # about its own deprecation at import time; nothing here uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.serialization import MessageField, SerializationContext

TOPIC = "kaga.mobility.vehicle-positions.v1"
SUBJECT = f"{TOPIC}-value"
RECORDS = [
    {
        "id": "urn:ngsi-ld:Vehicle:kaga:bus-1234",
        "area": "kaga",
        "latitude": 36.3,
        "longitude": 136.3,
        "speed": 31.5,
    },
    {
        "id": "urn:ngsi-ld:Vehicle:kaga:bus-77",
        "area": "kaga",
        "latitude": 36.29,
        "longitude": 136.31,
        "speed": None,
    },
]
# Adding a field without a default: new readers cannot read the records already written.
INCOMPATIBLE = record(
    *json.loads(VEHICLE_POSITION)["fields"], {"name": "operator", "type": "string"}
)


def _round_trip(url: str) -> tuple[list[bytes], list[object]]:
    context = SerializationContext(TOPIC, MessageField.VALUE)
    with SchemaRegistryClient({"url": url}) as writer_client:
        serializer = AvroSerializer(
            writer_client, VEHICLE_POSITION, conf={"auto.register.schemas": True}
        )
        encoded = [serializer(value, context) for value in RECORDS]
    # A separate client with an empty cache: the reader fetches the schema by id over HTTP.
    with SchemaRegistryClient({"url": url}) as reader_client:
        deserializer = AvroDeserializer(reader_client)
        decoded = [deserializer(data, context) for data in encoded]
    return encoded, decoded


def _register_incompatible(url: str) -> SchemaRegistryError:
    with SchemaRegistryClient({"url": url}) as client:
        try:
            client.register_schema(SUBJECT, Schema(INCOMPATIBLE, "AVRO"))
        except SchemaRegistryError as exc:
            return exc
    raise AssertionError("the incompatible schema was registered")


def _inspect(url: str) -> tuple[list[str], object, str]:
    with SchemaRegistryClient({"url": url}) as client:
        latest = client.get_latest_version(SUBJECT)
        return client.get_subjects(), latest.version, client.get_compatibility()


async def test_confluent_client_serialises_and_deserialises(registry_url: str) -> None:
    encoded, decoded = await asyncio.to_thread(_round_trip, registry_url)
    assert decoded == RECORDS
    for data in encoded:
        magic, schema_id = struct.unpack(">bI", data[:5])
        assert (magic, schema_id) == (0, 1)  # Confluent wire format, our registry's id
    subjects, version, level = await asyncio.to_thread(_inspect, registry_url)
    assert subjects == [SUBJECT]
    assert version == 1
    assert level == "BACKWARD_TRANSITIVE"


async def test_incompatible_change_is_rejected_with_409(
    registry_url: str, sqlite_store: RegistryStore
) -> None:
    await asyncio.to_thread(_round_trip, registry_url)
    error = await asyncio.to_thread(_register_incompatible, registry_url)
    assert error.http_status_code == 409
    assert error.error_code == 409
    assert "field 'operator'" in error.error_message
    assert await sqlite_store.versions(SUBJECT) == [1]


async def test_registry_client_sees_what_confluent_wrote(registry_url: str) -> None:
    await asyncio.to_thread(_round_trip, registry_url)
    async with RegistryClient(registry_url) as client:
        latest = await client.latest(SUBJECT)
        assert latest is not None
        schema_id, version, schema = latest
        assert (schema_id, version) == (1, 1)
        assert json.loads(schema) == json.loads(VEHICLE_POSITION)
        assert await client.lookup(SUBJECT, VEHICLE_POSITION) == 1
        assert await client.check_compatibility(SUBJECT, INCOMPATIBLE) != []


@pytest.mark.parametrize("level", ["BACKWARD", "FULL_TRANSITIVE"])
async def test_levels_set_by_confluent_client(registry_url: str, level: str) -> None:
    def set_and_get() -> tuple[object, str]:
        with SchemaRegistryClient({"url": registry_url}) as client:
            client.set_compatibility(subject_name=SUBJECT, level=level)
            return client.get_compatibility(SUBJECT), client.get_compatibility()

    assert await asyncio.to_thread(set_and_get) == (level, "BACKWARD_TRANSITIVE")
