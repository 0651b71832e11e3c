"""Attacks on the embedded registry's writes: anyone may read, only an admin key may write.

Every write route is tried anonymously, with a key that lacks the ``registry:write``
grant, with one whose grant covers other subjects and with a revoked admin key; each is
refused in Confluent's error format and leaves the registry as it was. A stock
confluent-kafka client with the admin key as Basic credentials writes; one without any
credential still reads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from hub.access import AccessControl, AuditLog, Grant, KeyStore
from hub.metrics import REGISTRY
from hub.registry import (
    CompatibilityLevel,
    RegistryClient,
    RegistryResponseError,
    RegistryStore,
    create_registry_app,
)
from hub.registry.auth import INTERNAL_USER, RegistryWriters
from hub.registry.server import CONTENT_TYPE

from .conftest import VEHICLE_POSITION, record, serve, sqlite_engine

with warnings.catch_warnings():
    # confluent-kafka's OAuth support imports authlib's httpx integration, which warns
    # about its own deprecation at import time; nothing here uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

SUBJECT = "kaga.mobility.vehicle-positions.v1-value"
UNRELATED = record({"name": "x", "type": "int"}, name="Unrelated")

# (method, path under /registry, JSON body): every route that changes the registry.
WRITES = [
    ("POST", f"/subjects/{SUBJECT}/versions", {"schema": UNRELATED}),
    ("POST", "/subjects/brand-new-value/versions", {"schema": UNRELATED}),
    ("DELETE", f"/subjects/{SUBJECT}", None),
    ("DELETE", f"/subjects/{SUBJECT}?permanent=true", None),
    ("DELETE", f"/subjects/{SUBJECT}/versions/1", None),
    ("DELETE", f"/subjects/{SUBJECT}/versions/latest?permanent=true", None),
    ("PUT", "/config", {"compatibility": "NONE"}),
    ("PUT", f"/config/{SUBJECT}", {"compatibility": "NONE"}),
    ("DELETE", "/config", None),
    ("DELETE", f"/config/{SUBJECT}", None),
]
WRITE_IDS = [f"{method} {path}" for method, path, _ in WRITES]


@dataclass
class Registry:
    """The embedded registry on a real port, its store and the keys in the same database."""

    url: str
    store: RegistryStore
    keys: KeyStore
    runner: web.AppRunner


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    engine = await sqlite_engine(tmp_path / "runtime.db")
    store = RegistryStore(engine)
    # Something to attack: a subject with its own level, on a global level not the default.
    await store.register(SUBJECT, VEHICLE_POSITION)
    await store.set_level("FULL", SUBJECT)
    await store.set_level("FORWARD")
    root = web.Application()
    root.add_subapp("/registry", create_registry_app(store))
    runner, url = await serve(root)
    yield Registry(f"{url}/registry", store, KeyStore(engine), runner)
    await runner.cleanup()
    await engine.dispose()


async def snapshot(store: RegistryStore) -> object:
    """Everything a write could change."""
    return (
        await store.subjects(deleted=True),
        await store.versions(SUBJECT, deleted=True),
        (await store.get_version(SUBJECT, 1, deleted=True)).deleted,
        await store.get_level(),
        await store.get_level(SUBJECT),
    )


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def as_basic(plaintext: str) -> dict[str, str]:
    """The key as Confluent's basic.auth.user.info sends it: key id as user, secret as password."""
    key_id, _, secret = plaintext.partition(".")
    return basic(key_id, secret)


async def send(
    url: str, method: str, path: str, body: object, headers: dict[str, str]
) -> tuple[int, str, dict[str, object]]:
    data = None if body is None else json.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            url + path,
            data=data,
            headers={"Content-Type": CONTENT_TYPE, **headers},
        ) as response,
    ):
        return response.status, response.content_type, await response.json(content_type=None)


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_anonymous_writes_are_refused_and_change_nothing(
    registry: Registry, method: str, path: str, body: object
) -> None:
    before = await snapshot(registry.store)
    status, content_type, answer = await send(registry.url, method, path, body, {})
    assert status == 401
    assert content_type == CONTENT_TYPE
    assert answer["error_code"] == 40101
    assert "API key" in str(answer["message"])
    assert await snapshot(registry.store) == before
    assert await registry.store.subjects(deleted=True) == [SUBJECT]


@pytest.mark.parametrize(
    "headers",
    [
        basic("tk_0123456789abcdef", "not-the-secret"),
        basic("someone", "password"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer tk_0123456789abcdef.guess"},
        {"X-API-Key": "guess"},
        basic(INTERNAL_USER, ""),
    ],
    ids=["wrong-secret", "not-a-key", "bad-base64", "bearer-guess", "header-guess", "internal"],
)
async def test_invalid_credentials_are_refused(registry: Registry, headers: dict[str, str]) -> None:
    before = await snapshot(registry.store)
    for method, path, body in WRITES:
        status, _, answer = await send(registry.url, method, path, body, headers)
        assert (status, answer["error_code"]) == (401, 40101), (method, path)
    assert await snapshot(registry.store) == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=WRITE_IDS)
async def test_a_key_without_the_admin_grant_is_forbidden(
    registry: Registry, method: str, path: str, body: object
) -> None:
    reader = await registry.keys.create(
        "reader", grants=(Grant("*", "read"), Grant("*", "publish"))
    )
    before = await snapshot(registry.store)
    status, content_type, answer = await send(
        registry.url, method, path, body, as_basic(reader.plaintext)
    )
    assert (status, content_type, answer["error_code"]) == (403, CONTENT_TYPE, 40301)
    assert "registry:write" in str(answer["message"])
    assert await snapshot(registry.store) == before


async def test_an_admin_grant_on_other_subjects_does_not_reach_this_one(
    registry: Registry,
) -> None:
    other = await registry.keys.create("osaka admin", grants=(Grant("osaka.*", "registry:write"),))
    before = await snapshot(registry.store)
    for method, path, body in WRITES:
        if "brand-new" in path:
            continue
        status, _, answer = await send(
            registry.url, method, path, body, {"Authorization": f"Bearer {other.plaintext}"}
        )
        assert (status, answer["error_code"]) == (403, 40301), (method, path)
    assert await snapshot(registry.store) == before
    # The global level needs a grant on every subject ("*"), not on some of them.
    status, _, answer = await send(
        registry.url, "PUT", "/config", {"compatibility": "NONE"}, {"X-API-Key": other.plaintext}
    )
    assert (status, answer["error_code"]) == (403, 40301)
    # What the grant does cover, it may change.
    status, _, answer = await send(
        registry.url,
        "POST",
        "/subjects/osaka.mobility.x.v1-value/versions",
        {"schema": UNRELATED},
        {"X-API-Key": other.plaintext},
    )
    assert status == 200, answer


async def test_a_grant_on_a_topic_name_covers_its_value_subject(registry: Registry) -> None:
    topic = SUBJECT.removesuffix("-value")
    admin = await registry.keys.create("kaga admin", grants=(Grant(topic, "registry:write"),))
    status, _, answer = await send(
        registry.url,
        "PUT",
        f"/config/{SUBJECT}",
        {"compatibility": "NONE"},
        as_basic(admin.plaintext),
    )
    assert (status, answer) == (200, {"compatibility": "NONE"})


def _confluent_writes(url: str, user_info: str) -> tuple[int, str, list[int]]:
    conf = {"url": url, "basic.auth.user.info": user_info}
    with SchemaRegistryClient(conf) as client:
        client.set_compatibility(subject_name=SUBJECT, level="NONE")
        schema_id = client.register_schema(SUBJECT, Schema(UNRELATED, "AVRO"))
        level = client.get_compatibility(SUBJECT)
        deleted = client.delete_subject(SUBJECT)
        return schema_id, level, deleted


async def test_a_stock_confluent_client_with_the_admin_key_writes(registry: Registry) -> None:
    admin = await registry.keys.create("ops", grants=(Grant("*", "registry:write"),))
    key_id, _, secret = admin.plaintext.partition(".")
    schema_id, level, deleted = await asyncio.to_thread(
        _confluent_writes, registry.url, f"{key_id}:{secret}"
    )
    assert level == "NONE"
    assert deleted == [1, 2]
    assert await registry.store.subjects() == []
    assert (await registry.store.get_version(SUBJECT, 2, deleted=True)).schema_id == schema_id


def _confluent_register(url: str, user_info: str) -> SchemaRegistryError:
    with SchemaRegistryClient({"url": url, "basic.auth.user.info": user_info}) as client:
        try:
            client.register_schema(SUBJECT, Schema(UNRELATED, "AVRO"))
        except SchemaRegistryError as exc:
            return exc
    raise AssertionError("the revoked key registered a schema")


async def test_a_revoked_admin_key_is_refused(registry: Registry) -> None:
    admin = await registry.keys.create("ops", grants=(Grant("*", "registry:write"),))
    key_id, _, secret = admin.plaintext.partition(".")
    await registry.keys.revoke(key_id)
    before = await snapshot(registry.store)
    error = await asyncio.to_thread(_confluent_register, registry.url, f"{key_id}:{secret}")
    assert (error.http_status_code, error.error_code) == (401, 40101)
    assert "revoked" in error.error_message
    assert await snapshot(registry.store) == before


def _confluent_reads(url: str) -> tuple[int, int, bool, str]:
    with SchemaRegistryClient({"url": url}) as client:
        latest = client.get_latest_version(SUBJECT)
        found = client.lookup_schema(SUBJECT, Schema(VEHICLE_POSITION, "AVRO"))
        compatible = client.test_compatibility(SUBJECT, Schema(VEHICLE_POSITION, "AVRO"))
        return latest.version, found.schema_id, compatible, client.get_compatibility()


async def test_reads_stay_anonymous(registry: Registry) -> None:
    version, schema_id, compatible, level = await asyncio.to_thread(_confluent_reads, registry.url)
    registered = await registry.store.get_version(SUBJECT, "latest")
    assert (version, schema_id, compatible, level) == (1, registered.schema_id, True, "FORWARD")


def refused(status: str) -> float:
    value = REGISTRY.get_sample_value("tsunagu_registry_writes_refused_total", {"status": status})
    return value or 0.0


async def test_writes_and_refusals_are_audited_and_counted(registry: Registry) -> None:
    admin = await registry.keys.create("ops", grants=(Grant("*", "registry:write"),))
    before = refused("401")
    await send(registry.url, "DELETE", f"/config/{SUBJECT}", None, {})
    assert refused("401") == before + 1
    await send(registry.url, "DELETE", f"/config/{SUBJECT}", None, as_basic(admin.plaintext))
    await registry.runner.cleanup()  # flushes the audit entries waiting
    entries = await AuditLog(registry.store.engine).tail(10)
    assert [(e.key_id, e.action, e.topic, e.outcome) for e in entries] == [
        ("anonymous", "registry-write", SUBJECT, "401"),
        (admin.info.key_id, "registry-write", SUBJECT, "ok"),
    ]
    assert entries[1].detail == f"DELETE /registry/config/{SUBJECT}"


async def test_the_hub_writes_with_its_internal_credential(tmp_path: Path) -> None:
    engine = await sqlite_engine(tmp_path / "runtime.db")
    store = RegistryStore(engine)
    access = AccessControl(engine)
    root = web.Application()
    writers = RegistryWriters(access, internal_secret="s3cret-made-at-start")
    root.add_subapp("/registry", create_registry_app(store, writers))
    runner, url = await serve(root)
    try:
        async with RegistryClient(
            f"{url}/registry", auth=(INTERNAL_USER, "s3cret-made-at-start")
        ) as hub:
            schema_id = await hub.register(SUBJECT, VEHICLE_POSITION)
            assert await hub.set_compatibility("NONE") is CompatibilityLevel.NONE
        async with RegistryClient(f"{url}/registry", auth=(INTERNAL_USER, "guess")) as guesser:
            with pytest.raises(RegistryResponseError) as refused:
                await guesser.register(SUBJECT, UNRELATED)
            assert (refused.value.status, refused.value.error_code) == (401, 40101)
            # A schema already registered is found by a read, so a part without write
            # credentials (an `ingest` process beside the hub) still gets its id.
            assert await guesser.register(SUBJECT, VEHICLE_POSITION) == schema_id
    finally:
        await runner.cleanup()
        await access.close()
        await engine.dispose()
