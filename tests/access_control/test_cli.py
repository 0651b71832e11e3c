"""``tsunagu keys`` and ``tsunagu audit`` through click's CliRunner, on a SQLite file and on a
PostgreSQL database of their own, as an operator would use them."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.exc import SQLAlchemyError

from hub.access import KeyStore
from hub.access.cli import audit, keys
from hub.access.tables import audit_log
from hub.db import make_engine
from tests.access_control.entries import fill_store
from tests.conftest import service_missing
from tests.pg import PG_URL


def _admin(sql: str) -> None:
    async def run() -> None:
        engine = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql(sql)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL the commands open themselves: a SQLite file, or a fresh PostgreSQL database
    (a database, not a schema, because a URL cannot carry a schema translation)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runtime.db'}"
        return
    name = f"access_cli_{uuid.uuid4().hex[:12]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except (OSError, SQLAlchemyError) as exc:
        service_missing(f"PostgreSQL at {PG_URL}: {exc}")
    yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def invoke(group: object, store_url: str, *args: str) -> Result:
    return CliRunner().invoke(group, [*args, "--store", store_url])  # type: ignore[arg-type]


def execute(store_url: str, statement: sa.Executable) -> None:
    async def run() -> None:
        engine = make_engine(store_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(statement)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_create_list_grant_revoke(store_url: str) -> None:
    created = invoke(
        keys,
        store_url,
        "create",
        "--name",
        "kaga-maas",
        "--grant",
        "kaga.*:read",
        "--expires",
        "30d",
        "--rate",
        "10/s",
    )
    assert created.exit_code == 0, created.output
    plaintext = created.stdout.strip()
    key_id, secret = plaintext.split(".", 1)
    assert re.fullmatch(r"tk_[0-9a-f]{16}", key_id)

    listed = invoke(keys, store_url, "list")
    assert listed.exit_code == 0
    assert key_id in listed.output
    assert "kaga-maas" in listed.output
    assert "kaga.*:read (until" in listed.output
    assert "600/min" in listed.output
    assert secret not in listed.output

    granted = invoke(keys, store_url, "grant", key_id, "kaga.bus.v1", "publish")
    assert granted.exit_code == 0, granted.output
    assert "kaga.bus.v1:publish" in invoke(keys, store_url, "list").output

    revoked = invoke(keys, store_url, "revoke", key_id)
    assert revoked.exit_code == 0
    assert f"revoked {key_id}" in revoked.output
    assert "revoked 20" in invoke(keys, store_url, "list").output

    async def check() -> None:
        engine = make_engine(store_url)
        try:
            info = await KeyStore(engine).authenticate(plaintext)
        finally:
            await engine.dispose()
        assert info is not None
        assert info.revoked

    asyncio.run(check())


def test_bad_input_and_unknown_keys_exit_non_zero(store_url: str) -> None:
    bad_grant = invoke(keys, store_url, "create", "--name", "x", "--grant", "kaga.*:write")
    assert bad_grant.exit_code == 2
    assert "TOPIC:read or TOPIC:publish" in bad_grant.output
    bad_rate = invoke(keys, store_url, "create", "--name", "x", "--rate", "lots")
    assert bad_rate.exit_code == 2
    unknown = invoke(keys, store_url, "revoke", "tk_ffffffffffffffff")
    assert unknown.exit_code == 1
    assert "unknown key tk_ffffffffffffffff" in unknown.output
    assert invoke(keys, store_url, "ungrant", "tk_ffffffffffffffff", "x", "read").exit_code == 1


def test_audit_verify_names_an_edited_entry(store_url: str) -> None:
    fill_store(store_url, 5)
    intact = invoke(audit, store_url, "verify")
    assert intact.exit_code == 0, intact.output
    assert "intact: 5 entries" in intact.output

    execute(store_url, audit_log.update().where(audit_log.c.seq == 4).values(amount=999))
    broken = invoke(audit, store_url, "verify")
    assert broken.exit_code == 1
    assert "entry 4" in broken.output
    assert "altered" in broken.output


def test_audit_verify_names_a_removed_entry(store_url: str) -> None:
    fill_store(store_url, 5)
    execute(store_url, audit_log.delete().where(audit_log.c.seq == 2))
    broken = invoke(audit, store_url, "verify")
    assert broken.exit_code == 1
    assert "entry 2 is missing" in broken.output


def test_audit_tail(store_url: str) -> None:
    fill_store(store_url, 5)
    tail = invoke(audit, store_url, "tail", "-n", "2")
    assert tail.exit_code == 0
    lines = tail.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "4"
    assert "tk_0123456789abcdef publish kaga.bus.v1 ok records=4" in lines[1]


def test_store_url_comes_from_the_deployment_file(tmp_path: Path) -> None:
    db = tmp_path / "from-config.db"
    config = tmp_path / "topics.yaml"
    config.write_text(f"version: 1\nhub:\n  store:\n    url: sqlite:///{db}\n")
    result = CliRunner().invoke(keys, ["create", "--name", "x", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert db.exists()
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nhub:\n  stroe: {}\n")
    failed = CliRunner().invoke(keys, ["list", "--config", str(broken)])
    assert failed.exit_code == 1
    assert "stroe" in failed.output
