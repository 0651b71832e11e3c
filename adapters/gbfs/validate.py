"""Every fetched GBFS file is checked against the official JSON Schema of its version.

The schemas (draft-07, no remote references) ship with the package; validators are
compiled once per file type and version. A failure names the file's URL and the JSON
path of the first problem, e.g. ``data.stations[3].lat: 'north' is not of type 'number'``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from adapters.base import MalformedFeedError

__all__ = ["VERSIONS", "validate"]

_SCHEMAS = Path(__file__).parent / "schemas"
VERSIONS = ("2.3", "3.0")


@functools.cache
def _validator(version: str, file_type: str) -> jsonschema.protocols.Validator | None:
    path = _SCHEMAS / f"v{version}" / f"{file_type}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(document: Any, version: str, file_type: str, url: str) -> None:
    """MalformedFeedError (located at ``url``) when ``document`` breaks its schema."""
    validator = _validator(version, file_type)
    if validator is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        path = _json_path(error.absolute_path)
        raise MalformedFeedError(
            f"{file_type} (GBFS {version}) breaks its schema at {path}: {error.message}", url
        )


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
