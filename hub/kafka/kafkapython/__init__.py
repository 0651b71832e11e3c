"""The optional pure-Python Kafka backend, on kafka-python (``pip install tsunagu[kafka-python]``).

kafka-python's calls block (metadata look-ups, a full buffer), so every call
into it runs in a worker thread; its futures complete on its sender thread and
resolve one asyncio future per batch.

One module per role, as aiokafka lays its clients out: ``producer``, ``consumer``,
``reader``, ``admin``, on ``common`` (configuration, records, errors) and ``measure``
(partition ends, offsets by time).
"""

from __future__ import annotations

try:
    import kafka  # noqa: F401 - only checks the optional extra is installed
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the kafka-python backend needs the optional extra: pip install 'tsunagu[kafka-python]'"
    ) from exc

from hub.kafka.kafkapython.backend import KafkaPythonBackend

__all__ = ["KafkaPythonBackend"]
