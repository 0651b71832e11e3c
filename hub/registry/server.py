"""The embedded schema registry's HTTP API: the Confluent Schema Registry REST subset.

`create_registry_app` builds an aiohttp application meant to be mounted as a sub-app (the
hub mounts it at /registry), so any Confluent client can use http://host:port/registry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiohttp import web

from hub.access.http import AccessControl
from hub.errors import IncompatibleSchemaError
from hub.registry.auth import RegistryWriters
from hub.registry.codes import INCOMPATIBLE, RegistryResponseError
from hub.registry.store import RegistryStore, VersionRef, parse_version

__all__ = ["CONTENT_TYPE", "STORE_KEY", "WRITERS_KEY", "create_registry_app"]

log = logging.getLogger(__name__)

#: The content type Confluent's registry answers with.
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

#: Where the app keeps its store.
STORE_KEY = web.AppKey("registry_store", RegistryStore)

#: Who may write (see hub.registry.auth).
WRITERS_KEY = web.AppKey("registry_writers", RegistryWriters)

# Request bodies Confluent's registry accepts as JSON (octet-stream is what clients that
# send no content type get from aiohttp).
_JSON_BODY_TYPES = frozenset(
    {
        CONTENT_TYPE,
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",
    }
)

Handler: TypeAlias = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_registry_app(
    store: RegistryStore, writers: RegistryWriters | None = None
) -> web.Application:
    """An aiohttp app serving `store` with Confluent's REST API, ready for `add_subapp`.

    Reads are open; writes need what `writers` accepts (by default: an API key with a
    ``registry:write`` grant, checked against the keys in `store`'s database).
    """
    app = web.Application(middlewares=[_confluent_errors])
    app[STORE_KEY] = store
    if writers is None:
        access = AccessControl(store.engine)
        writers = RegistryWriters(access)

        async def close_access(_: web.Application) -> None:
            await access.close()

        app.on_cleanup.append(close_access)
    app[WRITERS_KEY] = writers
    app.router.add_get("/", _root)
    app.router.add_get("/schemas/types", _schema_types)
    app.router.add_get(r"/schemas/ids/{id:\d+}", _schema_by_id)
    app.router.add_get(r"/schemas/ids/{id:\d+}/versions", _schema_versions)
    app.router.add_get(r"/schemas/ids/{id:\d+}/subjects", _schema_subjects)
    app.router.add_get("/subjects", _subjects)
    # Looking a schema up and testing compatibility are reads, though they are POSTs.
    app.router.add_post("/subjects/{subject}", _lookup)
    app.router.add_delete("/subjects/{subject}", _write(_delete_subject))
    app.router.add_get("/subjects/{subject}/versions", _versions)
    app.router.add_post("/subjects/{subject}/versions", _write(_register))
    app.router.add_get("/subjects/{subject}/versions/{version}", _version)
    app.router.add_get("/subjects/{subject}/versions/{version}/schema", _version_schema)
    app.router.add_delete("/subjects/{subject}/versions/{version}", _write(_delete_version))
    app.router.add_post("/compatibility/subjects/{subject}/versions", _compatibility)
    app.router.add_post("/compatibility/subjects/{subject}/versions/{version}", _compatibility)
    app.router.add_get("/config", _get_config)
    app.router.add_put("/config", _write(_put_config))
    app.router.add_delete("/config", _write(_delete_config))
    app.router.add_get("/config/{subject}", _get_config)
    app.router.add_put("/config/{subject}", _write(_put_config))
    app.router.add_delete("/config/{subject}", _write(_delete_config))
    return app


def _write(handler: Handler) -> Handler:
    """`handler` behind the write check: refused before its body is read, audited after."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        writers = request.app[WRITERS_KEY]
        subject = request.match_info.get("subject")
        principal = await writers.require(request, subject)
        if principal is None:  # the hub itself
            return await handler(request)
        outcome = "error"
        try:
            response = await handler(request)
            outcome = "ok"
        except RegistryResponseError as exc:
            outcome = str(exc.status)
            raise
        except IncompatibleSchemaError:
            outcome = "409"
            raise
        finally:
            await writers.record(request, principal, subject, outcome)
        return response

    return guarded


# --- plumbing ----------------------------------------------------------------------------


def _reply(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, content_type=CONTENT_TYPE)


def _error(status: int, error_code: int, message: str) -> web.Response:
    return _reply({"error_code": error_code, "message": message}, status)


@web.middleware
async def _confluent_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure in Confluent's {"error_code", "message"} shape."""
    try:
        return await handler(request)
    except RegistryResponseError as exc:
        if exc.status >= 500:
            log.warning("schema registry %s %s failed: %s", request.method, request.path, exc)
        response = _error(exc.status, exc.error_code, exc.message)
        response.headers.update(exc.headers)
        return response
    except IncompatibleSchemaError as exc:
        return _error(
            409,
            INCOMPATIBLE,
            f"Schema being registered is incompatible with an earlier schema for subject "
            f"'{exc.subject}' (compatibility {exc.level}): " + "; ".join(exc.reasons),
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.status, f"HTTP {exc.status} {exc.reason}")


def _store(request: web.Request) -> RegistryStore:
    return request.app[STORE_KEY]


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


def _version_param(request: web.Request) -> VersionRef:
    return parse_version(request.match_info["version"])


async def _json_body(request: web.Request) -> dict[str, object]:
    if request.content_type not in _JSON_BODY_TYPES:
        raise RegistryResponseError(
            415,
            415,
            f"Unsupported Media Type {request.content_type!r}: send {CONTENT_TYPE} "
            "or application/json",
        )
    raw = await request.read()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RegistryResponseError(422, 422, f"Unrecognized JSON in request body: {exc}") from None
    if not isinstance(data, dict):
        raise RegistryResponseError(422, 422, "Request body must be a JSON object")
    return data


async def _schema_body(request: web.Request) -> str:
    """The "schema" of a register/lookup/compatibility body, refusing what we cannot honour."""
    body = await _json_body(request)
    schema = body.get("schema")
    if not isinstance(schema, str):
        raise RegistryResponseError(422, 422, "Request body needs a string field 'schema'")
    schema_type = body.get("schemaType", "AVRO")
    if not isinstance(schema_type, str) or schema_type.upper() != "AVRO":
        raise RegistryResponseError.invalid_schema(
            f"schema type {schema_type!r} is not supported (only AVRO)"
        )
    if body.get("references"):
        raise RegistryResponseError.invalid_schema("schema references are not supported")
    for unsupported in ("metadata", "ruleSet"):
        if body.get(unsupported) is not None:
            raise RegistryResponseError.invalid_schema(f"'{unsupported}' is not supported")
    return schema


def _registered(subject: str, version: int, schema_id: int, schema: str) -> dict[str, object]:
    return {"subject": subject, "version": version, "id": schema_id, "schema": schema}


# --- handlers ----------------------------------------------------------------------------


async def _root(_request: web.Request) -> web.Response:
    return _reply({})


async def _schema_types(_request: web.Request) -> web.Response:
    return _reply(["AVRO"])


async def _schema_by_id(request: web.Request) -> web.Response:
    return _reply({"schema": await _store(request).schema_by_id(int(request.match_info["id"]))})


async def _schema_versions(request: web.Request) -> web.Response:
    usages = await _store(request).usages(
        int(request.match_info["id"]), deleted=_flag(request, "deleted")
    )
    return _reply([{"subject": subject, "version": version} for subject, version in usages])


async def _schema_subjects(request: web.Request) -> web.Response:
    usages = await _store(request).usages(
        int(request.match_info["id"]), deleted=_flag(request, "deleted")
    )
    return _reply(sorted({subject for subject, _ in usages}))


async def _subjects(request: web.Request) -> web.Response:
    return _reply(await _store(request).subjects(deleted=_flag(request, "deleted")))


async def _register(request: web.Request) -> web.Response:
    schema = await _schema_body(request)
    registered = await _store(request).register(request.match_info["subject"], schema)
    return _reply({"id": registered.schema_id})


async def _lookup(request: web.Request) -> web.Response:
    schema = await _schema_body(request)
    found = await _store(request).lookup(
        request.match_info["subject"], schema, deleted=_flag(request, "deleted")
    )
    return _reply(_registered(found.subject, found.version, found.schema_id, found.schema))


async def _versions(request: web.Request) -> web.Response:
    return _reply(
        await _store(request).versions(
            request.match_info["subject"], deleted=_flag(request, "deleted")
        )
    )


async def _version(request: web.Request) -> web.Response:
    found = await _store(request).get_version(
        request.match_info["subject"], _version_param(request), deleted=_flag(request, "deleted")
    )
    return _reply(_registered(found.subject, found.version, found.schema_id, found.schema))


async def _version_schema(request: web.Request) -> web.Response:
    found = await _store(request).get_version(
        request.match_info["subject"], _version_param(request), deleted=_flag(request, "deleted")
    )
    # Confluent serves the bare schema document here, not a JSON string holding it.
    return web.Response(text=found.schema, content_type=CONTENT_TYPE)


async def _delete_subject(request: web.Request) -> web.Response:
    deleted = await _store(request).delete_subject(
        request.match_info["subject"], permanent=_flag(request, "permanent")
    )
    return _reply(deleted)


async def _delete_version(request: web.Request) -> web.Response:
    deleted = await _store(request).delete_version(
        request.match_info["subject"],
        _version_param(request),
        permanent=_flag(request, "permanent"),
    )
    return _reply(deleted)


async def _compatibility(request: web.Request) -> web.Response:
    version = _version_param(request) if "version" in request.match_info else None
    schema = await _schema_body(request)
    reasons = await _store(request).test_compatibility(
        request.match_info["subject"], schema, version
    )
    result: dict[str, object] = {"is_compatible": not reasons}
    if _flag(request, "verbose"):
        result["messages"] = reasons
    return _reply(result)


async def _get_config(request: web.Request) -> web.Response:
    store = _store(request)
    subject = request.match_info.get("subject")
    if subject is None:
        level = await store.get_level()
    elif _flag(request, "defaultToGlobal"):
        level = await store.effective_level(subject)
    else:
        own = await store.get_level(subject)
        if own is None:
            raise RegistryResponseError.level_not_configured(subject)
        level = own
    return _reply({"compatibilityLevel": level.value})


async def _put_config(request: web.Request) -> web.Response:
    body = await _json_body(request)
    level = body.get("compatibility")
    if not isinstance(level, str):
        raise RegistryResponseError.invalid_level(level)
    stored = await _store(request).set_level(level, request.match_info.get("subject"))
    return _reply({"compatibility": stored.value})


async def _delete_config(request: web.Request) -> web.Response:
    old = await _store(request).delete_level(request.match_info.get("subject"))
    return _reply({"compatibilityLevel": old.value})
