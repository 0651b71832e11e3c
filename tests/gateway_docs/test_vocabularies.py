"""The mappings the DCAT-AP catalogue relies on, and documents of a deployment with several
clusters and bridges, built without a server."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from rdflib import Graph
from rdflib.namespace import DCAT, DCTERMS, RDF

from hub.config import Deployment, load_config
from hub.feed_status import FeedStatus
from hub.gateway.docs.asyncapi import asyncapi_document
from hub.gateway.docs.catalog import catalog_document
from hub.gateway.docs.common import HubAddresses
from hub.gateway.docs.dcat import dcat_document
from hub.gateway.docs.vocabularies import accrual_periodicity, licence_uri
from hub.schemas.catalogue import SchemaCatalogue

FREQ = "http://publications.europa.eu/resource/authority/frequency/"
SCHEMAS = Path(__file__).parent / "schemas"


@pytest.mark.parametrize(
    ("every", "code"),
    [
        (None, "UNKNOWN"),
        (timedelta(seconds=5), "CONT"),
        (timedelta(seconds=30), "CONT"),
        (timedelta(minutes=1), "1MIN"),
        (timedelta(minutes=5), "5MIN"),
        (timedelta(minutes=10), "10MIN"),
        (timedelta(minutes=20), "15MIN"),
        (timedelta(hours=1), "HOURLY"),
        (timedelta(hours=12), "12HRS"),
        (timedelta(days=1), "DAILY"),
        (timedelta(weeks=1), "WEEKLY"),
        (timedelta(days=30), "MONTHLY"),
        (timedelta(days=365), "ANNUAL"),
        (timedelta(hours=6), "OTHER"),  # no code within a factor 1.5
    ],
)
def test_update_frequency_maps_to_the_eu_frequency_table(
    every: timedelta | None, code: str
) -> None:
    assert accrual_periodicity(every) == FREQ + code


@pytest.mark.parametrize(
    ("licence", "uri"),
    [
        ("CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"),
        ("CC-BY-SA-4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
        ("CC-BY-NC-ND-4.0", "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
        ("CC-BY-2.1-JP", "https://creativecommons.org/licenses/by/2.1/jp/"),
        ("CC0-1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
        ("ODbL-1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
        ("MIT", "https://spdx.org/licenses/MIT.html"),
        ("https://example.jp/terms", "https://example.jp/terms"),
    ],
)
def test_licences_become_uris(licence: str, uri: str) -> None:
    assert licence_uri(licence) == uri


def deployment(tmp_path: Path) -> Deployment:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("{}\n")
    return Deployment.model_validate(
        {
            "version": 1,
            "kafka": {"bootstrap_servers": "k1:9092,k2:9092"},
            "areas": {
                "east": {"title": "East"},
                "west": {
                    "kafka": {
                        "bootstrap_servers": "w1:9093",
                        "security_protocol": "SASL_SSL",
                        "sasl_mechanism": "SCRAM-SHA-512",
                        "sasl_username_env": "W_USER",
                        "sasl_password_env": "W_PASS",
                    },
                    "registry": {"url": "https://registry.west.example"},
                },
            },
            "topics": {
                name: {
                    "area": name.split(".")[0],
                    "schema": "test.docs.Position",
                    "licence": "CC-BY-4.0",
                    "publisher": name.split(".")[0].title(),
                }
                for name in ("east.mobility.positions.v1", "west.mobility.positions.v1")
            },
            "feeds": {
                "a": {
                    "adapter": "x",
                    "url": "http://a.example/f",
                    "topic": "east.mobility.positions.v1",
                },
                "b": {
                    "adapter": "x",
                    "url": "http://b.example/f",
                    "topic": "east.mobility.positions.v1",
                },
            },
            "bridges": {
                "east-to-west": {
                    "source": "east.mobility.positions.v1",
                    "target": "west.mobility.positions.v1",
                    "mapping": str(mapping),
                }
            },
        }
    )


ADDRESSES = HubAddresses("https://hub.example", "k1:9092,k2:9092", "https://hub.example/registry")


def test_each_area_is_served_by_its_own_cluster_and_registry(tmp_path: Path) -> None:
    document = asyncapi_document(deployment(tmp_path), SchemaCatalogue.load(SCHEMAS), ADDRESSES)
    servers = document["servers"]
    assert servers["kafka"]["host"] == "k1:9092"
    assert servers["kafka"]["x-bootstrap-servers"] == "k1:9092,k2:9092"
    west = servers["kafka-west"]
    assert west["protocol"] == "kafka-secure"
    assert west["bindings"]["kafka"]["schemaRegistryUrl"] == "https://registry.west.example"
    (scheme,) = document["components"]["securitySchemes"].values()
    assert scheme == {"type": "scramSha512"}
    channel = document["channels"]["west.mobility.positions.v1"]
    assert channel["servers"] == [{"$ref": "#/servers/kafka-west"}]
    assert servers["gateway-ws"]["protocol"] == "wss"  # the gateway is served over https


def test_freshness_is_the_newest_data_among_a_topics_feeds(tmp_path: Path) -> None:
    now = 1_700_000_100_000
    statuses = [
        FeedStatus("a", True, now, None, None, now - 90_000, 0),
        FeedStatus("b", False, None, now, "boom", now - 30_000, 3),
    ]
    catalog = catalog_document(
        deployment(tmp_path), SchemaCatalogue.load(SCHEMAS), ADDRESSES, statuses, now
    )
    topics = {t["name"]: t for t in catalog["topics"]}
    assert topics["east.mobility.positions.v1"]["freshness_seconds"] == 30.0
    assert topics["east.mobility.positions.v1"]["feeds"] == ["a", "b"]
    assert topics["west.mobility.positions.v1"]["freshness_seconds"] is None
    west = topics["west.mobility.positions.v1"]["schema"]["url"]
    assert west == (
        "https://registry.west.example/subjects/west.mobility.positions.v1-value/versions/latest"
    )
    assert catalog["bridges"] == [
        {
            "name": "east-to-west",
            "source": "east.mobility.positions.v1",
            "target": "west.mobility.positions.v1",
            "mapping": "map.yaml",
            "delivery": "at-least-once",
        }
    ]
    feeds = {f["id"]: f for f in catalog["feeds"]}
    assert feeds["b"]["healthy"] is False
    assert feeds["b"]["last_error"] == "boom"


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_demo_deployment_is_catalogued_with_a_dataset_per_topic() -> None:
    repo = Path(__file__).resolve().parents[2]
    catalogue = SchemaCatalogue.load(repo / "schemas" / "avro")
    demo = load_config(repo / "topics.yaml", catalogue)
    graph = Graph().parse(
        data=orjson.dumps(dcat_document(demo, ADDRESSES, [], 0)), format="json-ld"
    )
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    assert {str(graph.value(d, DCTERMS.identifier)) for d in datasets} == set(demo.topics)
    asyncapi = asyncapi_document(demo, catalogue, ADDRESSES)
    assert set(demo.topics) <= set(asyncapi["channels"])
    positions = "kaga.mobility.vehicle-positions.v1"
    payload = asyncapi["channels"][positions]["messages"]["record"]["payload"]
    assert payload["schema"]["name"] == "VehiclePosition"
