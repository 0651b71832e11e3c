"""The registry store on SQLite and PostgreSQL: ids, versions, deletes, config, concurrency."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hub.db import make_engine
from hub.errors import IncompatibleSchemaError
from hub.registry import CompatibilityLevel, RegistryResponseError, RegistryStore
from tests.pg import PgSchema

from .conftest import VEHICLE_POSITION, record, sqlite_engine

L = CompatibilityLevel

WITH_HEADING = record(
    *json.loads(VEHICLE_POSITION)["fields"],
    {"name": "heading", "type": ["null", "double"], "default": None},
)
WITH_REQUIRED_OPERATOR = record(
    *json.loads(VEHICLE_POSITION)["fields"], {"name": "operator", "type": "string"}
)


def code_of(exc: pytest.ExceptionInfo[RegistryResponseError]) -> int:
    return exc.value.error_code


async def test_register_returns_id_and_version(any_store: RegistryStore) -> None:
    first = await any_store.register("kaga.vehicles-value", VEHICLE_POSITION)
    second = await any_store.register("kaga.vehicles-value", WITH_HEADING)
    assert (first.version, second.version) == (1, 2)
    assert first.schema_id != second.schema_id
    assert first.schema == VEHICLE_POSITION
    assert await any_store.versions("kaga.vehicles-value") == [1, 2]
    assert await any_store.subjects() == ["kaga.vehicles-value"]


async def test_registering_the_same_schema_again_adds_no_version(any_store: RegistryStore) -> None:
    first = await any_store.register("s", VEHICLE_POSITION)
    again = await any_store.register("s", VEHICLE_POSITION)
    assert again == first
    assert await any_store.versions("s") == [1]


async def test_whitespace_and_key_order_do_not_make_a_new_schema(any_store: RegistryStore) -> None:
    first = await any_store.register("s", VEHICLE_POSITION)
    parsed = json.loads(VEHICLE_POSITION)
    reordered = json.dumps(dict(reversed(list(parsed.items()))), indent=4)
    assert reordered != VEHICLE_POSITION
    again = await any_store.register("s", reordered)
    assert (again.schema_id, again.version) == (first.schema_id, 1)
    # The text served is the one registered first, not a normalised copy.
    assert await any_store.schema_by_id(first.schema_id) == VEHICLE_POSITION
    assert (await any_store.lookup("s", reordered)).version == 1


async def test_same_schema_under_two_subjects_shares_its_id(any_store: RegistryStore) -> None:
    a = await any_store.register("kaga.a-value", VEHICLE_POSITION)
    b = await any_store.register("kanazawa.b-value", VEHICLE_POSITION)
    assert a.schema_id == b.schema_id
    assert (a.version, b.version) == (1, 1)
    assert await any_store.usages(a.schema_id) == [("kaga.a-value", 1), ("kanazawa.b-value", 1)]


async def test_incompatible_schema_is_rejected_with_reasons(any_store: RegistryStore) -> None:
    await any_store.register("s", VEHICLE_POSITION)
    with pytest.raises(IncompatibleSchemaError) as caught:
        await any_store.register("s", WITH_REQUIRED_OPERATOR)
    assert caught.value.level == "BACKWARD_TRANSITIVE"
    assert caught.value.subject == "s"
    (reason,) = caught.value.reasons
    assert "field 'operator'" in reason
    assert "version 1" in reason
    assert await any_store.versions("s") == [1]


async def test_invalid_schema_is_42201(any_store: RegistryStore) -> None:
    for bad in ['{"type": "record", "name": "X"}', "{not json", "", '"no-such-type"']:
        with pytest.raises(RegistryResponseError) as caught:
            await any_store.register("s", bad)
        assert code_of(caught) == 42201, bad
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.register("s", VEHICLE_POSITION, schema_type="PROTOBUF")
    assert code_of(caught) == 42201
    assert await any_store.subjects() == []


async def test_get_version_latest_and_not_found(any_store: RegistryStore) -> None:
    await any_store.register("s", VEHICLE_POSITION)
    await any_store.register("s", WITH_HEADING)
    latest = await any_store.get_version("s", "latest")
    assert (latest.version, latest.schema) == (2, WITH_HEADING)
    assert (await any_store.get_version("s", 1)).schema == VEHICLE_POSITION
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.get_version("s", 3)
    assert code_of(caught) == 40402
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.get_version("nope", 1)
    assert code_of(caught) == 40401
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.schema_by_id(12345)
    assert code_of(caught) == 40403


async def test_lookup(any_store: RegistryStore) -> None:
    registered = await any_store.register("s", VEHICLE_POSITION)
    found = await any_store.lookup("s", VEHICLE_POSITION)
    assert (found.schema_id, found.version, found.subject) == (registered.schema_id, 1, "s")
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.lookup("s", WITH_HEADING)
    assert code_of(caught) == 40403
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.lookup("other", VEHICLE_POSITION)
    assert code_of(caught) == 40401


async def test_soft_delete_hides_versions_and_permanent_delete_erases(
    any_store: RegistryStore,
) -> None:
    await any_store.register("s", VEHICLE_POSITION)
    await any_store.register("s", WITH_HEADING)
    assert await any_store.delete_version("s", "latest") == 2
    assert (await any_store.get_version("s", "latest")).version == 1
    assert await any_store.versions("s") == [1]
    assert await any_store.versions("s", deleted=True) == [1, 2]
    assert (await any_store.get_version("s", 2, deleted=True)).deleted
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_version("s", 2)
    assert code_of(caught) == 40406
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_version("s", 1, permanent=True)
    assert code_of(caught) == 40407
    assert await any_store.delete_version("s", 2, permanent=True) == 2
    assert await any_store.versions("s", deleted=True) == [1]

    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_subject("s", permanent=True)
    assert code_of(caught) == 40405
    assert await any_store.delete_subject("s") == [1]
    assert await any_store.subjects() == []
    assert await any_store.subjects(deleted=True) == ["s"]
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_subject("s")
    assert code_of(caught) == 40404
    assert await any_store.delete_subject("s", permanent=True) == [1]
    assert await any_store.subjects(deleted=True) == []
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_subject("s")
    assert code_of(caught) == 40401


async def test_deleted_versions_do_not_constrain_and_numbers_keep_rising(
    any_store: RegistryStore,
) -> None:
    await any_store.register("s", VEHICLE_POSITION)
    await any_store.delete_subject("s")
    # Incompatible with the deleted version 1, but that version no longer counts.
    again = await any_store.register("s", WITH_REQUIRED_OPERATOR)
    assert again.version == 2
    # Re-registering a soft-deleted schema makes a new version with the same id.
    back = await any_store.register("t", VEHICLE_POSITION)
    await any_store.delete_version("t", 1)
    revived = await any_store.register("t", VEHICLE_POSITION)
    assert (revived.schema_id, revived.version) == (back.schema_id, 2)


async def test_compatibility_levels_config(any_store: RegistryStore) -> None:
    assert await any_store.get_level() is L.BACKWARD_TRANSITIVE
    assert await any_store.get_level("s") is None
    assert await any_store.effective_level("s") is L.BACKWARD_TRANSITIVE
    assert await any_store.set_level("full") is L.FULL
    assert await any_store.get_level() is L.FULL
    assert await any_store.set_level(L.NONE, "s") is L.NONE
    assert await any_store.set_level(L.FORWARD, "s") is L.FORWARD
    assert await any_store.get_level("s") is L.FORWARD
    assert await any_store.effective_level("other") is L.FULL
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.set_level("SIDEWAYS")
    assert code_of(caught) == 42203
    assert await any_store.delete_level("s") is L.FORWARD
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.delete_level("s")
    assert code_of(caught) == 40408
    assert await any_store.delete_level() is L.FULL
    assert await any_store.get_level() is L.BACKWARD_TRANSITIVE


async def test_subject_level_governs_registration(any_store: RegistryStore) -> None:
    await any_store.register("s", VEHICLE_POSITION)
    await any_store.set_level(L.NONE, "s")
    assert (await any_store.register("s", WITH_REQUIRED_OPERATOR)).version == 2
    await any_store.set_level(L.FORWARD, "s")
    # A schema still on record comes back as it is, whatever the level.
    assert (await any_store.register("s", VEHICLE_POSITION + " ")).version == 1
    # Without the required field: version 2 (the latest) could not read its data.
    with pytest.raises(IncompatibleSchemaError) as caught:
        await any_store.register("s", WITH_HEADING)
    assert caught.value.level == "FORWARD"
    assert "version 2 cannot read data written with the new schema" in caught.value.reasons[0]


async def test_test_compatibility(any_store: RegistryStore) -> None:
    assert await any_store.test_compatibility("new", WITH_REQUIRED_OPERATOR) == []
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.test_compatibility("new", VEHICLE_POSITION, "latest")
    assert code_of(caught) == 40401
    await any_store.register("s", VEHICLE_POSITION)
    await any_store.register("s", WITH_HEADING)
    assert await any_store.test_compatibility("s", WITH_HEADING, 1) == []
    (reason,) = await any_store.test_compatibility("s", WITH_REQUIRED_OPERATOR, "latest")
    assert "version 2" in reason
    assert "field 'operator'" in reason
    reasons = await any_store.test_compatibility("s", WITH_REQUIRED_OPERATOR)
    assert len(reasons) == 2  # transitive: against versions 2 and 1
    with pytest.raises(RegistryResponseError) as caught:
        await any_store.test_compatibility("s", VEHICLE_POSITION, 9)
    assert code_of(caught) == 40402


async def test_invalid_subject_names(any_store: RegistryStore) -> None:
    for bad in ["", "tab\there", "x" * 513]:
        with pytest.raises(RegistryResponseError) as caught:
            await any_store.register(bad, VEHICLE_POSITION)
        assert caught.value.status == 422


async def test_missing_tables_are_a_store_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        store = RegistryStore(engine)
        with pytest.raises(RegistryResponseError) as caught:
            await store.register("s", VEHICLE_POSITION)
        assert (caught.value.status, caught.value.error_code) == (500, 50001)
        assert caught.value.retriable
        assert "registry_" in caught.value.message
    finally:
        await engine.dispose()


def _evolutions(count: int) -> list[str]:
    base = json.loads(VEHICLE_POSITION)["fields"]
    return [record(*base, {"name": f"extra{i}", "type": "int", "default": i}) for i in range(count)]


async def _race(stores: list[RegistryStore]) -> None:
    """Many registrations from several "processes" at once; the numbering must stay exact."""
    schemas = _evolutions(6)
    # Every schema twice from different stores, plus one shared schema under many subjects.
    jobs = [stores[i % len(stores)].register("race", schemas[i // 2]) for i in range(12)]
    jobs += [stores[i % len(stores)].register(f"shared-{i}", VEHICLE_POSITION) for i in range(6)]
    results = await asyncio.gather(*jobs)
    race = results[:12]
    assert sorted({r.version for r in race}) == [1, 2, 3, 4, 5, 6]
    for i in range(0, 12, 2):
        assert race[i] == race[i + 1]  # the same schema got one version, not two
    assert len({r.schema_id for r in race}) == 6
    assert len({r.schema_id for r in results[12:]}) == 1
    assert await stores[0].versions("race") == [1, 2, 3, 4, 5, 6]
    assert len(await stores[1].subjects()) == 7


async def test_concurrent_processes_on_postgresql(pg_database: PgSchema) -> None:
    await _race([RegistryStore(pg_database.engine()), RegistryStore(pg_database.engine())])


async def test_concurrent_processes_on_sqlite(tmp_path: Path) -> None:
    engines = [
        await sqlite_engine(tmp_path / "runtime.db"),
        await sqlite_engine(tmp_path / "runtime.db"),
    ]
    try:
        await _race([RegistryStore(engine) for engine in engines])
    finally:
        for engine in engines:
            await engine.dispose()
