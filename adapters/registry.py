"""Which adapter a feed's ``adapter:`` names: built-ins in a lazy table, others by entry point.

A city ships its own adapter as a package declaring, in its pyproject.toml::

    [project.entry-points."tsunagu.adapters"]
    my-city-csv = "my_city.adapter:MyCityCsvAdapter"

Built-in modules are imported only when a feed uses them, so a deployment without
GTFS-Realtime feeds never imports protobuf.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import cast

from adapters.base import Adapter
from adapters.errors import TsunaguError

__all__ = ["ENTRY_POINT_GROUP", "AdapterNotFoundError", "adapter_class", "adapter_names"]

ENTRY_POINT_GROUP = "tsunagu.adapters"

# name -> "module:class"
BUILTIN: dict[str, str] = {
    "gbfs": "adapters.gbfs:GbfsAdapter",
    "gtfs": "adapters.gtfs:GtfsAdapter",
    "gtfs-rt": "adapters.gtfs_rt:GtfsRealtimeAdapter",
}


class AdapterNotFoundError(TsunaguError, LookupError):
    """No built-in or installed adapter has the name (the deployment's fault)."""


def _installed() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def adapter_names() -> list[str]:
    """Every adapter name a feed may use: built-ins and installed plug-ins."""
    return sorted({*BUILTIN, *_installed()})


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class called ``name``; AdapterNotFoundError listing the known names."""
    target = BUILTIN.get(name) or _installed().get(name)
    if target is None:
        known = ", ".join(adapter_names()) or "none"
        raise AdapterNotFoundError(f"unknown adapter {name!r} (known: {known})")
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AdapterNotFoundError(f"adapter {name!r} cannot be imported: {exc}") from exc
    cls = getattr(module, attribute)
    if not hasattr(cls, "reference_entities"):
        # Installed adapters written before the protocol named it have no reference data:
        # a subclass says so, leaving the plug-in's own class as it was.
        cls = type(cls.__name__, (cls,), {"reference_entities": frozenset()})
    return cast("type[Adapter]", cls)
