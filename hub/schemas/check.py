"""``tsunagu schemas check``: are the schemas in schemas/avro/ compatible with what is registered?
``tsunagu schemas repair``: make a subject that refuses its topic's schema hold it again.

For every topic of the deployment, the topic's schema is tested against its value
subject in the area's registry, with the subject's own compatibility level and
against every version that level covers (what registering would check).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from hub.config import Deployment
from hub.errors import TsunaguError
from hub.registry.binding import bind_topic, subject_topics
from hub.registry.client import RegistryClient
from hub.schemas.catalogue import SchemaCatalogue

__all__ = ["SubjectCheck", "SubjectRepair", "check_schemas", "repair_subjects"]

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
    # A topic of NGSI-LD JSON has no subject to check or repair.
    for subject, name in subject_topics(deployment).items():
        binding = bind_topic(deployment, catalogue, name)
        entry = binding.entry
        registry = registry_for(binding.area)
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
                name, subject, entry.full_name, registry.base_url, status, level, tuple(reasons)
            )
        )
    return results


@dataclass(frozen=True)
class SubjectRepair:
    """What `repair_subjects` did to one subject."""

    subject: str
    registry: str
    retired: tuple[int, ...]
    version: int | None
    schema_id: int

    def describe(self) -> str:
        """One line for people."""
        retired = ", ".join(str(v) for v in self.retired)
        return (
            f"{self.subject}: soft-deleted version(s) {retired} (their schemas stay readable "
            f"by id), registered the catalogue schema as version {self.version} "
            f"(id {self.schema_id})  [{self.registry}]"
        )


async def repair_subjects(
    deployment: Deployment,
    catalogue: SchemaCatalogue,
    registry_for: Callable[[str], RegistryClient],
    subjects: Collection[str] = (),
) -> tuple[list[SubjectRepair], list[SubjectCheck]]:
    """Make every incompatible subject (or those of `subjects`) hold its topic's schema again.

    The live versions the catalogue schema is incompatible with are soft-deleted (so records
    written with them still decode by id), then the catalogue schema is registered: its
    schema id is the one it had before, if the registry knew it. Needs write credentials.
    Returns the repairs and the checks of the subjects left alone (already fine).
    """
    checks = await check_schemas(deployment, catalogue, registry_for)
    known = {c.subject for c in checks} | {c.topic for c in checks}
    unknown = sorted(set(subjects) - known)
    if unknown:
        raise TsunaguError(f"no topic of the deployment has the subject {', '.join(unknown)}")
    repairs: list[SubjectRepair] = []
    untouched: list[SubjectCheck] = []
    for check in checks:
        if subjects and check.subject not in subjects and check.topic not in subjects:
            continue
        if check.ok:
            untouched.append(check)
            continue
        binding = bind_topic(deployment, catalogue, check.topic)
        text = binding.entry.text
        registry = registry_for(binding.area)
        retired = [
            await registry.delete_version(check.subject, version)
            for version in await registry.versions(check.subject)
            if await registry.check_compatibility(check.subject, text, version)
        ]
        schema_id = await registry.register(check.subject, text)
        latest = await registry.latest(check.subject)
        repairs.append(
            SubjectRepair(
                check.subject,
                registry.base_url,
                tuple(retired),
                latest[1] if latest else None,
                schema_id,
            )
        )
    return repairs, untouched
