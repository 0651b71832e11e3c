"""GTFS static feeds, GTFS-JP included (see ``adapter``)."""

from adapters.gtfs.adapter import GtfsAdapter, GtfsOptions

__all__ = ["GtfsAdapter", "GtfsOptions"]
