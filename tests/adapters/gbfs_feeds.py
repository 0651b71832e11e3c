"""The official GBFS test fixtures, as a loopback server would serve them: every URL in the
discovery files rewritten to point at the server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GBFS = Path(__file__).resolve().parents[1] / "data" / "gbfs"


def fixture(version: str, name: str) -> Any:
    return json.loads((GBFS / f"v{version}" / f"{name}.json").read_text())


def served(version: str, base: str, prefix: str = "") -> dict[str, bytes]:
    """``{path: bytes}`` of a version's fixtures, their discovery URLs pointing at ``base``."""
    files: dict[str, bytes] = {}
    for path in sorted((GBFS / f"v{version}").glob("*.json")):
        doc = json.loads(path.read_text())
        if path.stem == "gbfs":
            feeds = doc["data"].get("feeds")
            lists = [feeds] if feeds is not None else [v["feeds"] for v in doc["data"].values()]
            for entries in lists:
                # The 3.0 fixture's gbfs.json does not list system_alerts, which has a fixture
                # of its own: list it so that every fixture is ingested.
                if not any(e["name"] == "system_alerts" for e in entries):
                    entries.append({"name": "system_alerts", "url": ""})
                for entry in entries:
                    entry["url"] = f"{base}/{prefix}{entry['name']}.json"
        files[f"{prefix}{path.name}"] = json.dumps(doc).encode()
    return files
