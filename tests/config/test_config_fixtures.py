"""Broken topics.yaml fixtures, each listing the located problems it must produce (no more,
no fewer), plus the acceptance check: three different mistakes, three located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import load_config, validate_file
from hub.errors import ConfigError, Problem
from hub.schemas import SchemaCatalogue

from .conftest import FIXTURES, Expected, copy_fixture, expectations

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.yaml"))


def _matches(problem: Problem, expected: Expected) -> bool:
    if problem.line != expected.line or problem.path != expected.path:
        return False
    # `*` in an expected message stands for text that varies (a temporary directory).
    position = 0
    for part in expected.message.split("*"):
        found = problem.message.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _problems(path: Path, catalogue: SchemaCatalogue) -> list[Problem]:
    try:
        load_config(path, catalogue)
    except ConfigError as exc:
        return exc.problems
    return []


def test_every_fixture_is_collected() -> None:
    assert len(FIXTURE_NAMES) >= 10, FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_gives_exactly_its_expected_problems(
    name: str, workspace: Path, catalogue: SchemaCatalogue
) -> None:
    path = copy_fixture(name, workspace)
    expected = expectations(path.read_text(encoding="utf-8"))
    problems = _problems(path, catalogue)

    unexpected = list(problems)
    missing = []
    for wanted in expected:
        hit = next((p for p in unexpected if _matches(p, wanted)), None)
        if hit is None:
            missing.append(wanted)
        else:
            unexpected.remove(hit)
    report = "\n".join(
        [
            "missing:",
            *map(str, missing),
            "unexpected:",
            *(f"{p.line}: {p.path}: {p.message}" for p in unexpected),
        ]
    )
    assert (missing, unexpected) == ([], []), report
    assert all(p.file == str(path) for p in problems)


def test_valid_fixture_has_no_expectations_and_loads(
    workspace: Path, catalogue: SchemaCatalogue
) -> None:
    path = copy_fixture("valid.yaml", workspace)
    assert expectations(path.read_text(encoding="utf-8")) == []
    assert load_config(path, catalogue).version == 1


def test_acceptance_syntax_error_typo_and_dangling_reference_give_three_problems(
    workspace: Path, catalogue: SchemaCatalogue
) -> None:
    path = copy_fixture("three_errors.yaml", workspace)
    with pytest.raises(ConfigError) as info:
        load_config(path, catalogue)
    problems = info.value.problems
    assert [p.line for p in problems] == [6, 11, 19]
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{path}:6: YAML syntax error")
    assert lines[1] == (
        f'{path}:11: topics["kaga.mobility.vehicle-positions.v1"].partitons: '
        "unknown key 'partitons' (did you mean 'partitions'?)"
    )
    assert lines[2].startswith(
        f"{path}:19: feeds.kaga-bus-positions.topic: unknown topic "
        "'kaga.mobility.vehicle-position.v1'"
    )


def test_validate_file_reports_the_same_problems(
    workspace: Path, schema_dir: Path, catalogue: SchemaCatalogue
) -> None:
    path = copy_fixture("cross_references.yaml", workspace)
    assert validate_file(path, schema_dir) == _problems(path, catalogue)


def test_validate_file_of_a_valid_deployment_is_empty(workspace: Path, schema_dir: Path) -> None:
    assert validate_file(copy_fixture("valid.yaml", workspace), schema_dir) == []
