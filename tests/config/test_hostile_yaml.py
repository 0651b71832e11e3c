"""Hostile deployment files are refused before anything is built from them, with a located
problem and exit status 1: an alias bomb, an alias cycle, deep nesting, a huge file, a
number too long to read, and numbers out of range that would reach Kafka through `up`."""

from __future__ import annotations

import resource
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from hub.broker import free_port
from hub.config.yaml_source import MAX_BYTES, MAX_NODES, read_yaml
from tests.cli import CLI

from .conftest import copy_fixture, expectations

# Nine levels of nine aliases: 9**9 (387 million) values from eleven lines.
ALIAS_BOMB = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def _limited_memory() -> None:
    # Runs in the child: a run that builds the expansion fails fast instead of
    # swapping the machine (the unfixed loader died of MemoryError after 13 s).
    limit = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def validate_hostile(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *CLI,
            *("validate", "--config", str(path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
        preexec_fn=_limited_memory,  # only sets a limit
    )


def assert_refused(
    result: subprocess.CompletedProcess[str], path: Path, line: int, part: str
) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{path}:{line}: " in result.stderr, result.stderr[-2000:]
    assert part in result.stderr
    assert result.stderr.strip().endswith("1 problem(s)"), result.stderr[-2000:]


def test_an_alias_bomb_is_refused_at_the_line_that_explodes(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    # Line 7 (f: nine aliases of 9**5 values each) is the first to push past MAX_NODES.
    assert_refused(validate_hostile(path), path, 7, "once aliases are expanded")


def test_refusing_an_alias_bomb_builds_nothing() -> None:
    # Smaller than ALIAS_BOMB so the unfixed loader could walk it in-process: 5**8 is
    # 390,625 values, over MAX_NODES, that the fixed loader never expands.
    bomb = "version: 1\na: &a [x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 5)}]\n"
        for previous, name in zip("abcdefg", "bcdefgh", strict=True)
    )
    assert MAX_NODES < 5**8
    tracemalloc.start()
    try:
        document = read_yaml(bomb, "bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert document.data is None
    assert [(p.line, p.path) for p in document.problems] == [(9, "")]
    assert "once aliases are expanded" in document.problems[0].message
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: the expansion was built"


def test_aliases_within_the_budget_still_work() -> None:
    # Sharing one cluster's settings between areas is what anchors are for.
    text = (
        "version: 1\n"
        "kafka: &cluster {bootstrap_servers: kafka:9092}\n"
        "areas:\n"
        "  kaga: {kafka: *cluster}\n"
        "  nomi: {kafka: *cluster}\n"
    )
    document = read_yaml(text, "shared.yaml")
    assert document.problems == []
    assert isinstance(document.data, dict)
    assert document.data["areas"]["nomi"]["kafka"] == {"bootstrap_servers": "kafka:9092"}


def test_an_alias_inside_the_node_it_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    path.write_text("version: 1\nareas:\n  kaga: &loop {title: Kaga, again: *loop}\n")
    assert_refused(validate_hostile(path), path, 3, "alias *loop is inside the node it names")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("version: 1\nareas:\n  kaga: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert_refused(validate_hostile(path), path, 3, "nested more than 64 levels deep")


def test_a_huge_file_is_refused_where_it_passes_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    line = "# " + "x" * 1021 + "\n"  # 1 KiB a line
    path.write_text("version: 1\n" + line * (MAX_BYTES // 1024 + 100))
    # Line 1 is "version: 1" (11 bytes), so the limit falls inside line 1025.
    assert_refused(validate_hostile(path), path, 1025, "KiB")


def test_a_large_file_of_syntax_errors_costs_two_parses_not_twenty() -> None:
    # Recovering from a syntax error means parsing again; each parse of a megabyte takes
    # seconds, so a large file gets fewer second tries and says the list may go on.
    entry = "  t{}: {{area: kaga, partitions: [3}}\n"  # every entry a syntax error
    text = "version: 1\ntopics:\n"
    count = 0
    while len(text) < MAX_BYTES - 100:
        text += entry.format(count)
        count += 1
    document = read_yaml(text, "errors.yaml")
    syntax = [p for p in document.problems if p.line is not None]
    assert 1 <= len(syntax) <= 2, [str(p) for p in document.problems]
    assert "too large to look past more syntax errors" in document.problems[-1].message


def test_a_number_too_long_to_read_is_a_located_problem(tmp_path: Path) -> None:
    path = tmp_path / "digits.yaml"
    path.write_text(
        "version: 1\nareas:\n  kaga: {title: Kaga}\ntopics:\n"
        "  kaga.mobility.stops.v1:\n    area: kaga\n    schema: x.Y\n"
        f"    partitions: 1{'0' * 5000}\n    licence: CC-BY-4.0\n    publisher: Kaga\n"
    )
    result = validate_hostile(path)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert f"{path}:8: YAML syntax error: a number of 5001 digits is too long" in result.stderr


def test_validate_refuses_every_number_out_of_range(workspace: Path) -> None:
    path = copy_fixture("numeric_bounds.yaml", workspace)
    result = validate_hostile(path)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    located = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(f"{path}:") and not line.endswith("problem(s)")
    ]
    # Every expectation of the fixture, printed as file:line: key.path: message.
    expected = expectations(path.read_text(encoding="utf-8"))
    assert len(located) == len(expected), result.stderr
    for wanted in expected:
        assert any(
            line.startswith(f"{path}:{wanted.line}: {wanted.path}: ") and wanted.message in line
            for line in located
        ), wanted


@pytest.mark.timeout(180)
def test_up_refuses_partitions_out_of_range_before_starting_anything(tmp_path: Path) -> None:
    schemas = tmp_path / "avro"
    schemas.mkdir()
    (schemas / "Stop.avsc").write_text(
        '{"type": "record", "name": "Stop", "namespace": "t", "doc": "A stop.",'
        ' "fields": [{"name": "id", "type": "string", "doc": "Its id."}]}'
    )
    store = tmp_path / "hub.db"
    config = tmp_path / "topics.yaml"
    config.write_text(
        "version: 1\n"
        "hub:\n"
        f"  http: {{host: 127.0.0.1, port: {free_port()}}}\n"
        f'  store: {{url: "sqlite:///{store}"}}\n'
        "areas:\n  kaga: {title: Kaga}\n"
        "topics:\n"
        "  kaga.mobility.stops.v1:\n"
        "    area: kaga\n"
        "    schema: t.Stop\n"
        "    partitions: 99999999999999999999999999999\n"
        "    licence: CC-BY-4.0\n"
        "    publisher: Kaga\n"
    )
    result = subprocess.run(
        [
            *CLI,
            "up",
            *("--config", str(config), "--schemas", str(schemas)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=150,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1
    assert (
        f'{config}:11: topics["kaga.mobility.stops.v1"].partitions: must be <= 10000'
        in result.stderr
    )
    # Nothing started: no store was created and no broker announced.
    assert not store.exists()
    assert "Kafka bootstrap" not in result.stdout
