"""The catalogue documents of a running hub: /v1/catalog, the DCAT-AP catalogue (read as
RDF with rdflib) and the AsyncAPI document, checked against what the hub really serves."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from fastavro import parse_schema
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from tests.gateway_docs.conftest import FEED_AGE_S
from tests.gateway_docs.running_hub import RunningHub, wait_for

FREQ = Namespace("http://publications.europa.eu/resource/authority/frequency/")
ACCESS = Namespace("http://publications.europa.eu/resource/authority/access-right/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")


async def fed_catalog(session: aiohttp.ClientSession, hub: RunningHub) -> dict[str, Any]:
    """The catalogue once the feed's first cycle has been recorded."""

    async def fresh() -> dict[str, Any] | None:
        catalog = await hub.get_json(session, "/v1/catalog")
        topics = {t["name"]: t for t in catalog["topics"]}
        return catalog if topics[hub.positions]["freshness_seconds"] is not None else None

    result: dict[str, Any] = await wait_for(fresh, "the feed's first cycle")
    return result


async def test_catalog_lists_areas_topics_feeds_with_freshness(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session:
        catalog = await fed_catalog(session, hub)
    assert [a["name"] for a in catalog["areas"]] == ["town"]
    assert catalog["areas"][0]["title"] == "Test Town"
    topics = {t["name"]: t for t in catalog["topics"]}
    assert set(topics) == {hub.positions, hub.sensors}

    positions = topics[hub.positions]
    assert positions["schema"]["name"] == "test.docs.Position"
    assert positions["schema"]["subject"] == f"{hub.positions}-value"
    assert positions["key"] == "id"
    assert positions["licence"] == "CC-BY-4.0"
    assert positions["licence_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert positions["publisher"] == "Test Town"
    assert positions["update_frequency"] == "30s"
    assert positions["feeds"] == ["town-positions"]
    # The feed's newest record was observed FEED_AGE_S before the hub started.
    assert FEED_AGE_S <= positions["freshness_seconds"] < FEED_AGE_S + 600
    assert positions["endpoints"]["stream"] == f"{hub.base}/v1/topics/{hub.positions}/stream"

    sensors = topics[hub.sensors]
    assert sensors["freshness_seconds"] is None  # no feed produces into it
    assert sensors["feeds"] == []
    assert sensors["access"] == "granted"
    assert sensors["licence_url"] == "https://creativecommons.org/licenses/by/2.1/jp/"
    assert sensors["retention"] is None  # compacted: latest state kept per key

    (feed,) = catalog["feeds"]
    assert feed["id"] == "town-positions"
    assert feed["healthy"] is True
    assert feed["topics"] == [hub.positions]
    assert feed["schedule"]["interval"] == "1h"
    assert catalog["bridges"] == []


# rdflib's own JSON-LD parser still builds a ConjunctiveGraph, which rdflib 7 deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
async def test_dcat_catalogue_is_rdf_with_one_dataset_per_topic(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session:
        await fed_catalog(session, hub)
        async with session.get(f"{hub.base}/catalog.jsonld") as response:
            assert response.status == 200
            assert response.content_type == "application/ld+json"
            text = await response.text()
        graph = Graph().parse(data=text, format="json-ld")

        catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
        assert catalogs == [URIRef(f"{hub.base}/catalog.jsonld")]
        datasets = set(graph.objects(catalogs[0], DCAT.dataset))
        assert set(graph.subjects(RDF.type, DCAT.Dataset)) == datasets
        by_id = {str(graph.value(d, DCTERMS.identifier)): d for d in datasets}
        assert set(by_id) == {hub.positions, hub.sensors}

        positions = by_id[hub.positions]
        assert isinstance(positions, URIRef)
        assert graph.value(positions, DCTERMS.accrualPeriodicity) == FREQ.CONT
        assert graph.value(by_id[hub.sensors], DCTERMS.accrualPeriodicity) == FREQ.HOURLY
        assert graph.value(positions, DCTERMS.license) == URIRef(
            "https://creativecommons.org/licenses/by/4.0/"
        )
        assert graph.value(positions, DCTERMS.accessRights) == ACCESS.PUBLIC
        assert graph.value(by_id[hub.sensors], DCTERMS.accessRights) == ACCESS.RESTRICTED
        publisher = graph.value(positions, DCTERMS.publisher)
        assert (publisher, RDF.type, FOAF.Agent) in graph
        assert graph.value(publisher, FOAF.name) == Literal("Test Town")
        contact = graph.value(positions, DCAT.contactPoint)
        assert graph.value(contact, VCARD.fn) == Literal("Test Town")
        assert graph.value(positions, DCTERMS.modified) is not None  # the feed's newest data

        # dct:conformsTo is the registry's latest version of the value subject, and it resolves.
        schema = graph.value(positions, DCTERMS.conformsTo)
        assert isinstance(schema, URIRef)
        assert str(schema) == (
            f"{hub.base}/registry/subjects/{hub.positions}-value/versions/latest"
        )
        async with session.get(str(schema)) as response:
            assert response.status == 200
            registered = orjson.loads(await response.read())
        assert registered["subject"] == f"{hub.positions}-value"
        assert orjson.loads(registered["schema"])["name"] == "Position"

        # Distributions: the SSE stream, the latest state and the Kafka topic.
        query = """
            SELECT ?url ?media WHERE {
                ?dataset dcat:distribution ?d .
                ?d a dcat:Distribution ; dcat:accessURL ?url ; dct:license ?licence .
                OPTIONAL { ?d dcat:mediaType ?media }
            }"""
        rows = graph.query(
            query, initNs={"dcat": DCAT, "dct": DCTERMS}, initBindings={"dataset": positions}
        )
        found = {str(row.url): str(row.media) if row.media else None for row in rows}  # type: ignore[union-attr]
        assert found == {
            f"{hub.base}/v1/topics/{hub.positions}/stream": (
                "https://www.iana.org/assignments/media-types/text/event-stream"
            ),
            f"{hub.base}/v1/topics/{hub.positions}/latest": (
                "https://www.iana.org/assignments/media-types/application/json"
            ),
            f"kafka://{hub.bootstrap.split(',')[0]}/{hub.positions}": None,
        }
        # The gateway is a data service described by the OpenAPI document.
        services = set(graph.objects(catalogs[0], DCAT.service))
        described = {str(graph.value(s, DCAT.endpointDescription)) for s in services}
        assert f"{hub.base}/openapi.json" in described
        assert f"{hub.base}/asyncapi.json" in described


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_asyncapi_describes_each_topic_on_kafka_and_the_gateway(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session:
        document = await hub.get_json(session, "/asyncapi.json")
        assert document["asyncapi"] == "3.0.0"
        for ref in refs(document):
            resolve(document, ref)  # every reference points into the document

        kafka = document["servers"]["kafka"]
        assert kafka["protocol"] == "kafka"
        assert kafka["host"] == hub.bootstrap.split(",")[0]
        registry = kafka["bindings"]["kafka"]["schemaRegistryUrl"]
        assert registry == f"{hub.base}/registry"
        assert document["servers"]["gateway-sse"]["host"] == hub.base.removeprefix("http://")
        assert document["servers"]["gateway-ws"]["protocol"] == "ws"

        for topic in (hub.positions, hub.sensors):
            channel = document["channels"][topic]
            assert channel["address"] == topic
            payload = channel["messages"]["record"]["payload"]
            assert payload["schemaFormat"] == "application/vnd.apache.avro+json;version=1.9.0"
            parse_schema(payload["schema"])  # a valid Avro schema ...
            # ... and the one the registry serves for the topic.
            subject = f"{registry}/subjects/{topic}-value/versions/latest/schema"
            async with session.get(subject) as response:
                assert response.status == 200
                assert orjson.loads(await response.read()) == payload["schema"]
            stream = document["channels"][f"stream.{topic}"]
            assert stream["address"] == f"/v1/topics/{topic}/stream"
            operation = document["operations"][f"receive.{topic}"]
            assert operation["action"] == "receive"
            assert resolve(document, operation["channel"]["$ref"]) is channel
