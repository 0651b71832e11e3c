"""Problem Details (RFC 9457) refusals of access: 401, 403 and 429 as application/problem+json."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

__all__ = ["PROBLEM_JSON", "AccessProblem", "access_problem"]

PROBLEM_JSON = "application/problem+json"

_TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}


class AccessProblem(web.HTTPException):
    """A refusal carrying a problem+json body; raise it from a handler."""

    # aiohttp wants a status on the class; each instance sets its own with set_status.
    status_code = 500


def access_problem(
    status: int,
    detail: str,
    *,
    instance: str,
    reason: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> AccessProblem:
    """A problem+json refusal: `reason` is our machine-readable code (``revoked-key``...),
    `instance` the request path it answers."""
    title = _TITLES.get(status, "Error")
    body = {
        # about:blank: the HTTP status says what kind of problem it is; `reason` refines it.
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "reason": reason,
        **extra,
    }
    exc = AccessProblem(
        text=orjson.dumps(body).decode(), content_type=PROBLEM_JSON, headers=headers
    )
    exc.set_status(status, title)
    return exc
