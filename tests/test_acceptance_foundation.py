"""Issue 2's acceptance, as a user runs it: the demo deployment comes up with `tsunagu up`,
/readyz turns 200, /v1/info lists the endpoints, and an independent confluent-kafka consumer
with AvroDeserializer and SchemaRegistryClient, pointed at those endpoints, reads records
produced through the hub (here: published over HTTP with a key made by `tsunagu keys`)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hub.broker import free_port
from tests.cli import tsunagu
from tests.conftest import REPO
from tests.test_up import get_json, port_open, wait_ready

TOPIC = "kaga.mobility.vehicle-positions.v1"


def demo_config(tmp_path: Path, port: int) -> Path:
    """The repository's topics.yaml, on a free port and a temporary store."""
    text = (REPO / "topics.yaml").read_text()
    text = re.sub(
        r"http: \{host: 127.0.0.1, port: \d+\}", f"http: {{host: 127.0.0.1, port: {port}}}", text
    )
    # The demo's feeds replay what the hub itself serves at /demo/feeds/: written as paths,
    # they follow the port without being rewritten here.
    text = text.replace(
        'store: {url: "sqlite:///tsunagu.db"}', f'store: {{url: "sqlite:///{tmp_path}/hub.db"}}'
    )
    config = tmp_path / "topics.yaml"
    config.write_text(text)
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")  # relative to topics.yaml
    return config


def post(url: str, body: list[dict[str, Any]], key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_the_demo_hub_serves_an_independent_avro_consumer(tmp_path: Path) -> None:
    port = free_port()
    config = demo_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli import main; main()", "up", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        wait_ready(base, process, limit=90)
        status, info = get_json(f"{base}/v1/info")
        assert status == 200
        bootstrap = info["kafka"]["bootstrap_servers"]
        registry_url = info["registry"]["url"]
        assert info["gateway"]["url"] == base
        assert set(info["endpoints"]) >= {"metrics", "healthz", "readyz", "info"}

        made = tsunagu(
            "keys",
            "create",
            "--config",
            str(config),
            "--name",
            "acceptance",
            "--grant",
            f"{TOPIC}:publish",
        )
        assert made.returncode == 0, made.stderr
        key = re.search(r"tk_[0-9a-f]+\.\S+", made.stdout)
        assert key is not None, made.stdout
        now = int(time.time() * 1000)
        records = [
            {
                "id": f"urn:ngsi-ld:Vehicle:kaga:bus-{i}",
                "vehicle_id": f"bus-{i}",
                "latitude": 36.30 + i / 1000,
                "longitude": 136.31,
                "observed_at": now,
            }
            for i in range(5)
        ]
        status, answer = post(f"{base}/v1/topics/{TOPIC}/records", records, key.group(0))
        assert status == 200
        assert answer["records"] == 5

        registry = SchemaRegistryClient({"url": registry_url})
        deserializer = AvroDeserializer(registry)
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "acceptance", "enable.auto.commit": False}
        )
        consumer.assign(
            [
                TopicPartition(TOPIC, p, 0)
                for p in consumer.list_topics(TOPIC).topics[TOPIC].partitions
            ]
        )
        got: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 30
        while len(got) < 5 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            value = deserializer(message.value(), SerializationContext(TOPIC, MessageField.VALUE))
            got[value["id"]] = value
        consumer.close()
        registry.close()
        assert set(got) == {r["id"] for r in records}
        sample = got["urn:ngsi-ld:Vehicle:kaga:bus-3"]
        assert sample["latitude"] == 36.303
        assert sample["area"] == "kaga"
        assert sample["source_feed"].startswith("http:tk_")

        # The demo replays the packaged Bull Runner feeds through its own adapters.
        deadline = time.monotonic() + 60
        while True:
            feeds = {f["id"]: f for f in get_json(f"{base}/v1/feeds")[1]}
            demo = [feeds[f] for f in ("usf-bull-runner-positions", "usf-bull-runner-gtfs")]
            if all(f["healthy"] and f["last_success_ms"] for f in demo):
                break
            assert time.monotonic() < deadline, demo
            time.sleep(0.5)
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
        produced = 'outcome="produced",topic="tampa.mobility.vehicle-positions.v1"} 10.0'
        assert produced in metrics
        # ...and its bridge turns them into NGSI-LD entities for the city OS area.
        bridged = 'tsunagu_bridge_records_out_total{bridge="tampa-to-city-os"} 10.0'
        deadline = time.monotonic() + 60
        while bridged not in metrics:
            assert time.monotonic() < deadline, "the demo bridge converted nothing"
            time.sleep(0.5)
            metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"Schema registry: {base}/registry" in out
    assert not port_open(bootstrap), "embedded broker still running after shutdown"
