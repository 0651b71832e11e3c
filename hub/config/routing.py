"""Which topic each entity a feed's adapter yields goes to: the one rule set that
``tsunagu validate`` reports and that the ingest runner obeys, so the two cannot disagree.

With ``topics: {entity: topic}`` each entity goes where it is written, if the adapter yields
it and the topic holds its schema. With a single ``topic:``, an adapter of one entity sends it
there; an adapter of several sends the entities whose canonical schema is the topic's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.config.model import Feed, Topic

if TYPE_CHECKING:
    from adapters.base import Adapter

__all__ = ["Misroute", "Routing", "route_entities"]


@dataclass(frozen=True)
class Misroute:
    """A routing problem at a key path under ``feeds.<id>``."""

    key: tuple[str, ...]
    message: str


@dataclass
class Routing:
    """Entity -> topic, and what keeps the feed from being routed as written."""

    routes: dict[str, str] = field(default_factory=dict)
    problems: list[Misroute] = field(default_factory=list)


def route_entities(feed: Feed, adapter: type[Adapter], topics: Mapping[str, Topic]) -> Routing:
    """Route ``feed``'s entities; ``topics`` are the declared topics that validated (a topic
    missing from it is reported elsewhere, as an unknown topic, and not judged here)."""
    routing = Routing()
    if feed.topics is not None:
        for entity, topic_name in feed.topics.items():
            topic = topics.get(topic_name)
            if entity not in adapter.entities:
                routing.problems.append(
                    Misroute(
                        ("topics", entity),
                        f"adapter {feed.adapter!r} yields no {entity!r} "
                        f"(it yields: {', '.join(adapter.entities)})",
                    )
                )
            elif topic is not None and topic.schema_name != adapter.entity_schemas[entity]:
                routing.problems.append(
                    Misroute(
                        ("topics", entity),
                        f"{entity} records are {adapter.entity_schemas[entity]}, but topic "
                        f"{topic_name} holds {topic.schema_name}",
                    )
                )
            else:
                routing.routes[entity] = topic_name
        return routing
    assert feed.topic is not None  # the model requires exactly one of topic and topics
    if len(adapter.entities) == 1:
        routing.routes[adapter.entities[0]] = feed.topic
        return routing
    single = topics.get(feed.topic)
    if single is None:
        return routing
    routing.routes = {
        entity: feed.topic
        for entity, schema in adapter.entity_schemas.items()
        if schema == single.schema_name
    }
    if not routing.routes:
        routing.problems.append(
            Misroute(
                ("topic",),
                f"adapter {feed.adapter!r} yields nothing of schema {single.schema_name} "
                f"(it yields {', '.join(sorted(set(adapter.entity_schemas.values())))}); "
                "use topics: {entity: topic}",
            )
        )
    return routing
