"""The gateway's OpenAPI document is a valid OpenAPI 3.1 document, and the real answers of a
running hub (successes and problems) validate against it, for every path it lists."""

from __future__ import annotations

import re

import aiohttp
import orjson
import pytest
from openapi_core.validation.response.exceptions import InvalidData

from tests.gateway_docs.openapi_check import Validator, load_spec
from tests.gateway_docs.running_hub import RunningHub


def position(i: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Vehicle:town:http-{i}", "latitude": 36.3, "longitude": 136.3}


async def test_real_responses_validate_against_the_openapi_document(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session:
        document = await hub.get_json(session, "/openapi.json")
        assert document["openapi"].startswith("3.1")
        assert document["servers"][0]["url"] == hub.base
        check = Validator(load_spec(document))  # validates the document itself
        base, topic = hub.base, hub.positions
        json_body = {"Content-Type": "application/json"}
        key = {"X-API-Key": hub.key, **json_body}

        for path in (
            "/v1/catalog",
            "/catalog.jsonld",
            "/asyncapi.json",
            "/openapi.json",
            "/v1/feeds",
            "/v1/status",
            "/status",
            "/v1/info",
            "/healthz",
            "/readyz",
            "/metrics",
        ):
            status, _ = await check.call(session, "GET", base + path)
            assert status == 200, path

        records = f"{base}/v1/topics/{topic}/records"
        body = orjson.dumps([position(1), position(2)])
        assert (await check.call(session, "POST", records, body=body, headers=key))[0] == 200
        bad = orjson.dumps([position(3), {"id": "x", "latitude": "north"}])
        status, answer = await check.call(session, "POST", records, body=bad, headers=key)
        assert status == 422
        assert orjson.loads(answer)["errors"][0]["index"] == 1
        assert (await check.call(session, "POST", records, body=b"[", headers=key))[0] == 400
        assert (await check.call(session, "POST", records, body=body, headers=json_body))[0] == 401
        unknown = f"{base}/v1/topics/town.mobility.nothing.v1/records"
        assert (await check.call(session, "POST", unknown, body=body, headers=key))[0] == 404

        latest = f"{base}/v1/topics/{topic}/latest"
        status, answer = await check.call(session, "GET", latest)
        assert status == 200
        assert orjson.loads(answer)["topic"] == topic
        one = f"{latest}?id=urn:ngsi-ld:Vehicle:town:http-1"
        status, answer = await check.call(session, "GET", one)
        assert status == 200
        assert orjson.loads(answer)["latitude"] == 36.3
        assert (await check.call(session, "GET", f"{latest}?id=nobody"))[0] == 404
        assert (await check.call(session, "GET", f"{latest}?limit=many"))[0] == 400
        sensors = f"{base}/v1/topics/{hub.sensors}/latest"
        assert (await check.call(session, "GET", sensors))[0] == 401  # granted topic, no key

        stream = f"{base}/v1/topics/{topic}/stream"
        assert (await check.call(session, "GET", f"{stream}?bbox=1,2,3"))[0] == 400
        status, first = await check.call(session, "GET", f"{stream}?start=earliest", read=False)
        assert status == 200
        assert first.startswith(b":")  # an SSE comment opens the stream

        # Every path the document lists was exercised above.
        exercised = {path for _, path, _ in check.seen}
        for template in document["paths"]:
            pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            assert any(pattern.match(p) for p in exercised), f"{template} not exercised"


async def test_an_answer_that_breaks_the_document_fails_validation(hub: RunningHub) -> None:
    async with aiohttp.ClientSession() as session:
        document = await hub.get_json(session, "/openapi.json")
        catalog = await hub.get_json(session, "/v1/catalog")
    check = Validator(load_spec(document))
    url = f"{hub.base}/v1/catalog"
    check.check("GET", url, 200, "application/json", orjson.dumps(catalog))
    del catalog["topics"][0]["freshness_seconds"]
    with pytest.raises(InvalidData):
        check.check("GET", url, 200, "application/json", orjson.dumps(catalog))
