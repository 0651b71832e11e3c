"""An async client for Confluent-compatible schema registries, embedded or external.

Registry answers and transport failures become `hub.errors` types at this boundary:
`RegistryResponseError` (a RegistryError keeping the Confluent code and message),
`RegistryUnavailableError` when the registry cannot be reached, and
`IncompatibleSchemaError` when a registration breaks the subject's compatibility level.
"""

from __future__ import annotations

import base64
import json
from types import TracebackType
from typing import Self
from urllib.parse import quote

import aiohttp

from hub.errors import IncompatibleSchemaError, RegistryError, RegistryUnavailableError
from hub.registry.codes import (
    INCOMPATIBLE,
    SCHEMA_NOT_FOUND,
    SUBJECT_NOT_FOUND,
    VERSION_NOT_FOUND,
    RegistryResponseError,
)
from hub.registry.compatibility import CompatibilityLevel

__all__ = ["RegistryClient"]

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_ACCEPT = f"{_CONTENT_TYPE}, application/vnd.schemaregistry+json, application/json"


def _basic_auth(user: str, password: str) -> str:
    # Built by hand: aiohttp.BasicAuth is deprecated and its replacement is too new to rely on.
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _segment(value: str) -> str:
    # Subjects may hold "/" or "%", which must not become path structure.
    return quote(value, safe="")


class RegistryClient:
    """Talks to one schema registry at `base_url` (e.g. ``http://127.0.0.1:8080/registry``).

    Pass `session` to share a ClientSession (it is then not closed here); otherwise the
    client creates one on first use and closes it in `close` / ``async with``. `auth` is
    an optional (user, password) pair for basic auth; `timeout` bounds each request in
    seconds. Schema texts fetched by id are cached, since registry ids are immutable.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self._authorization = _basic_auth(*auth) if auth else None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._schemas: dict[int, str] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; safe to call more than once."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # --- operations --------------------------------------------------------------------

    async def register(self, subject: str, schema_str: str) -> int:
        """Register `schema_str` under `subject` and return its global id.

        Registering a schema the subject already has returns its id without a new
        version. Raises IncompatibleSchemaError if the subject's level rejects it.
        Without write credentials (401/403) a schema the subject already has is found
        by a lookup, which anyone may do; only a new one needs the right to write.
        """
        try:
            reply = await self._request(
                "POST", f"/subjects/{_segment(subject)}/versions", {"schema": schema_str}
            )
        except RegistryResponseError as exc:
            if exc.status == 409 and exc.error_code in {INCOMPATIBLE, 409}:
                raise await self._incompatible(subject, schema_str, exc) from exc
            if exc.status in {401, 403}:
                found = await self.lookup(subject, schema_str)
                if found is not None:
                    return found
            raise
        return self._int(reply, "id")

    async def lookup(self, subject: str, schema_str: str) -> int | None:
        """The id of `schema_str` if `subject` has it, else None."""
        try:
            reply = await self._request(
                "POST", f"/subjects/{_segment(subject)}", {"schema": schema_str}
            )
        except RegistryResponseError as exc:
            if exc.error_code in {SUBJECT_NOT_FOUND, SCHEMA_NOT_FOUND}:
                return None
            raise
        return self._int(reply, "id")

    async def get_schema(self, schema_id: int) -> str:
        """The schema text with global id `schema_id` (RegistryError 40403 if unknown)."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        reply = await self._request("GET", f"/schemas/ids/{int(schema_id)}")
        schema = self._str(reply, "schema")
        self._schemas[schema_id] = schema
        return schema

    async def latest(self, subject: str) -> tuple[int, int, str] | None:
        """(id, version, schema) of `subject`'s latest version, or None if it has none."""
        try:
            reply = await self._request("GET", f"/subjects/{_segment(subject)}/versions/latest")
        except RegistryResponseError as exc:
            if exc.error_code in {SUBJECT_NOT_FOUND, VERSION_NOT_FOUND}:
                return None
            raise
        schema_id = self._int(reply, "id")
        schema = self._str(reply, "schema")
        self._schemas.setdefault(schema_id, schema)
        return schema_id, self._int(reply, "version"), schema

    async def check_compatibility(
        self, subject: str, schema_str: str, version: int | str | None = "latest"
    ) -> list[str]:
        """Why `schema_str` is incompatible with `subject`; [] if compatible.

        `version` picks the version to test against ("latest" or a number); None tests
        against every version the subject's level covers (what registering would check).
        A subject that does not exist accepts anything.
        """
        path = f"/compatibility/subjects/{_segment(subject)}/versions"
        if version is not None:
            path += f"/{_segment(str(version))}"
        try:
            reply = await self._request("POST", path, {"schema": schema_str}, {"verbose": "true"})
        except RegistryResponseError as exc:
            if exc.error_code in {SUBJECT_NOT_FOUND, VERSION_NOT_FOUND} and version in {
                None,
                "latest",
                -1,
            }:
                return []
            raise
        if self._field(reply, "is_compatible") is True:
            return []
        messages = reply.get("messages") if isinstance(reply, dict) else None
        if isinstance(messages, list) and messages:
            return [str(message) for message in messages]
        # Registries without verbose support say only "no".
        return [f"incompatible with version {version or 'any'} of subject '{subject}'"]

    async def get_compatibility(self, subject: str | None = None) -> CompatibilityLevel:
        """The global level, or the level that applies to `subject` (its own, else global)."""
        if subject is None:
            reply = await self._request("GET", "/config")
        else:
            reply = await self._request(
                "GET", f"/config/{_segment(subject)}", query={"defaultToGlobal": "true"}
            )
        return self._level(reply, "compatibilityLevel")

    async def set_compatibility(
        self, level: CompatibilityLevel | str, subject: str | None = None
    ) -> CompatibilityLevel:
        """Set the global level, or `subject`'s own; return the level now in force."""
        path = "/config" if subject is None else f"/config/{_segment(subject)}"
        value = level.value if isinstance(level, CompatibilityLevel) else str(level).upper()
        reply = await self._request("PUT", path, {"compatibility": value})
        return self._level(reply, "compatibility")

    async def versions(self, subject: str) -> list[int]:
        """The live version numbers of `subject`, oldest first ([] if it has none)."""
        try:
            reply = await self._request("GET", f"/subjects/{_segment(subject)}/versions")
        except RegistryResponseError as exc:
            if exc.error_code == SUBJECT_NOT_FOUND:
                return []
            raise
        if not isinstance(reply, list) or not all(isinstance(v, int) for v in reply):
            raise self._malformed(reply)
        return [int(v) for v in reply]

    async def delete_version(self, subject: str, version: int) -> int:
        """Soft-delete one version of `subject` (its schema id stays readable)."""
        reply = await self._request(
            "DELETE", f"/subjects/{_segment(subject)}/versions/{int(version)}"
        )
        if not isinstance(reply, int) or isinstance(reply, bool):
            raise self._malformed(reply)
        return reply

    async def subjects(self) -> list[str]:
        """Every subject with a live version."""
        reply = await self._request("GET", "/subjects")
        if not isinstance(reply, list):
            raise self._malformed(reply)
        return [str(subject) for subject in reply]

    # --- plumbing ----------------------------------------------------------------------

    def _session_for_request(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the ClientSession given to RegistryClient is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        query: dict[str, str] | None = None,
    ) -> object:
        url = self.base_url + path
        headers = {"Accept": _ACCEPT}
        if self._authorization:
            headers["Authorization"] = self._authorization
        data = None
        if body is not None:
            headers["Content-Type"] = _CONTENT_TYPE
            data = json.dumps(body).encode()
        try:
            async with self._session_for_request().request(
                method,
                url,
                data=data,
                params=query,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            # ClientConnectionError covers refused, reset and dropped connections;
            # TimeoutError (= asyncio.TimeoutError) covers aiohttp's request timeouts.
            reason = str(exc) or type(exc).__name__
            raise RegistryUnavailableError(self.base_url, reason) from exc
        except aiohttp.ClientError as exc:
            raise RegistryError(0, -1, f"{method} {url}: {exc}") from exc
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
            if status < 400:
                raise RegistryResponseError(
                    status, -1, f"{method} {url}: response is not JSON: {raw[:200]!r}"
                ) from None
        if status >= 400:
            raise self._error(status, payload, raw)
        return payload

    @staticmethod
    def _error(status: int, payload: object, raw: bytes) -> RegistryResponseError:
        if isinstance(payload, dict) and isinstance(payload.get("error_code"), int):
            return RegistryResponseError(
                status, payload["error_code"], str(payload.get("message", ""))
            )
        # Not a registry's answer (a proxy, a wrong URL): keep the HTTP status as the code.
        text = raw[:200].decode("utf-8", "replace") or "no body"
        return RegistryResponseError(status, status, text)

    def _field(self, reply: object, name: str) -> object:
        if not isinstance(reply, dict) or name not in reply:
            raise self._malformed(reply)
        return reply[name]

    def _int(self, reply: object, name: str) -> int:
        value = self._field(reply, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._malformed(reply)
        return value

    def _str(self, reply: object, name: str) -> str:
        value = self._field(reply, name)
        if not isinstance(value, str):
            raise self._malformed(reply)
        return value

    def _level(self, reply: object, name: str) -> CompatibilityLevel:
        try:
            return CompatibilityLevel(self._str(reply, name).upper())
        except ValueError:
            raise self._malformed(reply) from None

    def _malformed(self, reply: object) -> RegistryResponseError:
        return RegistryResponseError(
            502, -1, f"unexpected answer from the registry at {self.base_url}: {reply!r:.200}"
        )

    async def _incompatible(
        self, subject: str, schema_str: str, error: RegistryResponseError
    ) -> IncompatibleSchemaError:
        # The 409 body is one sentence; ask for the level and the itemised reasons so the
        # caller gets them as data. Best effort: the 409 message stands in if that fails.
        try:
            level = (await self.get_compatibility(subject)).value
            reasons = await self.check_compatibility(subject, schema_str, None)
        except RegistryError:
            return IncompatibleSchemaError(subject, "the configured", [error.message])
        return IncompatibleSchemaError(subject, level, reasons or [error.message])
