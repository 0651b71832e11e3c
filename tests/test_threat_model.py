"""docs/threat-model.md names the test that holds each control: every test it names exists,
so the document cannot point at a test that was renamed or removed."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOC = REPO / "docs" / "threat-model.md"
# `tests/x.py::test_a` or `tests/x.py` names a file; a following `::test_b` in the same cell
# names another test of that file.
_NAMED = re.compile(r"`(tests/[\w/]+\.py)?(::\w+)?(?:\[[^\]]*\])?`")


def named_tests() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        current: str | None = None
        for path, test in _NAMED.findall(line):
            if path:
                current = path
            if current is None or not (path or test):
                continue
            found.append((current, test.removeprefix("::") or None))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    named = named_tests()
    assert len(named) > 40, "the threat model names the tests that hold its controls"
    missing = []
    for path, test in named:
        file = REPO / path
        if not file.is_file():
            missing.append(path)
        elif test is not None and not re.search(
            rf"^(async )?def {test}\(", file.read_text(encoding="utf-8"), re.M
        ):
            missing.append(f"{path}::{test}")
    assert not missing, missing
