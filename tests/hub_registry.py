"""The embedded registry as the hub's own parts write to it: with the internal credential
that `tsunagu up` makes at each start (tests/registry/test_registry_attacks.py covers
who else may write)."""

from __future__ import annotations

from aiohttp import web

from hub.access import AccessControl
from hub.registry import RegistryStore, create_registry_app
from hub.registry.auth import INTERNAL_USER, RegistryWriters

__all__ = ["HUB_AUTH", "HUB_SECRET", "hub_registry_app", "with_credentials"]

#: The internal credential the test registries accept, as `tsunagu up` makes one per start.
HUB_SECRET = "test-internal-secret"
HUB_AUTH = (INTERNAL_USER, HUB_SECRET)


def hub_registry_app(store: RegistryStore) -> web.Application:
    """The registry app accepting writes with `HUB_AUTH`, as the hub's own parts write."""
    access = AccessControl(store.engine)
    app = create_registry_app(store, RegistryWriters(access, internal_secret=HUB_SECRET))

    async def close(_: web.Application) -> None:
        await access.close()

    app.on_cleanup.append(close)
    return app


def with_credentials(url: str) -> str:
    """`url` carrying `HUB_AUTH` as userinfo (aiohttp and Confluent's client send it as Basic)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{INTERNAL_USER}:{HUB_SECRET}@{rest}"
