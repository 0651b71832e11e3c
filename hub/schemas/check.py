"""``tsunagu schemas check``: are the schemas in schemas/avro/ compatible with what is registered?

For every topic of the deployment, the topic's schema is tested against its value
subject in the area's registry, with the subject's own compatibility level and
against every version that level covers (what registering would check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hub.apply import value_subject
from hub.config import Deployment
from hub.registry.client import RegistryClient
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["SubjectCheck", "check_schemas"]

Status = Literal["registered", "compatible", "new", "incompatible"]


@dataclass(frozen=True)
class SubjectCheck:
    """The verdict for one topic's value subject."""

    topic: str
    subject: str
    schema: str
    registry: str
    status: Status
    level: str
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status != "incompatible"

    def describe(self) -> str:
        """One line for people (reasons indented below when incompatible)."""
        text = {
            "registered": "already registered",
            "compatible": f"compatible ({self.level}), would register a new version",
            "new": "not registered yet, would be version 1",
            "incompatible": f"INCOMPATIBLE ({self.level})",
        }[self.status]
        line = f"{self.subject}: {self.schema} {text}  [{self.registry}]"
        return "\n".join([line, *(f"    - {reason}" for reason in self.reasons)])


async def check_schemas(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    registry_for: Callable[[str], RegistryClient],
) -> list[SubjectCheck]:
    """Check every topic's schema against its registry; nothing is registered."""
    results: list[SubjectCheck] = []
    for name, topic in deployment.topics.items():
        entry = catalogue.get(topic.schema_name)
        registry = registry_for(topic.area)
        subject = value_subject(name)
        level = str(await registry.get_compatibility(subject))
        status: Status
        reasons: list[str] = []
        if await registry.lookup(subject, entry.text) is not None:
            status = "registered"
        elif await registry.latest(subject) is None:
            status = "new"
        else:
            reasons = await registry.check_compatibility(subject, entry.text, version=None)
            status = "incompatible" if reasons else "compatible"
        results.append(
            SubjectCheck(
                name, subject, topic.schema_name, registry.base_url, status, level, tuple(reasons)
            )
        )
    return results
