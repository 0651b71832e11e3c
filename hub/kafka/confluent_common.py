"""What the confluent-kafka producer, consumer and admin share: base config, error mapping."""

from __future__ import annotations

from typing import Any

import confluent_kafka

from hub.errors import KafkaError
from hub.kafka.types import Cluster

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
