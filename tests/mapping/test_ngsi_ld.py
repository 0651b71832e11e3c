"""Mapped records as NGSI-LD normalized entities: shape, and valid JSON-LD read as RDF."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rdflib

from hub.mapping.ngsi_ld import to_entity

RECORD: dict[str, Any] = {
    "id": "urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-7",
    "observed_at": 1_700_000_012_345,
    "lat": 36.3,
    "lon": 136.3,
    "speedKmh": 36.0,
    "busNumber": "7",
    "routeCode": None,
    "refRoute": "urn:ngsi-ld:Route:ishikawa:kaga-r1",
    "ingested_at": 1_700_000_020_000,
}
CONTEXT = [
    "https://smartdatamodels.org/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]


def test_a_record_becomes_a_normalized_entity() -> None:
    entity = to_entity(RECORD, context=CONTEXT, timestamps={"observed_at", "ingested_at"})
    observed = "2023-11-14T22:13:32.345Z"
    assert entity == {
        "id": "urn:ngsi-ld:BusLocation:ishikawa:kaga-bus-7",
        "type": "BusLocation",
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [136.3, 36.3]},
            "observedAt": observed,
        },
        "speedKmh": {"type": "Property", "value": 36.0, "observedAt": observed},
        "busNumber": {"type": "Property", "value": "7", "observedAt": observed},
        "refRoute": {
            "type": "Relationship",
            "object": "urn:ngsi-ld:Route:ishikawa:kaga-r1",
            "observedAt": observed,
        },
        "ingested_at": {
            "type": "Property",
            "value": {"@type": "DateTime", "@value": "2023-11-14T22:13:40.000Z"},
            "observedAt": observed,
        },
        "@context": CONTEXT,
    }


def test_the_entity_type_can_be_named_and_ids_must_be_urns() -> None:
    assert to_entity(RECORD, context=CONTEXT[0], entity_type="Vehicle")["type"] == "Vehicle"
    with pytest.raises(ValueError, match="is not an NGSI-LD URN"):
        to_entity({**RECORD, "id": "bus-7"}, context=CONTEXT)


# rdflib's own JSON-LD parser still builds a ConjunctiveGraph, which rdflib 7 deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_entity_is_json_ld_that_reads_as_rdf() -> None:
    entity = to_entity(RECORD, context=CONTEXT, timestamps={"ingested_at"})
    # Offline, the published contexts cannot be fetched: an inline context with the same
    # terms (as the NGSI-LD core context defines them) stands in for them.
    core = "https://uri.etsi.org/ngsi-ld/"
    entity["@context"] = {
        "@vocab": "https://smartdatamodels.org/dataModel.Transportation/",
        "id": "@id",
        "type": "@type",
        "Property": core + "Property",
        "GeoProperty": core + "GeoProperty",
        "Relationship": core + "Relationship",
        "value": core + "hasValue",
        "object": {"@id": core + "hasObject", "@type": "@id"},
        "observedAt": {"@id": core + "observedAt", "@type": "DateTime"},
        "DateTime": "http://www.w3.org/2001/XMLSchema#dateTime",
        "location": core + "location",
    }
    graph = rdflib.Graph()
    graph.parse(data=json.dumps(entity), format="json-ld")
    subject = rdflib.URIRef(RECORD["id"])
    types = set(graph.objects(subject, rdflib.RDF.type))
    assert (
        rdflib.URIRef("https://smartdatamodels.org/dataModel.Transportation/BusLocation") in types
    )
    relation = next(graph.objects(subject, rdflib.URIRef(core + "location")))
    assert (relation, rdflib.RDF.type, rdflib.URIRef(core + "GeoProperty")) in graph
    route = next(
        graph.objects(
            subject, rdflib.URIRef("https://smartdatamodels.org/dataModel.Transportation/refRoute")
        )
    )
    assert (route, rdflib.URIRef(core + "hasObject"), rdflib.URIRef(RECORD["refRoute"])) in graph
