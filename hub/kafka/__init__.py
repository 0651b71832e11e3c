"""Kafka access behind one small interface: produce, consume in groups, administer topics."""

from hub.kafka.api import Admin, Backend, Consumer, Producer, Reader, TransactionalProducer
from hub.kafka.backends import DEFAULT_BACKEND, backend_names, get_backend
from hub.kafka.pipeline import deliver_chunks
from hub.kafka.types import (
    Cluster,
    CreateTopicsResult,
    Delivery,
    Headers,
    Incoming,
    Outgoing,
    TopicPartition,
    TopicSpec,
)

__all__ = [
    "DEFAULT_BACKEND",
    "Admin",
    "Backend",
    "Cluster",
    "Consumer",
    "CreateTopicsResult",
    "Delivery",
    "Headers",
    "Incoming",
    "Outgoing",
    "Producer",
    "Reader",
    "TopicPartition",
    "TopicSpec",
    "TransactionalProducer",
    "backend_names",
    "deliver_chunks",
    "get_backend",
]
