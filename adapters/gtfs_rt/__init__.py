"""GTFS-Realtime: vehicle positions, trip updates and alerts from a protobuf feed."""

from adapters.gtfs_rt.adapter import GtfsRealtimeAdapter, GtfsRealtimeOptions

__all__ = ["GtfsRealtimeAdapter", "GtfsRealtimeOptions"]
