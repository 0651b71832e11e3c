"""Compile a checked mapping into a function of records: one small closure per target field."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from typing import Any

from hub.mapping.spec import FieldRule, MappingSpec

__all__ = ["UNIT_FACTORS", "MappingError", "compile_mapping"]

UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("m/s", "km/h"): 3.6,
    ("km/h", "m/s"): 1 / 3.6,
    ("m", "km"): 0.001,
    ("km", "m"): 1000.0,
    ("s", "min"): 1 / 60,
    ("min", "s"): 60.0,
    ("ms", "s"): 0.001,
    ("s", "ms"): 1000.0,
}

_TRUNCATE = {"1s": 1_000, "1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000}


class MappingError(ValueError):
    """A record the mapping cannot convert; names the target field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


Step = Callable[[Any], Any]


def _urn_parts(value: str) -> dict[str, str]:
    parts = value.split(":", 4)
    if len(parts) != 5 or parts[:2] != ["urn", "ngsi-ld"]:
        raise ValueError(f"{value!r} is not an urn:ngsi-ld:<Type>:<namespace>:<local id>")
    return {"type": parts[2], "namespace": parts[3], "local": parts[4]}


def _steps(rule: FieldRule, spec: MappingSpec, secrets: Mapping[str, bytes]) -> list[Step]:
    steps: list[Step] = []
    if rule.id_template is not None:
        template = rule.id_template
        steps.append(lambda v: template.format(**_urn_parts(v)))
    if rule.table is not None:
        table = spec.tables[rule.table]
        default, has_default = rule.default, rule.has_default

        def look_up(v: Any) -> Any:
            if v in table:
                return table[v]
            if has_default:
                return default
            raise ValueError(f"{v!r} is not in table {rule.table!r}")

        steps.append(look_up)
    if rule.unit is not None:
        factor = UNIT_FACTORS[rule.unit]
        steps.append(lambda v: v * factor)
    grid = rule.privacy.get("grid")
    if grid is not None:
        size = float(grid)
        steps.append(lambda v: round(round(v / size) * size, 9))
    truncate = rule.privacy.get("truncate")
    if truncate is not None:
        unit = _TRUNCATE[str(truncate)]
        steps.append(lambda v: v - v % unit)
    hashing = rule.privacy.get("hash")
    if hashing is not None:
        name = hashing.get("secret_env") if isinstance(hashing, dict) else None
        key = secrets.get(name) if name else None
        if key is None and name:
            key = os.environ.get(name, "").encode() or None
        if key is None:
            raise MappingError(rule.target, f"hash needs the secret in ${name}")
        secret = key
        steps.append(lambda v: hmac.new(secret, str(v).encode(), hashlib.sha256).hexdigest())
    return steps


def compile_mapping(
    spec: MappingSpec,
    source_schema: dict[str, Any],
    target_schema: dict[str, Any],
    secrets: Mapping[str, bytes] | None = None,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function converting one source record (as decoded) into a target record."""
    del source_schema  # checked by check_mapping; resolution happened at decode time
    nullable = {
        f["name"]
        for f in target_schema.get("fields", [])
        if isinstance(f["type"], list) and "null" in f["type"]
    }
    plan = [
        (
            rule.target,
            rule.source,
            rule.const,
            rule.has_const,
            _steps(rule, spec, secrets or {}),
            rule.default,
            rule.has_default and rule.table is None,
        )
        for rule in spec.rules
    ]

    def convert(record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for target, source, const, has_const, steps, default, has_default in plan:
            if has_const:
                out[target] = const
                continue
            value = record.get(source) if source is not None else None
            if value is None:
                if has_default:
                    out[target] = default
                elif target in nullable:
                    out[target] = None
                else:
                    raise MappingError(target, f"{source!r} is null and {target!r} is required")
                continue
            try:
                for step in steps:
                    value = step(value)
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                raise MappingError(target, str(exc)) from exc
            out[target] = value
        return out

    return convert
