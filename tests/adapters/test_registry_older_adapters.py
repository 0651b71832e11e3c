"""An installed adapter written before the protocol named ``reference_entities`` still loads:
the registry gives it an empty set, without changing the plug-in's own class."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import pytest
from pydantic import BaseModel

from adapters import registry
from adapters.base import Complete, CycleContext, Emit


class OlderAdapter:
    """Declares everything the protocol asked for before ``reference_entities``."""

    name: ClassVar[str] = "older"
    Options: ClassVar[type[BaseModel]] = BaseModel
    entities: ClassVar[tuple[str, ...]] = ("things",)
    entity_schemas: ClassVar[dict[str, str]] = {"things": "test.Thing"}

    def __init__(self, options: BaseModel) -> None:
        self.options = options

    async def cycle(self, ctx: CycleContext) -> AsyncIterator[Emit | Complete]:
        yield Complete("things")


@pytest.fixture
def older() -> Iterator[str]:
    registry.BUILTIN["test-older"] = f"{__name__}:OlderAdapter"
    yield "test-older"
    del registry.BUILTIN["test-older"]


def test_an_adapter_without_reference_entities_has_none(older: str) -> None:
    cls = registry.adapter_class(older)
    assert cls.reference_entities == frozenset()
    assert issubclass(cls, OlderAdapter)
    assert not hasattr(OlderAdapter, "reference_entities")


def test_an_adapter_that_declares_them_is_returned_as_it_is() -> None:
    cls = registry.adapter_class("gtfs")
    assert cls.__name__ == "GtfsAdapter"
    assert cls.reference_entities
    assert "reference_entities" in vars(cls)
