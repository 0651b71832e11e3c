"""A real aiohttp app on loopback behind `AccessControl.require`: 401, 403, 429 as
problem+json, 200 with a grant or on a public topic, CORS, and every attempt audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.access import PROBLEM_JSON, AccessControl, AuditEntry, Grant, RateLimiter, setup_cors

TOPIC = "kaga.mobility.vehicle-positions.v1"
PUBLIC = "kaga.transit.stops.v1"
ORIGIN = "https://maas.example"


@dataclass
class Hub:
    url: str
    access: AccessControl
    session: aiohttp.ClientSession

    async def get(self, topic: str, **headers: str) -> tuple[int, dict[str, Any], Any]:
        async with self.session.get(f"{self.url}/v1/topics/{topic}/latest", headers=headers) as r:
            return r.status, dict(r.headers), await _body(r)

    async def post(self, topic: str, **headers: str) -> tuple[int, dict[str, Any], Any]:
        async with self.session.post(
            f"{self.url}/v1/topics/{topic}/records", json=[{"id": "x"}], headers=headers
        ) as r:
            return r.status, dict(r.headers), await _body(r)

    async def audit(self) -> list[AuditEntry]:
        await self.access.flush()  # entries wait a moment to be written in one batch
        return [e async for e in self.access.audit.entries()]


async def _body(response: aiohttp.ClientResponse) -> Any:
    if response.content_type in {PROBLEM_JSON, "application/json"}:
        return await response.json(content_type=None)
    return await response.text()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def hub(engine: AsyncEngine) -> AsyncIterator[Hub]:
    # A frozen clock: buckets never refill during the test, so 429 does not depend on speed.
    access = AccessControl(
        engine, public_topics=[PUBLIC], limiter=RateLimiter(1000, clock=lambda: 0.0)
    )

    async def latest(request: web.Request) -> web.Response:
        topic = request.match_info["topic"]
        principal = await access.require(request, topic, "read")
        return web.json_response({"principal": principal, "records": []})

    async def publish(request: web.Request) -> web.Response:
        topic = request.match_info["topic"]
        principal = await access.require(request, topic, "publish", audit_ok=False)
        records = await request.json()
        await access.record(
            request,
            principal,
            "publish",
            topic,
            amount=len(records),
            size_bytes=request.content_length,
        )
        return web.json_response({"accepted": len(records)}, status=202)

    app = web.Application()
    app.router.add_get("/v1/topics/{topic}/latest", latest)
    app.router.add_post("/v1/topics/{topic}/records", publish)
    setup_cors(app, [ORIGIN])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        yield Hub(f"http://{host}:{port}", access, session)
    await runner.cleanup()


def assert_problem(status: int, headers: dict[str, Any], body: Any, expected: int) -> None:
    assert status == expected
    assert headers["Content-Type"].startswith(PROBLEM_JSON)
    assert body["status"] == expected
    assert {"type", "title", "detail", "instance"} <= body.keys()
    assert body["instance"].startswith("/v1/topics/")


async def test_401_for_missing_bad_and_revoked_keys(hub: Hub) -> None:
    issued = await hub.access.keys.create("maas", grants=(Grant(TOPIC, "read"),))
    wrong = issued.plaintext[:-2] + ("xx" if not issued.plaintext.endswith("xx") else "yy")

    status, headers, body = await hub.get(TOPIC)
    assert_problem(status, headers, body, 401)
    assert body["reason"] == "missing-key"
    assert headers["WWW-Authenticate"].startswith("Bearer")

    status, headers, body = await hub.get(TOPIC, **bearer(wrong))
    assert_problem(status, headers, body, 401)
    assert body["reason"] == "invalid-key"

    status, headers, body = await hub.get(TOPIC, **{"Authorization": "Basic dXNlcjpwYXNz"})
    assert_problem(status, headers, body, 401)

    status, _, body = await hub.get(TOPIC, **{"X-API-Key": issued.plaintext})
    assert (status, body["principal"]) == (200, issued.info.key_id)

    await hub.access.keys.revoke(issued.info.key_id)
    status, headers, body = await hub.get(TOPIC, **bearer(issued.plaintext))
    assert_problem(status, headers, body, 401)
    assert body["reason"] == "revoked-key"
    # Revoked keys are refused on public topics too.
    status, _, _ = await hub.get(PUBLIC, **bearer(issued.plaintext))
    assert status == 401

    entries = await hub.audit()
    assert [(e.key_id, e.action, e.outcome, e.detail) for e in entries] == [
        ("anonymous", "read", "401", "missing-key"),
        # A claimed key id is recorded even when its secret is wrong.
        (issued.info.key_id, "read", "401", "invalid-key"),
        ("anonymous", "read", "401", "invalid-key"),
        (issued.info.key_id, "read", "ok", "ok"),
        (issued.info.key_id, "read", "401", "revoked-key"),
        (issued.info.key_id, "read", "401", "revoked-key"),
    ]
    assert all(e.topic in {TOPIC, PUBLIC} and e.client == "127.0.0.1" for e in entries)
    assert (await hub.access.audit.verify()).ok


async def test_403_without_grant_or_with_expired_grant(hub: Hub) -> None:
    issued = await hub.access.keys.create("maas", grants=(Grant(TOPIC, "read"),))
    key_id = issued.info.key_id

    status, headers, body = await hub.post(TOPIC, **bearer(issued.plaintext))
    assert_problem(status, headers, body, 403)
    assert body["reason"] == "no-grant"
    status, headers, body = await hub.get("toyama.bus.v1", **bearer(issued.plaintext))
    assert_problem(status, headers, body, 403)

    await hub.access.keys.grant(key_id, Grant(TOPIC, "publish", expires_ms=1))
    status, headers, body = await hub.post(TOPIC, **bearer(issued.plaintext))
    assert_problem(status, headers, body, 403)
    assert body["reason"] == "grant-expired"

    await hub.access.keys.grant(key_id, Grant("kaga.*", "publish"))
    status, _, body = await hub.post(TOPIC, **bearer(issued.plaintext))
    assert (status, body) == (202, {"accepted": 1})

    entries = await hub.audit()
    assert [(e.action, e.topic, e.outcome, e.detail) for e in entries] == [
        ("publish", TOPIC, "403", "no-grant"),
        ("read", "toyama.bus.v1", "403", "no-grant"),
        ("publish", TOPIC, "403", "grant-expired"),
        ("publish", TOPIC, "ok", None),
    ]
    assert {e.key_id for e in entries} == {key_id}
    # The publish is audited once, with how much was published.
    assert entries[-1].amount == 1
    assert entries[-1].size_bytes is not None
    assert entries[-1].size_bytes > 0


async def test_public_topic_is_readable_without_key_but_not_publishable(hub: Hub) -> None:
    status, _, body = await hub.get(PUBLIC)
    assert (status, body["principal"]) == (200, "anonymous")
    status, headers, body = await hub.post(PUBLIC)
    assert_problem(status, headers, body, 401)
    entries = await hub.audit()
    assert [(e.key_id, e.action, e.outcome) for e in entries] == [
        ("anonymous", "read", "ok"),
        ("anonymous", "publish", "401"),
    ]


async def test_429_after_the_keys_rate(hub: Hub) -> None:
    slow = await hub.access.keys.create("slow", rate_per_minute=2, grants=(Grant(TOPIC, "read"),))
    fast = await hub.access.keys.create("fast", grants=(Grant(TOPIC, "read"),))
    assert [(await hub.get(TOPIC, **bearer(slow.plaintext)))[0] for _ in range(2)] == [200, 200]
    status, headers, body = await hub.get(TOPIC, **bearer(slow.plaintext))
    assert_problem(status, headers, body, 429)
    assert int(headers["Retry-After"]) >= 1
    # Limits are per key: another key is unaffected.
    assert (await hub.get(TOPIC, **bearer(fast.plaintext)))[0] == 200
    last = (await hub.audit())[-2]
    assert (last.key_id, last.outcome) == (slow.info.key_id, "429")


async def test_cors_preflight_and_headers_on_answers(hub: Hub) -> None:
    preflight = {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    async with hub.session.options(f"{hub.url}/v1/topics/{TOPIC}/latest", headers=preflight) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
        assert "GET" in r.headers["Access-Control-Allow-Methods"]
    other = {**preflight, "Origin": "https://evil.example"}
    async with hub.session.options(f"{hub.url}/v1/topics/{TOPIC}/latest", headers=other) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers

    # Answers, refusals included, carry the header for allowed origins only.
    status, headers, _ = await hub.get(PUBLIC, Origin=ORIGIN)
    assert (status, headers["Access-Control-Allow-Origin"]) == (200, ORIGIN)
    status, headers, _ = await hub.get(TOPIC, Origin=ORIGIN)
    assert (status, headers["Access-Control-Allow-Origin"]) == (401, ORIGIN)
    assert "WWW-Authenticate" in headers["Access-Control-Expose-Headers"]
    _, headers, _ = await hub.get(PUBLIC, Origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in headers
    # Preflights are not access attempts; only the two GETs with keys missing were audited.
    assert [e.outcome for e in await hub.audit()] == ["ok", "401", "ok"]
