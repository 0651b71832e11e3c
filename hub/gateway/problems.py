"""Problem Details (RFC 9457) answers: every error the gateway gives is application/problem+json."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

__all__ = ["PROBLEM_JSON", "problem"]

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> web.HTTPException:
    """An aiohttp HTTP exception carrying a problem+json body (raise it)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    exc = _ProblemException(text=orjson.dumps(body).decode(), content_type=PROBLEM_JSON)
    exc.set_status(status, title)
    return exc


class _ProblemException(web.HTTPException):
    # aiohttp wants a status on the class; each instance sets its own with set_status.
    status_code = 500
