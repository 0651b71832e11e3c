"""The default Kafka backend, on confluent-kafka (librdkafka).

One module per role, as aiokafka lays its clients out: ``producer`` (on its two
librdkafka producers, ``group_commit`` and ``per_record``), ``consumer``, ``reader``,
``admin``, ``transactions``, on ``common`` (configuration, records, errors) and
``measure`` (partition ends, offsets by time).
"""

from __future__ import annotations

from hub.kafka.confluent.backend import ConfluentBackend

__all__ = ["ConfluentBackend"]
