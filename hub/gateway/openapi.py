"""The gateway's OpenAPI 3.1 document: written by hand in openapi.yaml beside this module
(so it reads as documentation and is reviewed as such), served as JSON with the hub's own
address as its server."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

import yaml

from hub import __version__

__all__ = ["openapi_document"]


@cache
def _template() -> dict[str, Any]:
    text = resources.files("hub.gateway").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def openapi_document(gateway_url: str) -> dict[str, Any]:
    """The document as served by the hub at ``gateway_url`` (a fresh copy: callers may edit)."""
    document = copy.deepcopy(_template())
    document["info"]["version"] = __version__
    document["servers"] = [{"url": gateway_url.rstrip("/"), "description": "this hub"}]
    return document
