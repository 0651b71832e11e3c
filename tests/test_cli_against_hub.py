"""`tsunagu apply` and `tsunagu schemas check` as an operator runs them beside `tsunagu up`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from hub.broker import free_port
from tests.cli import tsunagu
from tests.test_up import SCHEMA, start, wait_ready, write_deployment


def test_apply_and_schemas_check_find_the_running_hub(tmp_path: Path) -> None:
    port = free_port()
    config, schemas = write_deployment(tmp_path, port)
    files = ("--config", str(config), "--schemas", str(schemas))
    process = start(config, schemas)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)

        check = tsunagu("schemas", "check", *files)
        assert check.returncode == 0, check.stderr
        assert "upcity.test.counters.v1-value: test.up.Counter already registered" in check.stdout

        # A compatible evolution: a new field with a default.
        evolved = {**SCHEMA, "fields": [*SCHEMA["fields"], _field("note", ["null", "string"])]}
        (schemas / "Counter.avsc").write_text(json.dumps(evolved))
        check = tsunagu("schemas", "check", *files, "--json")
        assert check.returncode == 0, check.stderr
        verdict = json.loads(check.stdout)
        assert verdict["status"] == "compatible"
        assert verdict["level"] == "BACKWARD_TRANSITIVE"

        # An incompatible one: a new field without a default cannot read old records.
        broken = {**SCHEMA, "fields": [*SCHEMA["fields"], _field("count", "long", default=False)]}
        (schemas / "Counter.avsc").write_text(json.dumps(broken))
        check = tsunagu("schemas", "check", *files)
        assert check.returncode == 1
        assert "INCOMPATIBLE (BACKWARD_TRANSITIVE)" in check.stdout
        assert "count" in check.stdout  # the reason names the field
        applied = tsunagu("apply", *files)
        assert applied.returncode == 1
        assert "upcity.test.counters.v1-value" in applied.stderr

        # Back to the compatible schema: registering it changes the hub's registry, which
        # takes only a key with registry:write.
        (schemas / "Counter.avsc").write_text(json.dumps(evolved))
        applied = tsunagu("apply", *files)
        assert applied.returncode == 1
        assert "40101" in applied.stderr
        assert "registry:write" in applied.stderr
        created = tsunagu(
            "keys", "create", "--name", "ops", "--grant", "*:registry:write", *files[:2]
        )
        assert created.returncode == 0, created.stderr
        admin = {"TSUNAGU_API_KEY": created.stdout.strip()}

        # Plus a second topic: apply creates only what is new.
        config.write_text(
            config.read_text()
            + """  upcity.test.tallies.v1:
    area: upcity
    schema: test.up.Counter
    licence: CC-BY-4.0
    publisher: Up City
"""
        )
        applied = tsunagu("apply", *files, env=admin)
        assert applied.returncode == 0, applied.stderr
        assert "created  upcity.test.tallies.v1\n" in applied.stdout
        assert "exists   upcity.test.counters.v1\n" in applied.stdout
        assert "schema   upcity.test.counters.v1-value -> id 2" in applied.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    # With the hub gone, both commands say what is missing and how to fix it.
    check = tsunagu("schemas", "check", *files)
    assert check.returncode == 1
    assert "no running hub answers at" in check.stderr
    assert "tsunagu up" in check.stderr


def _field(name: str, avro_type: object, *, default: bool = True) -> dict[str, object]:
    field: dict[str, object] = {"name": name, "type": avro_type, "doc": f"The {name}."}
    if default:
        field["default"] = None
    return field
