"""`tsunagu up` as a user runs it: a real process, the embedded broker, HTTP endpoints, signals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from hub.broker import free_port
from tests.cli import CLI

SCHEMA = {
    "type": "record",
    "name": "Counter",
    "namespace": "test.up",
    "doc": "A test record.",
    "fields": [{"name": "id", "type": "string", "doc": "Global id."}],
}


def write_deployment(tmp_path: Path, http_port: int) -> tuple[Path, Path]:
    schemas = tmp_path / "avro"
    schemas.mkdir()
    (schemas / "Counter.avsc").write_text(json.dumps(SCHEMA))
    config = tmp_path / "topics.yaml"
    config.write_text(
        f"""version: 1
hub:
  http: {{host: 127.0.0.1, port: {http_port}}}
  store: {{url: "sqlite:///{tmp_path / "hub.db"}"}}
areas:
  upcity: {{title: Up City}}
topics:
  upcity.test.counters.v1:
    area: upcity
    schema: test.up.Counter
    licence: CC-BY-4.0
    publisher: Up City
"""
    )
    return config, schemas


def start(config: Path, schemas: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *CLI,
            "up",
            "--config",
            str(config),
            "--schemas",
            str(schemas),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def get_json(url: str) -> tuple[int, Any]:
    """The status and decoded JSON body of a GET (JSON is untyped until a test inspects it)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_ready(base: str, process: subprocess.Popen[str], limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if get_json(f"{base}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("hub did not become ready")


def port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def test_up_serves_endpoints_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config, schemas = write_deployment(tmp_path, port)
    process = start(config, schemas)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        status, info = get_json(f"{base}/v1/info")
        assert status == 200
        bootstrap = info["kafka"]["bootstrap_servers"]
        assert port_open(bootstrap)
        assert info["registry"]["url"] == f"{base}/registry"
        status, subjects = get_json(f"{base}/registry/subjects")
        assert subjects == ["upcity.test.counters.v1-value"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"Schema registry: {base}/registry" in out
    assert not port_open(bootstrap), "embedded broker still running after shutdown"


def test_up_exits_nonzero_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        config, schemas = write_deployment(tmp_path, holder.getsockname()[1])
        process = start(config, schemas)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "already in use" in err
