"""The demo's feeds are files this hub serves: written as paths they follow hub.http, and an
absolute URL that no longer points at this hub is a located problem, not a silent 404."""

from __future__ import annotations

import re
from pathlib import Path

from hub.config import load_config, validate_file
from tests.conftest import REPO


def demo_on_port(tmp_path: Path, port: int, *, absolute: bool = False) -> Path:
    text = (REPO / "topics.yaml").read_text()
    text = re.sub(r"port: 8080\}", f"port: {port}}}", text)
    if absolute:  # as the demo was written before: the URL keeps the old port
        text = text.replace("url: /demo/feeds/", "url: http://127.0.0.1:8080/demo/feeds/")
    config = tmp_path / "topics.yaml"
    config.write_text(text)
    (tmp_path / "mappings").symlink_to(REPO / "mappings")
    return config


def test_the_demo_feeds_follow_the_hubs_port(tmp_path: Path) -> None:
    deployment = load_config(demo_on_port(tmp_path, 9191))
    urls = [f.url for f in deployment.feeds.values() if f.url and "/demo/feeds/" in f.url]
    assert urls, "the demo deployment has feeds of the hub's own files"
    assert all(u.startswith("http://127.0.0.1:9191/demo/feeds/") for u in urls), urls


def test_a_demo_feed_left_on_another_port_is_a_located_problem(tmp_path: Path) -> None:
    config = demo_on_port(tmp_path, 9191, absolute=True)
    problems = validate_file(config, REPO / "schemas" / "avro")
    lines = [str(p) for p in problems]
    assert len(lines) == 2, lines
    assert all("served on this hub's port 9191, not 8080" in line for line in lines), lines
    assert all(re.search(r"topics\.yaml:\d+: feeds\.usf-bull-runner-\w+\.url:", x) for x in lines)


def test_a_demo_feed_without_demo_feeds_is_a_located_problem(tmp_path: Path) -> None:
    config = demo_on_port(tmp_path, 8080)
    config.write_text(config.read_text().replace("demo_feeds: true", "demo_feeds: false"))
    problems = [str(p) for p in validate_file(config, REPO / "schemas" / "avro")]
    assert len(problems) == 2, problems
    assert all("serves no demo feeds" in p for p in problems), problems
