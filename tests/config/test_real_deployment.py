"""The demo topics.yaml against the real schemas/avro/: every topic's schema must exist with a
string key field, and the whole deployment must validate. Each topic is its own test case, so
while schemas/avro/ is incomplete the failures say exactly which schema is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config, validate_file
from hub.errors import Problem
from hub.schemas import SchemaCatalogue

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "topics.yaml"
SCHEMA_DIR = REPO / "schemas" / "avro"

# Loading the demo without a catalogue checks everything except the schemas.
DEMO = load_config(CONFIG)


@pytest.fixture(scope="module")
def real_catalogue() -> tuple[SchemaCatalogue, list[Problem]]:
    """The real schema directory, with whatever problems it has."""
    return SchemaCatalogue.load_partial(SCHEMA_DIR)


def test_the_real_schema_directory_loads(
    real_catalogue: tuple[SchemaCatalogue, list[Problem]],
) -> None:
    _, problems = real_catalogue
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("topic", sorted(DEMO.topics))
def test_topic_schema_exists_with_a_string_key(
    topic: str, real_catalogue: tuple[SchemaCatalogue, list[Problem]]
) -> None:
    catalogue, _ = real_catalogue
    declared = DEMO.topics[topic]
    assert declared.schema_name in catalogue, (
        f"{SCHEMA_DIR} has no schema {declared.schema_name} (needed by topic {topic})"
    )
    field = catalogue.get(declared.schema_name).field(declared.key)
    assert field is not None, f"{declared.schema_name} has no key field {declared.key!r}"
    avro_type = field["type"]
    assert avro_type == "string" or (
        isinstance(avro_type, dict) and avro_type.get("type") == "string"
    ), f"{declared.schema_name}.{declared.key} is {avro_type!r}, not a string"


def test_the_demo_deployment_validates_against_the_real_schemas() -> None:
    problems = validate_file(CONFIG, SCHEMA_DIR)
    assert problems == [], "\n".join(map(str, problems))
