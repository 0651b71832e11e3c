"""The hub's exception types, each saying what the caller should do next: whose fault it is
(``blame``: the input's, a dependency's or the hub's) and whether trying again may succeed
(``retriable``), on the root ``TsunaguError`` shared with the adapters (``adapters.errors``,
where the meaning of each value is written).

Library exceptions (confluent-kafka, kafka-python, aiohttp, SQLAlchemy, fastavro)
are translated into these at the boundary, so the core only ever sees our types.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import BLAMES, Blame, TsunaguError

__all__ = [
    "BLAMES",
    "Blame",
    "BrokerStartError",
    "ConfigError",
    "DecodeError",
    "DeliveryError",
    "EncodeError",
    "HubNotRunningError",
    "IncompatibleSchemaError",
    "KafkaError",
    "KafkaUnavailableError",
    "MissingSecretError",
    "PortInUseError",
    "Problem",
    "RegistryError",
    "RegistryUnavailableError",
    "SchemaCatalogueError",
    "SchemaError",
    "TopicSetupError",
    "TsunaguError",
]


# --- configuration -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a configuration or mapping file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(TsunaguError):
    """A configuration file is invalid; carries every problem found, each located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- schemas -------------------------------------------------------------------------


class SchemaError(TsunaguError):
    """An Avro schema is missing, unparseable or unknown."""


class IncompatibleSchemaError(SchemaError):
    """A schema change breaks the subject's compatibility level."""

    def __init__(self, subject: str, level: str, reasons: list[str]) -> None:
        self.subject = subject
        self.level = level
        self.reasons = reasons
        detail = "; ".join(reasons) if reasons else "incompatible"
        super().__init__(f"schema for subject {subject!r} is not {level} compatible: {detail}")


class RegistryError(TsunaguError):
    """A schema registry answered with an error (Confluent error code kept); retriable when
    the registry says the fault is its own (5xx)."""

    blame = "dependency"

    def __init__(self, status: int, error_code: int, message: str) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(f"registry error {error_code} (HTTP {status}): {message}")

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        return self.status >= 500


class RegistryUnavailableError(RegistryError):
    """The schema registry could not be reached."""

    retriable = True

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        TsunaguError.__init__(self, f"schema registry at {url} is unreachable: {reason}")
        self.status = 503
        self.error_code = 50003


# --- encoding ------------------------------------------------------------------------


class EncodeError(TsunaguError):
    """A record does not fit its schema; the record is kept for the dead-letter topic."""

    blame = "input"

    def __init__(self, message: str, record: object = None) -> None:
        self.record = record
        super().__init__(message)


class DecodeError(TsunaguError):
    """Bytes are not a record of their topic's format (for Avro: a Confluent-framed value
    of a known schema). ``reason`` is a short fixed word, fit for a metric label."""

    blame = "input"

    def __init__(self, message: str, *, reason: str = "invalid") -> None:
        self.reason = reason
        super().__init__(message)


# --- Kafka ---------------------------------------------------------------------------


class KafkaError(TsunaguError):
    """A Kafka operation failed; retriable as the client library says of its error."""

    blame = "dependency"

    def __init__(self, message: str, *, retriable: bool = False, code: str | None = None) -> None:
        self.retriable = retriable
        self.code = code
        super().__init__(message)


class KafkaUnavailableError(KafkaError):
    """No broker of the cluster answered in time."""

    def __init__(self, bootstrap: str, reason: str) -> None:
        self.bootstrap = bootstrap
        super().__init__(f"Kafka cluster at {bootstrap} is unreachable: {reason}", retriable=True)


class DeliveryError(KafkaError):
    """Kafka did not acknowledge one or more records."""


class TopicSetupError(KafkaError):
    """Creating topics failed part-way; names what was created before the failure."""

    def __init__(self, message: str, created: list[str]) -> None:
        self.created = created
        suffix = f" (already created: {', '.join(created)})" if created else ""
        super().__init__(message + suffix)


class BrokerStartError(TsunaguError):
    """The embedded broker could not start (binary missing, port taken, crashed)."""


class PortInUseError(BrokerStartError):
    """A port the hub must listen on is already taken."""

    def __init__(self, what: str, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(f"cannot start {what}: {host}:{port} is already in use")


# --- configuration (appended) ----------------------------------------------------------


class SchemaCatalogueError(SchemaError):
    """The schema directory holds unreadable, invalid or clashing .avsc files; lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class MissingSecretError(ConfigError):
    """A secret referenced by environment variable name is not set in the environment."""

    def __init__(self, name: str, purpose: str | None = None) -> None:
        self.name = name
        needed = f" (needed for {purpose})" if purpose else ""
        super().__init__(
            [Problem("<environment>", None, name, f"environment variable is not set{needed}")]
        )


class HubNotRunningError(TsunaguError):
    """A command needs the embedded broker or registry of a hub that does not answer."""

    blame = "dependency"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"no running hub answers at {url} ({reason}); this deployment uses the embedded "
            "broker or registry, so start the hub with `tsunagu up` first or pass --hub URL"
        )
