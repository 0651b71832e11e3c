"""A feed's saved state checked against the cluster it publishes to, at start-up.

The store remembers what a feed published (content hashes) and what its sources last
answered (ETag, Last-Modified), so a restart neither re-downloads nor re-publishes. That
memory is only true of the cluster it was made against: the embedded broker keeps nothing
across restarts, and a topic can be deleted or a cluster recreated. A feed that trusted it
blindly would answer every fetch with "not modified" and leave its topics empty for good.

The check is by content, so it holds for any cluster: a topic of the feed that retains no
record at all cannot hold anything the store says was published there, so the feed forgets
its hashes for that topic and its sources' validators, and its next cycle publishes again
(unchanged entities on the feed's other topics are still skipped by hash). A topic emptied
by retention (positions kept an hour, the hub down for two) is republished the same way,
which is what a subscriber reading it then needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from hub.config import Deployment
from hub.connections import Connections
from hub.errors import KafkaError
from hub.ingest.state import FeedStateStore

__all__ = ["empty_topics", "forget_what_the_cluster_lost"]

log = logging.getLogger(__name__)


async def empty_topics(
    deployment: Deployment, connections: Connections, topics: Iterable[str]
) -> list[str]:
    """Those of ``topics`` that retain no record in their cluster (a topic that cannot be
    measured is left out: the check must never stop a feed from starting)."""
    empty = []
    for name in topics:
        cluster = connections.cluster_for(deployment.topic(name).area)
        reader = connections.backend.reader(cluster, name)
        try:
            marks = await reader.watermarks()
        except KafkaError as exc:
            log.warning("cannot tell whether %s holds records: %s", name, exc)
            continue
        finally:
            await reader.close()
        # (first retained, end) per partition: equal everywhere means nothing is retained.
        if all(high <= low for low, high in marks.values()):
            empty.append(name)
    return empty


async def forget_what_the_cluster_lost(
    feed_id: str,
    topics: Iterable[str],
    deployment: Deployment,
    connections: Connections,
    store: FeedStateStore,
) -> list[str]:
    """Make the feed's next cycle publish again what its empty topics lost; the topics
    whose state was forgotten."""
    empty = await empty_topics(deployment, connections, topics)
    if not empty:
        return []
    for name in empty:
        dropped = await store.forget_topic(feed_id, name)
        if dropped:
            log.info(
                "feed %s: %s holds no records but %d entities were published there; "
                "publishing them again",
                feed_id,
                name,
                dropped,
            )
    # The sources too: a 304 from an unchanged source would otherwise stop the next cycle
    # before it reaches the entities just forgotten.
    await store.forget_validators(feed_id)
    return empty
