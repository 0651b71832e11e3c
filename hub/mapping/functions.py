"""Python functions a mapping calls by name, found through the entry-point group
``tsunagu.mapping_functions`` (so an area ships its own without forking the hub)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from hub.errors import TsunaguError

__all__ = ["ENTRY_POINT_GROUP", "MappingFunctionError", "function_names", "mapping_function"]

ENTRY_POINT_GROUP = "tsunagu.mapping_functions"


class MappingFunctionError(TsunaguError, LookupError):
    """No installed function has the name, or it cannot be imported: the deployment's
    fault (its mapping names it), found when the mapping is loaded."""


def function_names() -> list[str]:
    """Every function a mapping may name."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def mapping_function(name: str) -> Callable[..., Any]:
    """The function registered as ``name``."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(function_names()) or "none installed"
        raise MappingFunctionError(
            f"no mapping function {name!r} in entry-point group {ENTRY_POINT_GROUP} "
            f"(known: {known})"
        )
    try:
        function = found[0].load()
    except Exception as exc:  # an import error of someone else's package, told as such
        raise MappingFunctionError(
            f"mapping function {name!r} ({found[0].value}) cannot be loaded: {exc}"
        ) from exc
    if not callable(function):
        raise MappingFunctionError(f"mapping function {name!r} ({found[0].value}) is not callable")
    result: Callable[..., Any] = function
    return result
