"""A damaged registry subject never stops `tsunagu up`: the hub starts, says which subject
and why, and `tsunagu schemas repair` with an admin key brings it back.

The damage is the one an anonymous writer could do before registry writes needed a key
(and an admin can still do by mistake): soft-delete a topic's subject and register an
unrelated schema under it. Before, the next `up` refused to start at all.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import pytest

from hub.broker import free_port
from tests.cli import tsunagu
from tests.test_up import SCHEMA, get_json, start, wait_ready, write_deployment

with warnings.catch_warnings():
    # confluent-kafka's OAuth support imports authlib's httpx integration, which warns
    # about its own deprecation at import time; nothing here uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

TOPIC = "upcity.test.counters.v1"
SUBJECT = f"{TOPIC}-value"


def publish(base: str, key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base}/v1/topics/{TOPIC}/records",
        data=json.dumps([{"id": "urn:ngsi-ld:Counter:upcity:1"}]).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


UNRELATED = json.dumps({"type": "record", "name": "Evil", "fields": [{"name": "x", "type": "int"}]})


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=60)


def wait_for_reason(base: str, process: subprocess.Popen[str], limit: float = 90.0) -> str:
    """The /readyz reason of the "schemas" check, once the hub has got that far."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, stop(process)[1]
        try:
            status, body = get_json(f"{base}/readyz")
        except OSError:
            status, body = 0, {}
        reasons = body.get("reasons", {})
        if status == 503 and isinstance(reasons, dict) and "schemas" in reasons:
            assert set(reasons) == {"schemas"}, reasons  # everything else is up
            return str(reasons["schemas"])
        time.sleep(0.3)
    raise AssertionError("the hub never said which subject is damaged")


@pytest.mark.timeout(300)
def test_up_starts_with_a_damaged_subject_and_repair_brings_it_back(tmp_path: Path) -> None:
    port = free_port()
    config, schemas = write_deployment(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    where = ("--config", str(config), "--schemas", str(schemas))
    created = tsunagu("keys", "create", "--name", "ops", "--grant", "*:registry:write", *where[:2])
    assert created.returncode == 0, created.stderr
    admin = created.stdout.strip()
    publishing = tsunagu(
        "keys", "create", "--name", "app", "--grant", f"{TOPIC}:publish", *where[:2]
    )
    assert publishing.returncode == 0, publishing.stderr
    publisher = publishing.stdout.strip()
    key_id, _, secret = admin.partition(".")

    process = start(config, schemas)
    try:
        wait_ready(base, process)
        original = get_json(f"{base}/registry/subjects/{SUBJECT}/versions/latest")[1]
        with SchemaRegistryClient(
            {"url": f"{base}/registry", "basic.auth.user.info": f"{key_id}:{secret}"}
        ) as client:
            assert client.delete_subject(SUBJECT) == [1]
            client.register_schema(SUBJECT, Schema(UNRELATED, "AVRO"))
    finally:
        stop(process)

    process = start(config, schemas)
    try:
        reason = wait_for_reason(base, process)
        assert SUBJECT in reason
        assert "BACKWARD_TRANSITIVE" in reason
        assert f"tsunagu schemas repair {SUBJECT}" in reason
        assert get_json(f"{base}/v1/info")[0] == 200  # the hub serves meanwhile

        checked = tsunagu("schemas", "check", "--json", *where)
        assert checked.returncode == 1
        verdicts = {row["subject"]: row for row in map(json.loads, checked.stdout.splitlines())}
        assert verdicts[SUBJECT]["status"] == "incompatible"
        assert any("version 2" in reason for reason in verdicts[SUBJECT]["reasons"])

        # Publishing to the damaged topic is a clear 503, not a bare 500.
        status, refusal = publish(base, publisher)
        assert status == 503, refusal
        assert refusal["title"] == "Topic schema unavailable"
        assert f"tsunagu schemas repair {SUBJECT}" in refusal["detail"]

        # Without the admin key the repair is refused by the registry, and says so.
        anonymous = tsunagu("schemas", "repair", SUBJECT, *where)
        assert anonymous.returncode == 1
        assert "40101" in anonymous.stderr

        # An audited gateway request first, so the repair's entry follows a keyed one.
        refused = get_json(f"{base}/v1/topics/upcity.test.counters.v1/latest?id=x")
        assert refused[0] in {401, 404}, refused
        repaired = tsunagu("schemas", "repair", SUBJECT, *where, "--key", admin)
        assert repaired.returncode == 0, repaired.stderr
        assert f"{SUBJECT}: soft-deleted version(s) 2" in repaired.stdout

        wait_ready(base, process)
        latest = get_json(f"{base}/registry/subjects/{SUBJECT}/versions/latest")[1]
        assert json.loads(str(latest["schema"])) == SCHEMA
        assert latest["id"] == original["id"]  # records already written still resolve
        assert publish(base, publisher)[0] == 200  # and the topic takes records again
        assert tsunagu("schemas", "check", *where).returncode == 0
    finally:
        _, err = stop(process)
    assert process.returncode == 0, err
    # The registry's keyed writes went into the same keyed audit chain as everything else.
    verified = tsunagu("audit", "verify", "--no-kafka", "--config", str(config))
    assert verified.returncode == 0, verified.stderr
    tail = tsunagu("audit", "tail", "-n", "50", "--config", str(config))
    assert "registry-write" in tail.stdout, tail.stdout
