"""The deployment model's helpers, durations, secrets and the loader's handling of odd files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

import hub
from hub.config import (
    Deployment,
    KafkaCluster,
    default_config_path,
    format_duration,
    load_config,
    parse_duration,
    resolve_secret,
)
from hub.config.yaml_source import format_path, read_yaml
from hub.errors import ConfigError, MissingSecretError
from hub.schemas import SchemaCatalogue, default_schema_dir
from hub.schemas.catalogue import packaged_data_dir

from .conftest import copy_fixture

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
version: 1
areas:
  kaga: {title: Kaga City}
topics:
  kaga.mobility.vehicle-positions.v1:
    area: kaga
    schema: tsunagu.mobility.VehiclePosition
    licence: CC-BY-4.0
    publisher: Kaga City
"""


@pytest.fixture
def valid(workspace: Path, catalogue: SchemaCatalogue) -> Deployment:
    """The complete valid fixture, loaded."""
    return load_config(copy_fixture("valid.yaml", workspace), catalogue)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


# --- the model's helpers ------------------------------------------------------------------


def test_areas_resolve_their_cluster_registry_and_namespace(valid: Deployment) -> None:
    topic = "ishikawa.mobility.bus-locations.v1"
    assert valid.area_of(topic) == "ishikawa"
    assert valid.area_of("kaga.mobility.vehicle-positions.v1") == "kaga"

    default, own = valid.kafka_for("kaga"), valid.kafka_for("ishikawa")
    assert default is valid.kafka
    assert default is not None
    assert default.addresses == ("kafka-a:9092", "kafka-b:9092")
    assert own is not None
    assert own.bootstrap_servers == "ishikawa-kafka:9092"

    kaga_registry, own_registry = valid.registry_for("kaga"), valid.registry_for("ishikawa")
    assert kaga_registry is not None
    assert kaga_registry.url == "https://registry.example.jp:8081"
    assert own_registry is not None
    assert own_registry.url == "http://ishikawa-registry:8081"

    assert valid.id_namespace("kaga") == "kaga"
    assert valid.id_namespace("ishikawa") == "pref-ishikawa"
    assert str(valid.area("kaga").zone) == "Asia/Tokyo"


def test_cluster_helpers(valid: Deployment) -> None:
    assert not valid.uses_embedded_broker
    assert [c.bootstrap_servers for c in valid.clusters()] == [
        "kafka-a:9092,kafka-b:9092",
        "ishikawa-kafka:9092",
    ]
    assert not valid.same_cluster("kaga", "ishikawa")
    assert valid.same_cluster("kaga", "kaga")


def test_unknown_names_raise_key_errors_naming_them(valid: Deployment) -> None:
    with pytest.raises(KeyError, match="unknown topic 'nope'"):
        valid.area_of("nope")
    with pytest.raises(KeyError, match="unknown area 'nope'"):
        valid.kafka_for("nope")


def test_dead_letter_topics(valid: Deployment) -> None:
    assert valid.dead_letter_topic("kaga.mobility.vehicle-positions.v1") == "kaga.dead-letters"
    assert valid.dead_letter_topic("kaga.city.toilets.v1") == "kaga.city.toilets.v1.dlq"


def test_topic_values_and_defaults(valid: Deployment) -> None:
    positions = valid.topics["kaga.mobility.vehicle-positions.v1"]
    assert positions.schema_name == "tsunagu.mobility.VehiclePosition"
    assert (positions.partitions, positions.replication_factor) == (3, 3)
    assert positions.retention == timedelta(days=1)
    assert positions.update_frequency == timedelta(seconds=30)
    assert positions.access == "public"

    toilets = valid.topics["kaga.city.toilets.v1"]
    assert (toilets.key, toilets.partitions, toilets.access) == ("id", 1, "granted")
    assert toilets.effective_retention is None  # compacted: latest state kept forever

    buses = valid.topics["ishikawa.mobility.bus-locations.v1"]
    assert buses.cleanup == "compact,delete"  # written "delete,compact"
    assert buses.effective_retention == timedelta(weeks=2)


def test_feed_hub_and_bridge_values(valid: Deployment, workspace: Path) -> None:
    timetable = valid.feeds["kaga_cycles"]
    assert timetable.target_topics == ["kaga.mobility.cycle-stations.v1"]
    assert timetable.enabled is False
    assert timetable.schedule is not None
    assert timetable.schedule.ttl == "source"
    assert timetable.schedule.max_interval == timedelta(minutes=10)
    assert valid.feeds["kaga_cycles"].options == {"language": "ja"}

    assert valid.hub.http.port == 9000
    assert valid.hub.kafka_client == "kafka-python"
    assert valid.kafka is not None
    assert valid.kafka.client_config == {"linger.ms": "5", "enable.idempotence": "true"}
    # Mapping paths are relative to the config file, wherever the hub runs from.
    bridge = valid.bridges["kaga-to-ishikawa"]
    assert bridge.mapping == workspace / "mappings" / "kaga-to-ishikawa.yaml"


def test_models_are_frozen(valid: Deployment) -> None:
    with pytest.raises(ValidationError):
        valid.topics["kaga.city.toilets.v1"].partitions = 5


def test_the_demo_deployment_runs_on_the_embedded_broker() -> None:
    demo = load_config(REPO / "topics.yaml")
    assert demo.uses_embedded_broker
    assert demo.clusters() == []
    assert set(demo.areas) == {"kaga", "ishikawa", "takamatsu", "tampa", "city-os"}
    assert all(demo.kafka_for(area) is None for area in demo.areas)
    assert all(demo.registry_for(area) is None for area in demo.areas)
    assert demo.topics["kaga.mobility.vehicle-positions.v1"].retention == timedelta(days=1)
    assert demo.topics["takamatsu.city.public-toilets.v1"].publisher == "Takamatsu City"


def test_a_single_area_without_a_cluster_needs_the_embedded_broker(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(
        "version: 1\nareas:\n  kaga: {}\n  nomi:\n    kafka: {bootstrap_servers: 'k:9092'}\n",
        encoding="utf-8",
    )
    deployment = load_config(path)
    assert deployment.uses_embedded_broker
    assert deployment.kafka_for("kaga") is None
    assert len(deployment.clusters()) == 1


def test_without_a_catalogue_schema_checks_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(MINIMAL.replace("VehiclePosition", "NoSuchSchema"), encoding="utf-8")
    assert load_config(path).topics["kaga.mobility.vehicle-positions.v1"].key == "id"


# --- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5s", timedelta(milliseconds=1500)),
        ("PT30S", timedelta(seconds=30)),
        ("P7D", timedelta(days=7)),
        ("P1DT2H", timedelta(hours=26)),
        ("PT1M", timedelta(minutes=1)),
        ("p2w", timedelta(weeks=2)),
        (45, timedelta(seconds=45)),
        ("45", timedelta(seconds=45)),
        (timedelta(hours=1), timedelta(hours=1)),
    ],
)
def test_durations_that_parse(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("7 days", "is not a duration"),
        ("1M", "is not a duration"),  # minutes are "m"; months are not durations
        ("P1M", "years and months"),
        ("P1Y", "years and months"),
        ("PT", "is not a duration"),
        ("", "is not a duration"),
        (0, "must be positive"),
        ("0s", "must be positive"),
        (-5, "must be positive"),
        (True, "is not a duration"),
        (None, "is not a duration"),
    ],
)
def test_durations_that_do_not(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


@pytest.mark.parametrize("text", ["500ms", "30s", "1m30s", "1d2h", "1w", "2w3d4h5m6s7ms"])
def test_format_duration_reads_back(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


# --- secrets ------------------------------------------------------------------------------


def test_resolve_secret_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSUNAGU_TEST_SECRET", "s3cret")
    assert resolve_secret("TSUNAGU_TEST_SECRET") == "s3cret"


@pytest.mark.parametrize("value", [None, ""])
def test_resolve_secret_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("TSUNAGU_TEST_SECRET", raising=False)
    else:
        monkeypatch.setenv("TSUNAGU_TEST_SECRET", value)
    with pytest.raises(MissingSecretError) as info:
        resolve_secret("TSUNAGU_TEST_SECRET", "feeds.x.auth.value_env")
    assert info.value.name == "TSUNAGU_TEST_SECRET"
    assert str(info.value) == (
        "<environment>: TSUNAGU_TEST_SECRET: environment variable is not set "
        "(needed for feeds.x.auth.value_env)"
    )
    assert isinstance(info.value, ConfigError)


def test_secrets_are_read_only_when_asked_for(
    valid: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading succeeded without KAFKA_USER set; building a client's properties needs it.
    cluster = valid.kafka
    assert isinstance(cluster, KafkaCluster)
    monkeypatch.delenv("KAFKA_USER", raising=False)
    with pytest.raises(MissingSecretError, match="KAFKA_USER"):
        cluster.client_properties()
    monkeypatch.setenv("KAFKA_USER", "hub")
    monkeypatch.setenv("KAFKA_PASSWORD", "pw")
    assert cluster.client_properties() == {
        "bootstrap.servers": "kafka-a:9092,kafka-b:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "hub",
        "sasl.password": "pw",
        "ssl.ca.location": "/etc/tsunagu/ca.pem",
        "linger.ms": "5",
        "enable.idempotence": "true",
    }
    monkeypatch.setenv("KAGA_API_TOKEN", "tok")
    auth = valid.feeds["kaga-bus-positions"].auth
    assert auth is not None
    assert auth.resolved_value() == "Bearer tok"
    monkeypatch.setenv("TSUNAGU_STORE_URL", "postgresql+asyncpg://u:p@db/t")
    assert valid.hub.store.resolved_url() == "postgresql+asyncpg://u:p@db/t"


# --- odd files ----------------------------------------------------------------------------


def test_missing_empty_and_non_mapping_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert _problems(missing) == [f"{missing}: file not found"]
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    assert _problems(empty) == [f"{empty}: the file is empty"]
    listing = tmp_path / "list.yaml"
    listing.write_text("- version: 1\n", encoding="utf-8")
    assert _problems(listing) == [f"{listing}:1: the top level must be a mapping, not a list"]


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "sjis.yaml"
    path.write_bytes("version: 1\nareas:\n  kaga: {title: 加賀市}\n".encode("cp932"))
    [problem] = _problems(path)
    assert problem.startswith(f"{path}:3: not UTF-8 text")


def test_sections_left_empty_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(MINIMAL + "feeds:\n  # none yet\nbridges:\n", encoding="utf-8")
    deployment = load_config(path)
    assert (deployment.feeds, deployment.bridges) == ({}, {})


def test_missing_version_is_located_at_the_top(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(MINIMAL.replace("version: 1\n", ""), encoding="utf-8")
    assert _problems(path) == [f"{path}:1: version: required key is missing"]


def test_an_unclosed_quote_at_the_end_is_blamed_on_its_line() -> None:
    document = read_yaml("a: 1\nb: 'open\n", "f.yaml")
    assert [(p.line, p.message) for p in document.problems] == [
        (2, "YAML syntax error: found unexpected end of stream")
    ]
    assert document.data == {"a": 1, "b": None}
    assert document.recovered == [2]


def test_too_many_syntax_errors_stop_the_parse() -> None:
    document = read_yaml("a: 1\n" + "\tb: 1\n" * 15, "f.yaml")
    assert document.data is None
    assert len(document.problems) == 10


def test_key_lines_and_paths() -> None:
    document = read_yaml("topics:\n  a.b.v1:\n    area: kaga\n  list: [1, 2]\n", "f.yaml")
    assert document.line_of(("topics", "a.b.v1", "area")) == 3
    assert document.line_of(("topics", "a.b.v1", "licence")) == 2  # nearest present key
    assert document.line_of(("nowhere",)) == 1
    assert format_path(("topics", "a.b.v1", "area")) == 'topics["a.b.v1"].area'
    assert format_path(("feeds", "kaga-bus", "urls", 0)) == "feeds.kaga-bus.urls[0]"


# --- default locations --------------------------------------------------------------------


def test_default_paths_prefer_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The wheel's hub/_data, or the checkout an editable install points at: either way a
    # directory that holds the demo deployment and the schemas.
    packaged = packaged_data_dir()
    assert packaged in {Path(hub.__file__).parent / "_data", Path(hub.__file__).parent.parent}
    assert (packaged / "topics.yaml").is_file()
    assert default_config_path() == packaged / "topics.yaml"
    assert default_schema_dir() == packaged / "schemas" / "avro"
    (tmp_path / "topics.yaml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "schemas" / "avro").mkdir(parents=True)
    assert default_config_path() == tmp_path / "topics.yaml"
    assert default_schema_dir() == tmp_path / "schemas" / "avro"
