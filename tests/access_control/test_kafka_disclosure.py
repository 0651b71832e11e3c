"""`/v1/info` gives the Kafka bootstrap address only to callers allowed to reach the broker.

The broker knows nothing of the gateway's grants: whoever reaches a listener without
authentication of its own reads every topic. So the address goes to callers on the hub's
machine (the embedded broker listens on loopback only), to keys granted read and publish
on "*", or to everyone when the deployment says its clusters guard themselves.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import Grant, KeyStore
from hub.access.http import kafka_disclosure
from hub.broker import EmbeddedBroker, free_port
from hub.config import EmbeddedBrokerSettings, load_config
from hub.connections import Connections, discover_running_hub
from hub.errors import TsunaguError
from hub.http.app import HubInfo, create_app

BOOTSTRAP = "127.0.0.1:19092"
Serve = Callable[..., Awaitable[str]]


def this_machines_address() -> str | None:
    """An address of this machine other than loopback (a UDP connect sends nothing)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 9))
        address: str = probe.getsockname()[0]
        if not address.startswith("127."):
            return address
    return None


@pytest.fixture
async def serve(sqlite_engine: AsyncEngine) -> AsyncIterator[Serve]:
    """Start the hub's root app on every interface with a given disclosure rule; returns
    the port. Every interface, so a caller can come from an address other than loopback."""
    runners: list[web.AppRunner] = []

    async def start(*, advertise: bool = False, embedded: bool = True) -> str:
        port = free_port()
        may_see = kafka_disclosure(sqlite_engine, advertise=advertise, embedded=embedded)
        info = HubInfo(BOOTSTRAP, f"http://127.0.0.1:{port}/registry", "", may_see_kafka=may_see)
        runner = web.AppRunner(create_app(info))
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", port).start()  # every interface: see above
        runners.append(runner)
        return str(port)

    yield start
    for runner in runners:
        await runner.cleanup()


async def info(host: str, port: str, **headers: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/v1/info", headers=headers) as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def remote_callers() -> list[tuple[str, dict[str, str]]]:
    """(host to call, headers) for callers that are not on this machine, as the hub sees
    them: through a reverse proxy on this machine, and from another address if it has one."""
    callers = [("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"})]
    address = this_machines_address()
    if address is not None:
        callers.append((address, {}))
    return callers


async def test_a_caller_on_this_machine_gets_the_embedded_brokers_address(serve: Serve) -> None:
    port = await serve()
    body = await info("127.0.0.1", port)
    assert body["kafka"]["bootstrap_servers"] == BOOTSTRAP
    assert body["registry"]["url"].endswith("/registry")


async def test_an_anonymous_remote_caller_gets_no_broker_address(serve: Serve) -> None:
    port = await serve()
    for host, headers in remote_callers():
        body = await info(host, port, **headers)
        assert "bootstrap_servers" not in body["kafka"], (host, headers)
        assert BOOTSTRAP not in str(body)
        assert body["kafka"]["withheld"]
        # What anyone may have is still there: the registry is readable by all.
        assert body["registry"]["url"]


async def test_only_a_key_granted_everything_gets_it_from_afar(
    serve: Serve, sqlite_engine: AsyncEngine
) -> None:
    keys = KeyStore(sqlite_engine)
    everything = await keys.create("operator", grants=(Grant("*", "read"), Grant("*", "publish")))
    reader = await keys.create("app", grants=(Grant("kaga.*", "read"), Grant("*", "read")))
    revoked = await keys.create("gone", grants=(Grant("*", "read"), Grant("*", "publish")))
    await keys.revoke(revoked.info.key_id)
    port = await serve()
    for host, headers in remote_callers():
        allowed = await info(host, port, **headers, Authorization=f"Bearer {everything.plaintext}")
        assert allowed["kafka"]["bootstrap_servers"] == BOOTSTRAP
        for key in (reader, revoked):
            body = await info(host, port, **headers, **{"X-API-Key": key.plaintext})
            assert "bootstrap_servers" not in body["kafka"], key.info.name
        wrong = await info(host, port, **headers, Authorization="Bearer tk_0123456789abcdef.x")
        assert "bootstrap_servers" not in wrong["kafka"]


async def test_a_deployment_may_advertise_its_clusters_to_everyone(serve: Serve) -> None:
    port = await serve(advertise=True)
    for host, headers in remote_callers():
        assert (await info(host, port, **headers))["kafka"]["bootstrap_servers"] == BOOTSTRAP


async def test_a_configured_clusters_address_is_not_given_for_being_local(serve: Serve) -> None:
    # The loopback exception exists for the embedded broker; a real cluster's address
    # goes only to a key granted everything, or to all when the deployment says so.
    port = await serve(embedded=False)
    assert "bootstrap_servers" not in (await info("127.0.0.1", port))["kafka"]


async def test_a_command_told_nothing_says_why(serve: Serve, tmp_path: Any) -> None:
    port = await serve()
    host, headers = remote_callers()[-1]
    if headers:
        pytest.skip("this machine has no address but loopback to call from")
    endpoints = await discover_running_hub(f"http://{host}:{port}")
    assert endpoints.kafka_bootstrap is None
    config = tmp_path / "topics.yaml"
    config.write_text("version: 1\nareas:\n  kaga: {title: Kaga}\n")
    connections = Connections(load_config(config), endpoints)
    with pytest.raises(TsunaguError, match="does not give its broker address to this caller"):
        connections.cluster_for("kaga")


def test_the_embedded_broker_never_listens_beyond_loopback() -> None:
    with pytest.raises(ValidationError, match="loopback only"):
        EmbeddedBrokerSettings(host="0.0.0.0")  # the attempt refused
    with pytest.raises(ValueError, match="loopback only"):
        EmbeddedBroker(host="192.0.2.2")
    assert EmbeddedBrokerSettings(host="::1").host == "::1"
    assert EmbeddedBrokerSettings(host="localhost").host == "localhost"
