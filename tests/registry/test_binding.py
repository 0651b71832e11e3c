"""A topic bound to its schema: an Avro topic's values are framed with the id its subject
holds (registered when missing, and only then needing to be allowed to); an NGSI-LD topic
has no subject, and binding it asks no registry anything."""

from __future__ import annotations

import pytest

from hub.codec import schema_id_of
from hub.errors import SchemaError
from hub.registry import RegistryClient
from hub.registry.binding import TopicBinding, value_subject
from hub.schemas.catalogue import SchemaCatalogue
from tests.conftest import REPO

TOPIC = "kaga.mobility.vehicle-positions.v1"
POSITION = {
    "id": "urn:ngsi-ld:Vehicle:kaga:bus-1",
    "area": "kaga",
    "source_feed": "kaga-bus",
    "observed_at": 1_700_000_012_345,
    "ingested_at": 1_700_000_020_000,
    "vehicle_id": "bus-1",
    "latitude": 36.3,
    "longitude": 136.3,
}


def binding(value_format: str) -> TopicBinding:
    entry = SchemaCatalogue.load(REPO / "schemas" / "avro").get("tsunagu.mobility.VehiclePosition")
    return TopicBinding(TOPIC, "kaga", "avro" if value_format == "avro" else "ngsi-ld", entry)


async def test_an_avro_topic_is_registered_under_its_value_subject(registry_url: str) -> None:
    bound = binding("avro")
    assert bound.subject == value_subject(TOPIC) == f"{TOPIC}-value"
    async with RegistryClient(registry_url) as registry:
        with pytest.raises(SchemaError, match=f"{TOPIC}-value has no version equal to"):
            await bound.encoder(registry, may_register=False)
        encoder = await bound.encoder(registry)
        assert await registry.lookup(f"{TOPIC}-value", bound.entry.text) == encoder.schema_id
        # Held now: found again without registering.
        again = await bound.encoder(registry, may_register=False)
    assert again.schema_id == encoder.schema_id
    assert schema_id_of(encoder.encode(POSITION)) == encoder.schema_id


async def test_an_ngsi_ld_topic_has_no_subject_and_asks_no_registry() -> None:
    bound = binding("ngsi-ld")
    assert bound.subject is None
    # Nothing listens here: any request would raise RegistryUnavailableError.
    async with RegistryClient("http://127.0.0.1:9/registry", timeout=1.0) as nowhere:
        encoder = await bound.encoder(nowhere)
    assert encoder.schema_id == 0
    encoder.encode(POSITION)  # still checks that a record fits the schema
