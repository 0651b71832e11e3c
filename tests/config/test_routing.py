"""A feed's routing is judged once: the runner refuses a feed with the very problems
``validate`` reports for it, at the same key paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adapters.registry import adapter_class
from hub.config import Deployment
from hub.errors import ConfigError, Problem
from hub.ingest.build import entity_topics
from hub.schemas import SchemaCatalogue

from .conftest import FIXTURES, copy_fixture
from .test_config_fixtures import _problems

MISROUTED = ("options", "entities", "single")


@pytest.mark.parametrize("feed_id", MISROUTED)
def test_the_runner_refuses_a_feed_as_validate_does(
    feed_id: str, workspace: Path, catalogue: SchemaCatalogue
) -> None:
    path = copy_fixture("feed_adapters.yaml", workspace)
    prefix = f"feeds.{feed_id}.topic"
    reported = [
        (p.path, p.message) for p in _problems(path, catalogue) if p.path.startswith(prefix)
    ]
    assert reported
    # The model alone, without the cross-reference checks, as the runner would get it if
    # the checks were skipped.
    deployment = Deployment.model_validate(
        yaml.safe_load((FIXTURES / "feed_adapters.yaml").read_text(encoding="utf-8")),
        context={"base_dir": path.parent},
    )
    cls = adapter_class(deployment.feeds[feed_id].adapter)
    with pytest.raises(ConfigError) as refused:
        entity_topics(deployment, feed_id, cls(cls.Options()))
    problems: list[Problem] = refused.value.problems
    assert [(p.path, p.message) for p in problems] == reported


def test_a_single_topic_takes_the_entities_of_its_schema(workspace: Path) -> None:
    deployment = Deployment.model_validate(
        yaml.safe_load((FIXTURES / "feed_adapters.yaml").read_text(encoding="utf-8"))
        | {
            "feeds": {
                "stations": {
                    "adapter": "gbfs",
                    "url": "https://example.jp/kaga/gbfs.json",
                    "topic": "kaga.mobility.cycle-stations.v1",
                }
            }
        },
    )
    cls = adapter_class("gbfs")
    assert entity_topics(deployment, "stations", cls(cls.Options())) == {
        "stations": "kaga.mobility.cycle-stations.v1"
    }
