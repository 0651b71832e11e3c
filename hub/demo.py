"""The demo's replayed feeds: real sample feeds packaged with the hub and served at
``/demo/feeds/<file>``, so the demo deployment's own feeds have something real to ingest on
a machine with no network (see ``demo_feeds/ATTRIBUTION.md`` for their origin)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["DEMO_FEEDS", "serve_demo_feeds"]

DEMO_FEEDS = Path(__file__).parent / "demo_feeds"


def serve_demo_feeds(app: web.Application) -> None:
    """Serve the packaged feeds; aiohttp's static files answer conditional requests with
    304, so a replayed feed behaves like a publisher whose file has not changed."""
    app.router.add_static("/demo/feeds", DEMO_FEEDS, append_version=False)
