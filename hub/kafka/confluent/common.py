"""What the confluent-kafka producer, consumer and admin share: base config, error mapping."""

from __future__ import annotations

from typing import Any, cast

import confluent_kafka

from hub.errors import KafkaError
from hub.kafka.types import Cluster, Headers, Incoming

# librdkafka is chatty on stderr about every dropped connection; errors that
# matter reach us through callbacks and exceptions instead.
_QUIET = {"log_level": 3}


def base_config(cluster: Cluster, client_id: str) -> dict[str, Any]:
    """librdkafka settings every client of ``cluster`` starts from."""
    return {
        "bootstrap.servers": cluster.bootstrap_servers,
        "client.id": client_id,
        **_QUIET,
        **dict(cluster.properties),
    }


def translate(exc: confluent_kafka.KafkaException | confluent_kafka.KafkaError) -> KafkaError:
    """The hub's KafkaError for a confluent-kafka exception or error object."""
    err = exc.args[0] if isinstance(exc, confluent_kafka.KafkaException) else exc
    if isinstance(err, confluent_kafka.KafkaError):
        return KafkaError(err.str(), retriable=bool(err.retriable()), code=err.name())
    return KafkaError(str(exc))


def incoming(messages: list[Any]) -> list[Incoming]:
    """Consumed confluent-kafka messages as Incoming records; end-of-partition events are
    skipped and any other error is raised as the hub's KafkaError."""
    out: list[Incoming] = []
    for msg in messages:
        err = msg.error()
        if err is not None:
            if err.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                continue
            raise translate(err)
        _, ts = msg.timestamp()
        out.append(
            Incoming(
                cast(str, msg.topic()),
                cast(int, msg.partition()),
                cast(int, msg.offset()),
                msg.key(),
                msg.value(),
                cast(Headers, msg.headers() or []),
                ts if ts > 0 else None,
            )
        )
    return out
