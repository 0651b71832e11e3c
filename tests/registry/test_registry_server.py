"""The registry's Confluent REST API over real HTTP on 127.0.0.1, every error code included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.db import make_engine
from hub.registry import RegistryStore

from .conftest import VEHICLE_POSITION, hub_registry_app, record, serve, with_credentials

V1_CT = "application/vnd.schemaregistry.v1+json"
WITH_HEADING = record(
    *json.loads(VEHICLE_POSITION)["fields"],
    {"name": "heading", "type": ["null", "double"], "default": None},
)
WITH_REQUIRED_OPERATOR = record(
    *json.loads(VEHICLE_POSITION)["fields"], {"name": "operator", "type": "string"}
)


class Http:
    """Raw HTTP against the registry, returning (status, JSON body)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        content_type: str = V1_CT,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            assert response.content_type == V1_CT, await response.text()
            return response.status, await response.json(content_type=None)

    async def register(self, subject: str, schema: str) -> tuple[int, Any]:
        return await self.call("POST", f"/subjects/{subject}/versions", {"schema": schema})


@pytest.fixture
async def http(registry_url: str) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, registry_url)


def assert_error(reply: tuple[int, Any], status: int, code: int) -> str:
    """Check a Confluent error reply; return its message."""
    got_status, body = reply
    assert (got_status, body.get("error_code")) == (status, code), body
    assert set(body) == {"error_code", "message"}
    assert isinstance(body["message"], str)
    assert body["message"]
    return str(body["message"])


async def test_register_and_read_back(http: Http) -> None:
    assert await http.register("kaga.vehicles-value", VEHICLE_POSITION) == (200, {"id": 1})
    assert await http.register("kaga.vehicles-value", VEHICLE_POSITION) == (200, {"id": 1})
    assert await http.register("kaga.vehicles-value", WITH_HEADING) == (200, {"id": 2})
    assert await http.register("other-value", VEHICLE_POSITION) == (200, {"id": 1})
    assert await http.call("GET", "/schemas/ids/1") == (200, {"schema": VEHICLE_POSITION})
    assert await http.call("GET", "/subjects") == (200, ["kaga.vehicles-value", "other-value"])
    assert await http.call("GET", "/subjects/kaga.vehicles-value/versions") == (200, [1, 2])
    latest = {"subject": "kaga.vehicles-value", "version": 2, "id": 2, "schema": WITH_HEADING}
    assert await http.call("GET", "/subjects/kaga.vehicles-value/versions/latest") == (200, latest)
    assert await http.call("GET", "/subjects/kaga.vehicles-value/versions/-1") == (200, latest)
    status, first = await http.call("GET", "/subjects/kaga.vehicles-value/versions/1")
    assert (status, first["id"], first["schema"]) == (200, 1, VEHICLE_POSITION)
    assert await http.call("GET", "/schemas/ids/1/versions") == (
        200,
        [
            {"subject": "kaga.vehicles-value", "version": 1},
            {"subject": "other-value", "version": 1},
        ],
    )
    assert await http.call("GET", "/schemas/ids/1/subjects") == (
        200,
        ["kaga.vehicles-value", "other-value"],
    )
    assert await http.call("GET", "/schemas/types") == (200, ["AVRO"])


async def test_lookup(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    status, body = await http.call(
        "POST", "/subjects/s", {"schema": json.dumps(json.loads(VEHICLE_POSITION))}
    )
    assert status == 200
    assert body == {"subject": "s", "id": 1, "version": 1, "schema": VEHICLE_POSITION}
    assert_error(await http.call("POST", "/subjects/s", {"schema": WITH_HEADING}), 404, 40403)
    assert_error(await http.call("POST", "/subjects/nope", {"schema": WITH_HEADING}), 404, 40401)


async def test_raw_schema_endpoint(http: Http, registry_url: str) -> None:
    await http.register("s", VEHICLE_POSITION)
    async with http.session.get(f"{registry_url}/subjects/s/versions/1/schema") as response:
        assert response.status == 200
        assert json.loads(await response.text()) == json.loads(VEHICLE_POSITION)


async def test_not_found_codes(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    assert_error(await http.call("GET", "/subjects/nope/versions"), 404, 40401)
    assert_error(await http.call("GET", "/subjects/nope/versions/1"), 404, 40401)
    assert_error(await http.call("GET", "/subjects/s/versions/7"), 404, 40402)
    assert "Version 7" in assert_error(await http.call("GET", "/subjects/s/versions/7"), 404, 40402)
    assert_error(await http.call("GET", "/schemas/ids/99"), 404, 40403)
    assert_error(await http.call("GET", "/schemas/ids/99/versions"), 404, 40403)
    assert_error(await http.call("GET", "/no/such/route"), 404, 404)
    assert_error(await http.call("PATCH", "/subjects"), 405, 405)


@pytest.mark.parametrize("version", ["abc", "0", "-2", "2147483648", "1.5"])
async def test_invalid_version_is_42202(http: Http, version: str) -> None:
    await http.register("s", VEHICLE_POSITION)
    assert_error(await http.call("GET", f"/subjects/s/versions/{version}"), 422, 42202)
    assert_error(await http.call("DELETE", f"/subjects/s/versions/{version}"), 422, 42202)


async def test_incompatible_is_409_naming_the_reasons(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    message = assert_error(await http.register("s", WITH_REQUIRED_OPERATOR), 409, 409)
    assert "incompatible" in message
    assert "BACKWARD_TRANSITIVE" in message
    assert "field 'operator'" in message


@pytest.mark.parametrize(
    "schema",
    [
        '{"type": "record", "name": "X"}',
        "{not json",
        "",
        '"nosuchtype"',
        '{"type": "enum", "name": "E"}',
    ],
)
async def test_invalid_schema_is_42201(http: Http, schema: str) -> None:
    assert_error(await http.register("s", schema), 422, 42201)


async def test_unsupported_schema_features_are_42201(http: Http) -> None:
    for extra in (
        {"schemaType": "PROTOBUF"},
        {"schemaType": "JSON"},
        {"references": [{"name": "x", "subject": "y", "version": 1}]},
        {"metadata": {"properties": {"owner": "kaga"}}},
    ):
        message = assert_error(
            await http.call("POST", "/subjects/s/versions", {"schema": VEHICLE_POSITION, **extra}),
            422,
            42201,
        )
        assert "not supported" in message
    # What Confluent's own clients send by default is fine.
    ok = {"schema": VEHICLE_POSITION, "schemaType": "AVRO", "references": []}
    assert await http.call("POST", "/subjects/s/versions", ok) == (200, {"id": 1})


async def test_bad_bodies(http: Http) -> None:
    message = assert_error(
        await http.call("POST", "/subjects/s/versions", raw=b'{"schema": '), 422, 422
    )
    assert "JSON" in message
    assert_error(await http.call("POST", "/subjects/s/versions", ["not", "an", "object"]), 422, 422)
    assert_error(await http.call("POST", "/subjects/s/versions", {"schema": 42}), 422, 422)
    assert_error(
        await http.call("POST", "/subjects/s/versions", {"schama": VEHICLE_POSITION}), 422, 422
    )
    assert_error(
        await http.call(
            "POST",
            "/subjects/s/versions",
            raw=json.dumps({"schema": VEHICLE_POSITION}).encode(),
            content_type="text/plain",
        ),
        415,
        415,
    )


@pytest.mark.parametrize(
    "content_type",
    [V1_CT, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream"],
)
async def test_accepted_body_types(http: Http, content_type: str) -> None:
    body = json.dumps({"schema": VEHICLE_POSITION}).encode()
    reply = await http.call("POST", "/subjects/s/versions", raw=body, content_type=content_type)
    assert reply == (200, {"id": 1})


async def test_compatibility_endpoint(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    await http.register("s", WITH_HEADING)
    path = "/compatibility/subjects/s/versions"
    assert await http.call("POST", f"{path}/latest", {"schema": WITH_HEADING}) == (
        200,
        {"is_compatible": True},
    )
    status, body = await http.call(
        "POST", f"{path}/latest?verbose=true", {"schema": WITH_REQUIRED_OPERATOR}
    )
    assert (status, body["is_compatible"]) == (200, False)
    (message,) = body["messages"]
    assert "version 2" in message
    assert "field 'operator'" in message
    status, body = await http.call(
        "POST", f"{path}?verbose=true", {"schema": WITH_REQUIRED_OPERATOR}
    )
    assert (status, body["is_compatible"], len(body["messages"])) == (200, False, 2)
    assert await http.call("POST", f"{path}/1?verbose=true", {"schema": WITH_HEADING}) == (
        200,
        {"is_compatible": True, "messages": []},
    )
    assert await http.call(
        "POST", "/compatibility/subjects/new/versions", {"schema": VEHICLE_POSITION}
    ) == (
        200,
        {"is_compatible": True},
    )
    assert_error(
        await http.call(
            "POST", "/compatibility/subjects/new/versions/latest", {"schema": VEHICLE_POSITION}
        ),
        404,
        40401,
    )
    assert_error(await http.call("POST", f"{path}/9", {"schema": VEHICLE_POSITION}), 404, 40402)
    assert_error(await http.call("POST", f"{path}/nine", {"schema": VEHICLE_POSITION}), 422, 42202)
    assert_error(await http.call("POST", f"{path}/latest", {"schema": "{bad"}), 422, 42201)


async def test_config(http: Http) -> None:
    assert await http.call("GET", "/config") == (200, {"compatibilityLevel": "BACKWARD_TRANSITIVE"})
    assert await http.call("PUT", "/config", {"compatibility": "FULL"}) == (
        200,
        {"compatibility": "FULL"},
    )
    assert await http.call("GET", "/config") == (200, {"compatibilityLevel": "FULL"})
    assert_error(await http.call("GET", "/config/s"), 404, 40408)
    assert await http.call("GET", "/config/s?defaultToGlobal=true") == (
        200,
        {"compatibilityLevel": "FULL"},
    )
    assert await http.call("PUT", "/config/s", {"compatibility": "none"}) == (
        200,
        {"compatibility": "NONE"},
    )
    assert await http.call("GET", "/config/s") == (200, {"compatibilityLevel": "NONE"})
    assert_error(await http.call("PUT", "/config/s", {"compatibility": "SIDEWAYS"}), 422, 42203)
    assert_error(await http.call("PUT", "/config", {"compatibility": 3}), 422, 42203)
    assert_error(await http.call("PUT", "/config", {}), 422, 42203)
    assert await http.call("DELETE", "/config/s") == (200, {"compatibilityLevel": "NONE"})
    assert await http.call("DELETE", "/config") == (200, {"compatibilityLevel": "FULL"})
    assert await http.call("GET", "/config") == (200, {"compatibilityLevel": "BACKWARD_TRANSITIVE"})


async def test_subject_level_applies_to_registration(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    await http.call("PUT", "/config/s", {"compatibility": "NONE"})
    assert await http.register("s", WITH_REQUIRED_OPERATOR) == (200, {"id": 2})


async def test_deletes(http: Http) -> None:
    await http.register("s", VEHICLE_POSITION)
    await http.register("s", WITH_HEADING)
    assert await http.call("DELETE", "/subjects/s/versions/2") == (200, 2)
    assert_error(await http.call("DELETE", "/subjects/s/versions/2"), 404, 40406)
    assert_error(await http.call("DELETE", "/subjects/s/versions/1?permanent=true"), 404, 40407)
    assert_error(await http.call("GET", "/subjects/s/versions/2"), 404, 40402)
    status, body = await http.call("GET", "/subjects/s/versions/2?deleted=true")
    assert (status, body["version"]) == (200, 2)
    assert await http.call("GET", "/subjects/s/versions?deleted=true") == (200, [1, 2])
    assert_error(await http.call("DELETE", "/subjects/s?permanent=true"), 404, 40405)
    assert await http.call("DELETE", "/subjects/s") == (200, [1])
    assert_error(await http.call("DELETE", "/subjects/s"), 404, 40404)
    assert await http.call("GET", "/subjects") == (200, [])
    assert await http.call("GET", "/subjects?deleted=true") == (200, ["s"])
    assert await http.call("DELETE", "/subjects/s?permanent=true") == (200, [1, 2])
    assert_error(await http.call("DELETE", "/subjects/s"), 404, 40401)
    # Schema ids are never reused, so the text stays readable.
    assert await http.call("GET", "/schemas/ids/2") == (200, {"schema": WITH_HEADING})


async def test_store_failure_is_50001(tmp_path: Path) -> None:
    # A real database without the registry's tables: every query fails in the store.
    engine = make_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")
    root = web.Application()
    root.add_subapp("/registry", hub_registry_app(RegistryStore(engine)))
    runner, url = await serve(root)
    try:
        async with aiohttp.ClientSession() as session:
            http = Http(session, with_credentials(f"{url}/registry"))
            message = assert_error(await http.register("s", VEHICLE_POSITION), 500, 50001)
            assert "backend data store" in message
            assert_error(await http.call("GET", "/subjects"), 500, 50001)
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_root_answers(http: Http) -> None:
    assert await http.call("GET", "/") == (200, {})
