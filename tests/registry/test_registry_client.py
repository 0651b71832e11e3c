"""RegistryClient against the embedded registry served over real HTTP, and its failure modes."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from hub.errors import IncompatibleSchemaError, RegistryError, RegistryUnavailableError
from hub.registry import (
    CompatibilityLevel,
    RegistryClient,
    RegistryResponseError,
    RegistryStore,
)

from .conftest import HUB_AUTH, VEHICLE_POSITION, hub_registry_app, record, serve

L = CompatibilityLevel
WITH_HEADING = record(
    *json.loads(VEHICLE_POSITION)["fields"],
    {"name": "heading", "type": ["null", "double"], "default": None},
)
WITH_REQUIRED_OPERATOR = record(
    *json.loads(VEHICLE_POSITION)["fields"], {"name": "operator", "type": "string"}
)


@pytest.fixture
async def client(registry_url: str) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(registry_url) as registry:
        yield registry


async def test_register_lookup_get(client: RegistryClient) -> None:
    schema_id = await client.register("kaga.vehicles-value", VEHICLE_POSITION)
    assert await client.register("kaga.vehicles-value", VEHICLE_POSITION) == schema_id
    assert await client.lookup("kaga.vehicles-value", VEHICLE_POSITION) == schema_id
    assert await client.lookup("kaga.vehicles-value", WITH_HEADING) is None
    assert await client.lookup("nope", VEHICLE_POSITION) is None
    assert await client.get_schema(schema_id) == VEHICLE_POSITION
    assert await client.subjects() == ["kaga.vehicles-value"]


async def test_latest(client: RegistryClient) -> None:
    assert await client.latest("s") is None
    first = await client.register("s", VEHICLE_POSITION)
    assert await client.latest("s") == (first, 1, VEHICLE_POSITION)
    second = await client.register("s", WITH_HEADING)
    assert await client.latest("s") == (second, 2, WITH_HEADING)


async def test_get_schema_is_cached(registry_url: str, sqlite_store: RegistryStore) -> None:
    async with RegistryClient(registry_url) as client:
        schema_id = await client.register("s", VEHICLE_POSITION)
        assert await client.get_schema(schema_id) == VEHICLE_POSITION
        # Erase the subject entirely; a fresh client still reads the id (ids are immutable),
        # and the cached text is what this one returns without asking.
        await sqlite_store.delete_subject("s")
        await sqlite_store.delete_subject("s", permanent=True)
        assert await client.get_schema(schema_id) == VEHICLE_POSITION
    async with RegistryClient(registry_url) as fresh:
        with pytest.raises(RegistryResponseError) as caught:
            await fresh.get_schema(schema_id + 1)
        assert (caught.value.status, caught.value.error_code) == (404, 40403)


async def test_incompatible_registration(client: RegistryClient) -> None:
    await client.register("s", VEHICLE_POSITION)
    with pytest.raises(IncompatibleSchemaError) as caught:
        await client.register("s", WITH_REQUIRED_OPERATOR)
    assert caught.value.subject == "s"
    assert caught.value.level == "BACKWARD_TRANSITIVE"
    (reason,) = caught.value.reasons
    assert "field 'operator'" in reason
    assert "version 1" in reason


async def test_check_compatibility(client: RegistryClient) -> None:
    assert await client.check_compatibility("absent", WITH_REQUIRED_OPERATOR) == []
    assert await client.check_compatibility("absent", WITH_REQUIRED_OPERATOR, None) == []
    await client.register("s", VEHICLE_POSITION)
    await client.register("s", WITH_HEADING)
    assert await client.check_compatibility("s", WITH_HEADING) == []
    (reason,) = await client.check_compatibility("s", WITH_REQUIRED_OPERATOR)
    assert "version 2" in reason
    assert len(await client.check_compatibility("s", WITH_REQUIRED_OPERATOR, None)) == 2
    (reason,) = await client.check_compatibility("s", WITH_REQUIRED_OPERATOR, 1)
    assert "version 1" in reason
    with pytest.raises(RegistryResponseError) as caught:
        await client.check_compatibility("s", WITH_HEADING, 9)
    assert caught.value.error_code == 40402
    with pytest.raises(RegistryResponseError) as caught:
        await client.check_compatibility("s", "{bad")
    assert caught.value.error_code == 42201


async def test_compatibility_config(client: RegistryClient) -> None:
    assert await client.get_compatibility() is L.BACKWARD_TRANSITIVE
    assert await client.get_compatibility("s") is L.BACKWARD_TRANSITIVE
    assert await client.set_compatibility("full") is L.FULL
    assert await client.set_compatibility(L.NONE, "s") is L.NONE
    assert await client.get_compatibility("s") is L.NONE
    assert await client.get_compatibility("t") is L.FULL
    assert await client.get_compatibility() is L.FULL
    with pytest.raises(RegistryResponseError) as caught:
        await client.set_compatibility("SIDEWAYS")
    assert (caught.value.status, caught.value.error_code) == (422, 42203)
    assert not caught.value.retriable


async def test_registry_errors_keep_code_and_message(client: RegistryClient) -> None:
    with pytest.raises(RegistryError) as caught:
        await client.register("s", '{"type": "record"}')
    assert isinstance(caught.value, RegistryResponseError)
    assert (caught.value.status, caught.value.error_code) == (422, 42201)
    assert caught.value.message.startswith("Invalid schema")


async def test_subject_names_are_escaped(client: RegistryClient) -> None:
    subject = "kaga/odd name?#%"
    schema_id = await client.register(subject, VEHICLE_POSITION)
    assert await client.lookup(subject, VEHICLE_POSITION) == schema_id
    assert await client.subjects() == [subject]
    assert await client.latest(subject) == (schema_id, 1, VEHICLE_POSITION)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_registry() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/registry"
    async with RegistryClient(url) as client:
        with pytest.raises(RegistryUnavailableError) as caught:
            await client.subjects()
    assert caught.value.retriable
    assert caught.value.url == url


async def test_registry_that_never_answers_times_out() -> None:
    never = asyncio.Event()

    async def stall(_request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_get("/registry/subjects", stall)
    runner, url = await serve(app)
    try:
        async with RegistryClient(f"{url}/registry", timeout=0.2) as client:
            with pytest.raises(RegistryUnavailableError, match="unreachable"):
                await client.subjects()
    finally:
        never.set()
        await runner.cleanup()


async def test_non_registry_answers() -> None:
    async def proxy_error(_request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")

    async def not_json(_request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/a/subjects", proxy_error)
    app.router.add_get("/b/subjects", not_json)
    runner, url = await serve(app)
    try:
        async with RegistryClient(f"{url}/a") as client:
            with pytest.raises(RegistryResponseError) as caught:
                await client.subjects()
            assert (caught.value.status, caught.value.error_code) == (502, 502)
            assert caught.value.retriable
            assert "Bad Gateway" in caught.value.message
        async with RegistryClient(f"{url}/b") as client:
            with pytest.raises(RegistryResponseError, match="not JSON"):
                await client.subjects()
    finally:
        await runner.cleanup()


async def test_basic_auth_and_shared_session(sqlite_store: RegistryStore) -> None:
    expected = "Basic " + base64.b64encode(f"{HUB_AUTH[0]}:{HUB_AUTH[1]}".encode()).decode()

    @web.middleware
    async def require_auth(request: web.Request, handler: object) -> web.StreamResponse:
        if request.headers.get("Authorization") != expected:
            return web.json_response({"error_code": 401, "message": "Unauthorized"}, status=401)
        assert callable(handler)
        response: web.StreamResponse = await handler(request)
        return response

    root = web.Application(middlewares=[require_auth])
    root.add_subapp("/registry", hub_registry_app(sqlite_store))
    runner, url = await serve(root)
    try:
        async with aiohttp.ClientSession() as session:
            anonymous = RegistryClient(f"{url}/registry", session=session)
            with pytest.raises(RegistryResponseError) as caught:
                await anonymous.subjects()
            assert (caught.value.status, caught.value.error_code) == (401, 401)
            await anonymous.close()
            assert not session.closed  # a given session belongs to its owner
            async with RegistryClient(f"{url}/registry", session=session, auth=HUB_AUTH) as client:
                assert await client.register("s", VEHICLE_POSITION) == 1
            assert not session.closed
    finally:
        await runner.cleanup()
