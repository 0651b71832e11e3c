"""Turn a feed of the deployment into a ready ``FeedRunner``: adapter and options, a writer per
topic (schema registered, encoder, dead-letter topic), fetcher, and the feed's saved state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
from pydantic import ValidationError

from adapters.base import Adapter
from adapters.registry import AdapterNotFoundError, adapter_class
from hub.config import Deployment
from hub.config.routing import route_entities
from hub.connections import Connections
from hub.errors import ConfigError, Problem
from hub.ingest.fetch import Fetcher, FetchPolicy
from hub.ingest.reconcile import forget_what_the_cluster_lost
from hub.ingest.runner import FeedRunner, FeedSpec
from hub.ingest.state import FeedStateStore
from hub.publish import TopicWriter
from hub.registry.binding import bound_encoder
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["build_feed_runner", "entity_topics", "make_adapter"]


def _problem(feed_id: str, key: str, message: str) -> ConfigError:
    return ConfigError([Problem("topics.yaml", None, f"feeds.{feed_id}.{key}", message)])


def make_adapter(deployment: Deployment, feed_id: str) -> Adapter:
    """The feed's adapter with its options validated (ConfigError naming the feed if not)."""
    feed = deployment.feeds[feed_id]
    try:
        cls = adapter_class(feed.adapter)
    except AdapterNotFoundError as exc:
        raise _problem(feed_id, "adapter", str(exc)) from exc
    try:
        options = cls.Options.model_validate(feed.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _problem(feed_id, f"options.{where}" if where else "options", first["msg"]) from exc
    return cls(options)


def entity_topics(deployment: Deployment, feed_id: str, adapter: Adapter) -> dict[str, str]:
    """Which topic each entity the adapter yields goes to (the rules ``validate`` checks)."""
    routing = route_entities(deployment.feeds[feed_id], type(adapter), deployment.topics)
    if routing.problems:
        raise ConfigError(
            [
                Problem("topics.yaml", None, ".".join(("feeds", feed_id, *p.key)), p.message)
                for p in routing.problems
            ]
        )
    return routing.routes


async def build_feed_runner(
    feed_id: str,
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    connections: Connections,
    store: FeedStateStore,
    *,
    session: aiohttp.ClientSession,
    download_dir: Path | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> FeedRunner:
    """Everything one feed needs to run; registers the topics' schemas if they are not yet."""
    feed = deployment.feeds[feed_id]
    adapter = make_adapter(deployment, feed_id)
    routes = entity_topics(deployment, feed_id, adapter)
    area = deployment.topic(next(iter(routes.values()))).area
    reference = adapter.reference_entities
    # Reference data (a timetable) changes once a day or less, and its next import may come
    # hours later: the store answers it then, instead of tens of MB held all day (a
    # national timetable would fill the cache each import, and peak that much higher).
    hashes = store.hashes_of(feed_id, cached=not all(e in reference for e in routes))
    writers: dict[str, TopicWriter] = {}
    by_topic: dict[str, TopicWriter] = {}
    for entity, topic_name in routes.items():
        if topic_name not in by_topic:
            topic = deployment.topic(topic_name)
            by_topic[topic_name] = TopicWriter(
                topic_name,
                deployment.dead_letter_topic(topic_name),
                await bound_encoder(deployment, catalogue, topic_name, connections.registry_for),
                await connections.producer_for(topic.area),
                key_field=topic.key,
                hashes=None if topic.every_observation else hashes,
                # A topic only of reference data (a timetable) ignores observation times
                # when deciding what changed.
                reference_data=all(e in reference for e, t in routes.items() if t == topic_name),
            )
        writers[entity] = by_topic[topic_name]
    await forget_what_the_cluster_lost(feed_id, by_topic, deployment, connections, store)
    fetcher = Fetcher(
        session, store, feed_id, auth=feed.auth, policy=FetchPolicy(), download_dir=download_dir
    )
    spec = FeedSpec(
        feed_id, feed, area, deployment.id_namespace(area), deployment.area(area).timezone
    )
    return FeedRunner(
        spec,
        adapter=adapter,
        writers=writers,
        fetcher=fetcher,
        store=store,
        progress=progress,
    )
