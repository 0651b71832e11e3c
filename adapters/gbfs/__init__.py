"""GBFS 2.3 and 3.0 shared-mobility feeds (see ``adapter``)."""

from adapters.gbfs.adapter import GbfsAdapter, GbfsOptions

__all__ = ["GbfsAdapter", "GbfsOptions"]
