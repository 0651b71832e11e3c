"""The deployment described by topics.yaml, as frozen pydantic models.

Unknown keys are errors everywhere. Rules that relate one part of the file to another
(a topic's area exists, a feed's topic exists, ...) live in hub.config.checks, so that
they can be reported even when some other part of the file is invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.broker import is_loopback
from hub.config.bounds import Between, DurationBetween
from hub.config.duration import MAX_DURATION
from hub.config.secrets import (
    EnvVarName,
    check_url_has_no_secret,
    resolve_secret,
)
from hub.config.size import parse_size

__all__ = [
    "DEFAULT_RETENTION",
    "Area",
    "AuditSettings",
    "Bridge",
    "Deployment",
    "EmbeddedBrokerSettings",
    "Feed",
    "FeedAuth",
    "HttpSettings",
    "HubSettings",
    "KafkaCluster",
    "RegistryConnection",
    "Schedule",
    "StoreSettings",
    "Topic",
]

#: Retention of a topic whose cleanup includes delete and that names none.
DEFAULT_RETENTION = timedelta(days=7)

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_FEED_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_ID_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")
_HOST_PORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
# librdkafka properties that have a dedicated key, so client_config must not set them.
_DEDICATED_PROPERTIES = {
    "bootstrap.servers": "bootstrap_servers",
    "metadata.broker.list": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_username_env",
    "ssl.ca.location": "ssl_ca_location",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _empty_if_none(value: object) -> object:
    # `feeds:` followed only by commented-out examples parses as null: treat it as empty.
    return {} if value is None else value


def _name_checker(pattern: re.Pattern[str], what: str, rule: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{what} {value!r} is invalid: {rule}")
        return value

    return check


AreaName = Annotated[
    str,
    AfterValidator(
        _name_checker(_NAME, "area name", "use lowercase letters, digits and '-', starting a-z")
    ),
]
FeedId = Annotated[
    str,
    AfterValidator(
        _name_checker(_FEED_ID, "feed id", "use lowercase letters, digits, '_' and '-'")
    ),
]
BridgeName = Annotated[
    str,
    AfterValidator(
        _name_checker(_FEED_ID, "bridge name", "use lowercase letters, digits, '_' and '-'")
    ),
]
NonEmpty = Annotated[str, Field(min_length=1)]

# Every number in the file has a range, so `validate` refuses what Kafka or the clock
# would choke on later (hub.config.bounds).
Port = Annotated[int, Between(0, 65535)]
# Kafka sets no maximum, but a topic of more than ten thousand partitions is a typo.
Partitions = Annotated[int, Between(1, 10_000)]
# The Kafka protocol's INT16; a factor larger than the cluster's brokers fails at apply.
ReplicationFactor = Annotated[int, Between(1, 32767)]
# A budget below 64 KiB holds a handful of records; above 64 GiB is a typo for this machine.
MemoryBudget = Annotated[int, Between(64 * 1024, 64 * 1024**3), BeforeValidator(parse_size)]
_SECOND = timedelta(seconds=1)
Retention = Annotated[timedelta, DurationBetween(_SECOND, MAX_DURATION)]
UpdateFrequency = Annotated[timedelta, DurationBetween(_SECOND, timedelta(days=3650))]
# Polling faster than once a second hammers the source; slower than monthly is a mistake
# (reference data that changes yearly is still worth checking for corrections).
PollInterval = Annotated[timedelta, DurationBetween(_SECOND, timedelta(days=30))]


def _check_url(value: str, schemes: tuple[str, ...] | None, instead: str) -> str:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.scheme == "file"):
        raise ValueError(f"{value!r} is not an absolute URL")
    if schemes is not None and parts.scheme not in schemes:
        raise ValueError(f"URL scheme must be {' or '.join(schemes)} (got {parts.scheme!r})")
    check_url_has_no_secret(value, instead)
    return value


def _source_url(value: str) -> str:
    instead = "auth: {header or query_param: ..., value_env: ...}"
    if value.startswith("/") and not value.startswith("//"):
        # A path on this hub itself (its demo feeds): resolved against hub.http below, so
        # the feeds follow the hub when its port changes.
        check_url_has_no_secret(value, instead)
        return value
    return _check_url(value, None, instead)


SourceUrl = Annotated[str, AfterValidator(_source_url)]


# --- hub -------------------------------------------------------------------------------


class HttpSettings(_Model):
    """Where the hub's HTTP server (gateway, registry API, metrics) listens."""

    host: NonEmpty = "127.0.0.1"
    port: Port = 8080
    # Browser origins allowed to call the gateway (e.g. https://maas.example), or "*".
    cors_origins: list[NonEmpty] = Field(default_factory=list)
    # How clients reach the hub when that is not host:port (a Service, an ingress), e.g.
    # http://tsunagu.tsunagu.svc:8080; /v1/info and the catalogue give out this address.
    public_url: NonEmpty | None = None
    # Tell every /v1/info caller the Kafka bootstrap addresses. Only for clusters with
    # authentication and ACLs of their own: a listener without them lets whoever reaches
    # it read every topic, whatever the gateway grants. By default only callers on this
    # machine (for the embedded broker) and keys granted read and publish on "*" get them.
    advertise_kafka: bool = False


class StoreSettings(_Model):
    """The runtime store's SQLAlchemy URL, inline (no password) or by environment variable."""

    url: NonEmpty = "sqlite:///tsunagu.db"
    url_env: EnvVarName | None = None

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str) -> str:
        check_url_has_no_secret(value, "url_env")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> StoreSettings:
        if self.url_env is not None and "url" in self.model_fields_set:
            raise ValueError("give url or url_env, not both")
        return self

    def resolved_url(self) -> str:
        """The store URL, read from the environment when given by url_env."""
        if self.url_env is None:
            return self.url
        return resolve_secret(self.url_env, "hub.store.url_env")


def _loopback(value: str) -> str:
    if not is_loopback(value):
        raise ValueError(
            f"the embedded broker listens on loopback only (127.0.0.1, ::1 or localhost, got "
            f"{value!r}): it has no authentication, so anyone reaching it reads every topic. "
            "For other machines, configure a Kafka cluster with authentication and ACLs"
        )
    return value


class EmbeddedBrokerSettings(_Model):
    """Where the embedded broker listens when no Kafka cluster is configured (port 0: any)."""

    host: Annotated[str, AfterValidator(_loopback)] = "127.0.0.1"
    port: Port = 0


class AuditSettings(_Model):
    """Where the audit log's secret key and its checkpoint live: outside the store, so someone
    who can write the store can neither rewrite the log unseen nor cut its newest entries.
    Unset, both sit beside a SQLite store (the key made on first start); the environment
    variable TSUNAGU_AUDIT_KEY, when set, holds the key itself and wins over key_file."""

    key_file: NonEmpty | None = None
    checkpoint_file: NonEmpty | None = None


class LatestStateSettings(_Model):
    """Memory the gateway may hold for ``GET /v1/topics/{topic}/latest`` (the latest record
    per key, kept in each gateway process): a topic whose state would pass its budget, or
    would take the total past the gateway's, is refused with a problem instead."""

    max_bytes_per_topic: MemoryBudget = 64 * 1024 * 1024
    max_bytes_total: MemoryBudget = 256 * 1024 * 1024

    @model_validator(mode="after")
    def _total_holds_a_topic(self) -> LatestStateSettings:
        if self.max_bytes_per_topic > self.max_bytes_total:
            raise ValueError("max_bytes_per_topic must not exceed max_bytes_total")
        return self


class GatewaySettings(_Model):
    """Settings of the gateway (streams, latest state, publishing over HTTP)."""

    latest: LatestStateSettings = LatestStateSettings()


class HubSettings(_Model):
    """Settings of the hub process itself."""

    http: HttpSettings = HttpSettings()
    store: StoreSettings = StoreSettings()
    audit: AuditSettings = AuditSettings()
    kafka_client: Literal["confluent", "kafka-python"] = "confluent"
    embedded_broker: EmbeddedBrokerSettings = EmbeddedBrokerSettings()
    gateway: GatewaySettings = GatewaySettings()
    # Serve the packaged sample feeds at /demo/feeds/ (the demo deployment replays them).
    demo_feeds: bool = False

    @property
    def self_url(self) -> str:
        """How this hub process reaches its own HTTP server (a wildcard bind is loopback)."""
        host = self.http.host
        if host in {"0.0.0.0", "::"}:  # noqa: S104 - a client's view of a wildcard bind
            host = "127.0.0.1"
        return f"http://{host}:{self.http.port}"


# --- connections -----------------------------------------------------------------------


def _join_servers(value: object) -> object:
    # A YAML list of servers reads better for long lists; Kafka wants one comma list.
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return value


def _check_servers(value: str) -> str:
    servers = [s.strip() for s in value.split(",")]
    for server in servers:
        match = _HOST_PORT.fullmatch(server)
        if not match or not 0 < int(match.group(1)) <= 65535:
            raise ValueError(f"bootstrap server {server!r} must be host:port (port 1-65535)")
    return ",".join(servers)


def _stringify(value: object) -> object:
    # librdkafka properties are strings; YAML makes `linger.ms: 5` an int.
    if not isinstance(value, dict):
        return _empty_if_none(value)
    out: dict[object, object] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            out[key] = str(item)
        else:
            out[key] = item
    return out


class KafkaCluster(_Model):
    """How to reach one Kafka cluster; secrets only as environment variable names."""

    bootstrap_servers: Annotated[
        str, BeforeValidator(_join_servers), AfterValidator(_check_servers)
    ]
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username_env: EnvVarName | None = None
    sasl_password_env: EnvVarName | None = None
    ssl_ca_location: NonEmpty | None = None
    client_config: Annotated[dict[str, str], BeforeValidator(_stringify)] = Field(
        default_factory=dict
    )

    @field_validator("client_config")
    @classmethod
    def _no_dedicated_properties(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in _DEDICATED_PROPERTIES:
                raise ValueError(f"set {key!r} with the {_DEDICATED_PROPERTIES[key]} key instead")
        return value

    @model_validator(mode="after")
    def _consistent_security(self) -> KafkaCluster:
        sasl = self.security_protocol.startswith("SASL_")
        tls = self.security_protocol.endswith("SSL")
        if sasl and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_mechanism")
        if sasl and (self.sasl_username_env is None or self.sasl_password_env is None):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_username_env "
                "and sasl_password_env"
            )
        has_sasl = any(
            v is not None
            for v in (self.sasl_mechanism, self.sasl_username_env, self.sasl_password_env)
        )
        if not sasl and has_sasl:
            raise ValueError("sasl_* keys need security_protocol SASL_PLAINTEXT or SASL_SSL")
        if not tls and self.ssl_ca_location is not None:
            raise ValueError("ssl_ca_location needs security_protocol SSL or SASL_SSL")
        return self

    @property
    def addresses(self) -> tuple[str, ...]:
        """The bootstrap servers, one host:port each."""
        return tuple(self.bootstrap_servers.split(","))

    @property
    def identity(self) -> frozenset[str]:
        """What makes two entries the same cluster: their bootstrap addresses, case-folded.

        Credentials do not count: two areas may reach one cluster as different users.
        """
        return frozenset(a.lower() for a in self.addresses)

    def client_properties(self, purpose: str = "kafka") -> dict[str, str]:
        """librdkafka properties for this cluster, secrets read from the environment now."""
        props = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            props["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username_env is not None:
            props["sasl.username"] = resolve_secret(
                self.sasl_username_env, f"{purpose}.sasl_username_env"
            )
        if self.sasl_password_env is not None:
            props["sasl.password"] = resolve_secret(
                self.sasl_password_env, f"{purpose}.sasl_password_env"
            )
        if self.ssl_ca_location is not None:
            props["ssl.ca.location"] = self.ssl_ca_location
        props.update(self.client_config)
        return props


class RegistryConnection(_Model):
    """How to reach a Confluent-compatible schema registry."""

    url: NonEmpty
    username_env: EnvVarName | None = None
    password_env: EnvVarName | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_url(value, ("http", "https"), "username_env and password_env")

    @model_validator(mode="after")
    def _both_or_neither(self) -> RegistryConnection:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("give both username_env and password_env, or neither")
        return self


# --- areas and topics ------------------------------------------------------------------


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        message = f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)"
        raise ValueError(message) from None
    return value


class Area(_Model):
    """A data area: a city, region or domain with its own vocabulary and maybe its own cluster."""

    title: NonEmpty | None = None
    kafka: KafkaCluster | None = None
    registry: RegistryConnection | None = None
    id_namespace: (
        Annotated[
            str,
            AfterValidator(
                _name_checker(
                    _ID_NAMESPACE, "id_namespace", "use letters, digits, '.', '_' and '-'"
                )
            ),
        ]
        | None
    ) = None
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "Asia/Tokyo"
    # The JSON-LD @context of the area's NGSI-LD entities (its Smart Data Models, then the
    # NGSI-LD core context), for bridges that write NGSI-LD into the area.
    ngsi_ld_context: list[NonEmpty] = Field(
        default_factory=lambda: ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"]
    )

    @property
    def zone(self) -> ZoneInfo:
        """The area's time zone."""
        return ZoneInfo(self.timezone)


def _normalise_cleanup(value: object) -> object:
    if isinstance(value, str):
        return ",".join(sorted({part.strip() for part in value.split(",")}))
    return value


def _licence(value: str) -> str:
    if value.startswith(("http://", "https://")) or _SPDX_ID.fullmatch(value):
        return value
    raise ValueError(f"licence {value!r} must be an SPDX identifier (e.g. CC-BY-4.0) or a URL")


#: How a topic's values are written: Confluent-framed Avro of the topic's schema, or
#: NGSI-LD entities (normalized JSON-LD objects) of that schema's shape.
ValueFormat = Literal["avro", "ngsi-ld"]


class Topic(_Model):
    """A Kafka topic of one area, carrying one schema, with its publication metadata."""

    area: NonEmpty
    schema_name: NonEmpty = Field(alias="schema")
    # What its values are; the gateway decodes them by it, and only an Avro topic has a
    # subject in its area's registry. A bridge with format ngsi-ld writes an ngsi-ld topic.
    format: ValueFormat = "avro"
    key: NonEmpty = "id"
    partitions: Partitions = 1
    replication_factor: ReplicationFactor = 1
    cleanup: Annotated[
        Literal["delete", "compact", "compact,delete"], BeforeValidator(_normalise_cleanup)
    ] = "delete"
    retention: Retention | None = None
    every_observation: bool = False
    licence: Annotated[str, AfterValidator(_licence)]
    publisher: NonEmpty
    description: NonEmpty | None = None
    update_frequency: UpdateFrequency | None = None
    access: Literal["public", "granted"] = "granted"
    dead_letter_topic: NonEmpty | None = None

    @property
    def deletes(self) -> bool:
        """True when old records are deleted by age (cleanup includes delete)."""
        return "delete" in self.cleanup

    @property
    def effective_retention(self) -> timedelta | None:
        """How long records are kept: the retention given, 7 days by default when the
        cleanup deletes, None for a compact-only topic (latest state kept per key)."""
        if self.retention is not None:
            return self.retention
        return DEFAULT_RETENTION if self.deletes else None


# --- feeds and bridges -----------------------------------------------------------------


class FeedAuth(_Model):
    """A credential sent with each request: a header or a query parameter, from the env."""

    header: NonEmpty | None = None
    query_param: NonEmpty | None = None
    value_env: EnvVarName
    scheme: NonEmpty | None = None

    @model_validator(mode="after")
    def _one_place(self) -> FeedAuth:
        if (self.header is None) == (self.query_param is None):
            raise ValueError("give exactly one of header or query_param")
        if self.scheme is not None and self.header is None:
            raise ValueError("scheme applies only to a header")
        return self

    def resolved_value(self, purpose: str = "auth") -> str:
        """The credential as sent: read from the environment, prefixed by the scheme if any."""
        secret = resolve_secret(self.value_env, f"{purpose}.value_env")
        return f"{self.scheme} {secret}" if self.scheme else secret


#: How long a feed without ``schedule:`` waits between cycles.
DEFAULT_POLL_INTERVAL = timedelta(seconds=60)
#: The bounds of ``ttl: source`` without ``min_interval``/``max_interval``: a source that says
#: "stale in 1 s" is not polled every second, one that says nothing still is every 10 min.
DEFAULT_MIN_TTL_INTERVAL = timedelta(seconds=10)
DEFAULT_MAX_TTL_INTERVAL = timedelta(minutes=10)


class Schedule(_Model):
    """When to poll: a fixed interval, or as the source's own TTL says, within bounds.
    ``Feed.next_run_in_s`` turns it into a delay."""

    interval: PollInterval | None = None
    ttl: Literal["source"] | None = None
    min_interval: PollInterval | None = None
    max_interval: PollInterval | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.interval is None) == (self.ttl is None):
            raise ValueError("give exactly one of interval or ttl: source")
        if self.interval is not None and (
            self.min_interval is not None or self.max_interval is not None
        ):
            raise ValueError("min_interval and max_interval apply only with ttl: source")
        if (
            self.min_interval is not None
            and self.max_interval is not None
            and self.min_interval > self.max_interval
        ):
            raise ValueError("min_interval must not exceed max_interval")
        return self


class Feed(_Model):
    """A source polled (or listened to) by an adapter, producing into one or more topics."""

    adapter: NonEmpty
    url: SourceUrl | None = None
    urls: dict[str, SourceUrl] | None = None
    auth: FeedAuth | None = None
    schedule: Schedule | None = None
    topic: NonEmpty | None = None
    topics: dict[str, NonEmpty] | None = None
    options: Annotated[dict[str, Any], BeforeValidator(_empty_if_none)] = Field(
        default_factory=dict
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _exactly_one(self) -> Feed:
        if (self.url is None) == (self.urls is None):
            raise ValueError("give exactly one of url or urls")
        if (self.topic is None) == (self.topics is None):
            raise ValueError("give exactly one of topic or topics")
        return self

    def next_run_in_s(self, source_ttl_s: float | None = None) -> float:
        """Seconds from the end of one cycle to the start of the next: the fixed interval,
        or with ``ttl: source`` the TTL the source gave in the last good cycle (the adapter's
        ``CycleContext.suggest_ttl``) kept within the bounds, the lower bound when it gave
        none. A failed cycle waits as long as a good one: the fetcher already retried it."""
        schedule = self.schedule
        if schedule is None:
            return DEFAULT_POLL_INTERVAL.total_seconds()
        if schedule.interval is not None:
            return schedule.interval.total_seconds()
        low = (schedule.min_interval or DEFAULT_MIN_TTL_INTERVAL).total_seconds()
        high = (schedule.max_interval or DEFAULT_MAX_TTL_INTERVAL).total_seconds()
        return min(high, max(low, low if source_ttl_s is None else source_ttl_s))

    @property
    def target_topics(self) -> list[str]:
        """Every topic the feed produces into."""
        if self.topic is not None:
            return [self.topic]
        return list((self.topics or {}).values())


class Bridge(_Model):
    """Converts records of one topic into another area's vocabulary and topic."""

    source: NonEmpty
    target: NonEmpty
    mapping: Path
    delivery: Literal["at-least-once", "exactly-once"] = "at-least-once"
    # avro: records of the target topic's schema, registered in the target registry;
    # ngsi-ld: NGSI-LD entities (normalized JSON-LD) of that shape, for FIWARE-based platforms.
    # The target topic's format decides (None: as it declares); given here, it must agree.
    format: ValueFormat | None = None
    # The NGSI-LD entity type (default: the <Type> of the urn:ngsi-ld:<Type>:... ids).
    entity_type: NonEmpty | None = None
    group_id: NonEmpty | None = None
    # Register the target schema in the target area's registry when it is not there yet;
    # areas that govern their registry set this to false and register it themselves.
    register_target_schema: bool = True

    @field_validator("mapping")
    @classmethod
    def _relative_to_config(cls, value: Path, info: ValidationInfo) -> Path:
        # Paths in topics.yaml are relative to the file, not to wherever the hub was started.
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if isinstance(base, Path) and not value.is_absolute():
            return base / value
        return value


# --- the deployment --------------------------------------------------------------------


class Deployment(_Model):
    """Everything topics.yaml declares: hub settings, clusters, areas, topics, feeds, bridges."""

    version: Literal[1]
    hub: HubSettings = HubSettings()
    kafka: KafkaCluster | None = None
    registry: RegistryConnection | None = None
    areas: Annotated[dict[AreaName, Area], BeforeValidator(_empty_if_none)] = Field(
        default_factory=dict
    )
    topics: Annotated[dict[str, Topic], BeforeValidator(_empty_if_none)] = Field(
        default_factory=dict
    )
    feeds: Annotated[dict[FeedId, Feed], BeforeValidator(_empty_if_none)] = Field(
        default_factory=dict
    )
    bridges: Annotated[dict[BridgeName, Bridge], BeforeValidator(_empty_if_none)] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _feeds_on_this_hub(self) -> Deployment:
        # A feed URL written as a path ("/demo/feeds/x.pb") names this hub: made absolute
        # here, once, so every reader of the deployment sees where it really is.
        base = self.hub.self_url
        for name, feed in self.feeds.items():
            update: dict[str, Any] = {}
            if feed.url is not None and feed.url.startswith("/"):
                update["url"] = base + feed.url
            if feed.urls is not None and any(u.startswith("/") for u in feed.urls.values()):
                update["urls"] = {
                    k: base + u if u.startswith("/") else u for k, u in feed.urls.items()
                }
            if update:
                self.feeds[name] = feed.model_copy(update=update)
        return self

    def area(self, name: str) -> Area:
        """The area called `name`; KeyError naming it when unknown."""
        try:
            return self.areas[name]
        except KeyError:
            raise KeyError(f"unknown area {name!r}") from None

    def topic(self, name: str) -> Topic:
        """The topic called `name`; KeyError naming it when unknown."""
        try:
            return self.topics[name]
        except KeyError:
            raise KeyError(f"unknown topic {name!r}") from None

    def area_of(self, topic: str) -> str:
        """The name of the area `topic` belongs to."""
        return self.topic(topic).area

    def kafka_for(self, area: str) -> KafkaCluster | None:
        """The cluster holding `area`'s topics; None means the embedded broker."""
        return self.area(area).kafka or self.kafka

    def registry_for(self, area: str) -> RegistryConnection | None:
        """The schema registry of `area`; None means the hub's embedded registry."""
        return self.area(area).registry or self.registry

    def id_namespace(self, area: str) -> str:
        """The namespace of `area`'s entity ids (urn:ngsi-ld:<Type>:<namespace>:<local id>)."""
        return self.area(area).id_namespace or area

    def dead_letter_topic(self, topic: str) -> str:
        """Where records of `topic` that cannot be encoded go: as configured, else "<topic>.dlq"."""
        return self.topic(topic).dead_letter_topic or f"{topic}.dlq"

    @property
    def uses_embedded_broker(self) -> bool:
        """True when some area (or, with no areas, the deployment) has no Kafka cluster."""
        if self.kafka is not None:
            return False
        return not self.areas or any(a.kafka is None for a in self.areas.values())

    def clusters(self) -> list[KafkaCluster]:
        """The distinct configured clusters (by bootstrap addresses), default one first."""
        found: dict[frozenset[str], KafkaCluster] = {}
        candidates = [self.kafka, *(a.kafka for a in self.areas.values())]
        for cluster in candidates:
            if cluster is not None:
                found.setdefault(cluster.identity, cluster)
        return list(found.values())

    def same_cluster(self, area_a: str, area_b: str) -> bool:
        """True when both areas' topics live on one cluster (or both on the embedded broker)."""
        a, b = self.kafka_for(area_a), self.kafka_for(area_b)
        if a is None or b is None:
            return a is None and b is None
        return a.identity == b.identity
