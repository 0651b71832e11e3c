"""Validating real HTTP exchanges with a running gateway against its OpenAPI document
(openapi-core), and remembering which operations were exercised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import orjson
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


def load_spec(document: dict[str, Any]) -> OpenAPI:
    """The document as openapi-core reads it (which validates the document itself)."""
    # openapi-core reads application/json only; JSON-LD and problem+json are JSON too,
    # and an event stream is text.
    json_types = ("application/ld+json", "application/problem+json")
    deserializers: dict[str, Any] = dict.fromkeys(json_types, _json)
    deserializers["text/event-stream"] = _text
    config = Config(extra_media_type_deserializers=deserializers)
    return OpenAPI.from_dict(document, config=config)


def _json(data: bytes, **_: Any) -> Any:
    # openapi-core passes media-type parameters (charset...) as keywords.
    return orjson.loads(data)


def _text(data: bytes, **_: Any) -> str:
    return data.decode()


@dataclass
class SentRequest:
    """What the client sent, in the shape openapi-core reads."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class ReceivedResponse:
    """What the gateway answered, in the shape openapi-core reads."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


@dataclass
class Validator:
    spec: OpenAPI
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        read: bool = True,
    ) -> tuple[int, bytes]:
        """Make the request, validate the response (and an accepted request), return
        (status, body)."""
        headers = dict(headers or {})
        async with session.request(method, url, data=body, headers=headers) as response:
            # An endless stream is checked by its first line.
            data = await response.read() if read else await response.content.readline()
            request = _sent(method, url, body, headers)
            received = ReceivedResponse(
                response.status,
                response.headers.get("Content-Type", "").lower(),
                Headers(list(response.headers.items())),
                data,
            )
        if response.status < 400:
            # Requests the gateway refused are often deliberately invalid: only check
            # that the ones it accepted were valid by the document.
            self.spec.validate_request(request)
        self.spec.validate_response(request, received)
        self.seen.add((method.lower(), urlsplit(url).path, response.status))
        return response.status, data

    def check(self, method: str, url: str, status: int, content_type: str, data: bytes) -> None:
        """Validate an answer given as data (to show that validation can fail)."""
        request = _sent(method, url, None, {})
        response = ReceivedResponse(status, content_type, Headers(), data)
        self.spec.validate_response(request, response)


def _sent(method: str, url: str, body: bytes | None, headers: dict[str, Any]) -> SentRequest:
    parts = urlsplit(url)
    return SentRequest(
        f"{parts.scheme}://{parts.netloc}",
        parts.path,
        method.lower(),
        body,
        headers.get("Content-Type", "application/json").lower(),
        RequestParameters(
            query=ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True)),
            header=Headers(headers),
            cookie=ImmutableMultiDict(),
            path={},
        ),
    )
