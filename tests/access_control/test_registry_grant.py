"""The ``registry:write`` grant through ``tsunagu keys``, on stores made before it existed too:
the commands widen the old permission check themselves (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from hub.access.cli import keys
from hub.access.tables import PERMISSION_CHECK
from hub.db import create_schema, make_engine
from tests.access_control.test_cli import invoke, store_url

__all__ = ["store_url"]  # the fixture, shared with test_cli

_OLD_CHECK = "permission IN ('read', 'publish')"


def make_old_store(url: str) -> None:
    """A store whose grants table refuses anything but read and publish, as older hubs made."""

    async def run() -> None:
        engine = make_engine(url)
        try:
            await create_schema(engine)
            async with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    ddl = await conn.scalar(
                        sa.text("SELECT sql FROM sqlite_master WHERE name = 'access_grants'")
                    )
                    assert PERMISSION_CHECK in ddl
                    await conn.exec_driver_sql("DROP TABLE access_grants")
                    await conn.exec_driver_sql(ddl.replace(PERMISSION_CHECK, _OLD_CHECK))
                else:
                    await conn.exec_driver_sql(
                        "ALTER TABLE access_grants DROP CONSTRAINT ck_access_grants_permission, "
                        f"ADD CONSTRAINT ck_access_grants_permission CHECK ({_OLD_CHECK})"
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_registry_write_is_granted_and_listed_on_an_old_store(store_url: str) -> None:
    make_old_store(store_url)
    reader = invoke(keys, store_url, "create", "--name", "reader", "--grant", "kaga.*:read")
    assert reader.exit_code == 0, reader.output
    admin = invoke(keys, store_url, "create", "--name", "ops", "--grant", "*:registry:write")
    assert admin.exit_code == 0, admin.output
    reader_id = reader.stdout.strip().partition(".")[0]
    granted = invoke(keys, store_url, "grant", reader_id, "kaga.*", "registry:write")
    assert granted.exit_code == 0, granted.output
    listing = invoke(keys, store_url, "list").output
    assert "*:registry:write" in listing
    assert "kaga.*:read, kaga.*:registry:write" in listing
    removed = invoke(keys, store_url, "ungrant", reader_id, "kaga.*", "registry:write")
    assert removed.exit_code == 0, removed.output
    bad = invoke(keys, store_url, "create", "--name", "x", "--grant", "*:registry:admin")
    assert bad.exit_code != 0
    assert "registry:write" in bad.output
