"""The aiohttp application every hub process serves.

Readiness is a set of named checks (broker, registry, store, ...) that the
components register; ``/readyz`` is 200 only when all of them pass.

``/v1/info`` tells the Kafka bootstrap addresses only to callers its ``may_see_kafka``
rule allows (by default: callers on this machine): whoever reaches a Kafka listener
that has no authentication of its own reads every topic, whatever the gateway grants.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import __version__
from hub.broker import is_loopback
from hub.metrics import HTTP_DURATION, HTTP_REQUESTS, REGISTRY

ReadinessCheck = Callable[[], Awaitable[bool]]
#: Whether the caller of a request may learn the Kafka bootstrap addresses.
KafkaDisclosure = Callable[[web.Request], Awaitable[bool]]

# Headers a reverse proxy adds: behind one, a loopback peer is the proxy, not the caller.
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def from_this_machine(request: web.Request) -> bool:
    """True when the caller connects over loopback and no proxy relayed the request."""
    if request.remote is None or any(h in request.headers for h in _PROXY_HEADERS):
        return False
    return is_loopback(request.remote)


async def only_this_machine(request: web.Request) -> bool:
    """The default disclosure rule: the broker address only for callers on this machine."""
    return from_this_machine(request)


@dataclass
class HubInfo:
    """What ``/v1/info`` reports: where clients find the hub's services."""

    kafka_bootstrap: str
    registry_url: str
    gateway_url: str
    kafka_client: str = "confluent"
    extra: dict[str, str] = field(default_factory=dict)
    may_see_kafka: KafkaDisclosure = only_this_machine


INFO_KEY = web.AppKey("hub_info", HubInfo)
CHECKS_KEY = web.AppKey("readiness_checks", dict[str, ReadinessCheck])


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def _measure(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    # Label by route template, never by raw path: paths carry ids (unbounded).
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        HTTP_DURATION.labels(route).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(route, f"{status // 100}xx").inc()
    return response


async def _healthz(_: web.Request) -> web.Response:
    return _json({"status": "ok"})


class NotReady(Exception):
    """Raised by a readiness check to say why it is not ready (shown under ``reasons``)."""


async def _readyz(request: web.Request) -> web.Response:
    results: dict[str, bool] = {}
    reasons: dict[str, str] = {}
    for name, check in request.app[CHECKS_KEY].items():
        try:
            results[name] = await check()
        except NotReady as exc:
            results[name] = False
            reasons[name] = str(exc)
        except Exception:  # noqa: BLE001 - a failing check means not ready, whatever it raised
            results[name] = False
    ready = all(results.values())
    body: dict[str, object] = {"ready": ready, "checks": results}
    if reasons:
        body["reasons"] = reasons
    return _json(body, status=200 if ready else 503)


async def _info(request: web.Request) -> web.Response:
    info = request.app[INFO_KEY]
    kafka: dict[str, object] = {"client": info.kafka_client}
    if await info.may_see_kafka(request):
        kafka["bootstrap_servers"] = info.kafka_bootstrap
    else:
        kafka["withheld"] = "the broker address is not given to this caller"
    return _json(
        {
            "version": __version__,
            "kafka": kafka,
            "registry": {"url": info.registry_url},
            "gateway": {"url": info.gateway_url},
            "endpoints": {
                "metrics": f"{info.gateway_url}/metrics",
                "healthz": f"{info.gateway_url}/healthz",
                "readyz": f"{info.gateway_url}/readyz",
                "info": f"{info.gateway_url}/v1/info",
            },
            **info.extra,
        }
    )


async def _metrics(_: web.Request) -> web.Response:
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(info: HubInfo, registry_app: web.Application | None = None) -> web.Application:
    """The hub's root application; the embedded registry, when given, is mounted at /registry."""
    app = web.Application(middlewares=[_measure])
    app[INFO_KEY] = info
    app[CHECKS_KEY] = {}
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/v1/info", _info)
    app.router.add_get("/metrics", _metrics)
    if registry_app is not None:
        app.add_subapp("/registry", registry_app)
    return app


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    """Make ``/readyz`` depend on ``check`` (call before the app starts)."""
    app[CHECKS_KEY][name] = check
