"""One error hierarchy: every error the hub and its adapters raise on purpose is a
``TsunaguError`` that says whose fault it is and whether trying again may help, and the
errors that resemble a built-in still are one, so code catching the built-in still works."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import adapters
import hub
from adapters.base import FeedUnavailableError, MalformedFeedError
from adapters.errors import BLAMES
from adapters.gtfs.reader import UndecodableError
from adapters.registry import AdapterNotFoundError
from hub.access.keys import UnknownKeyError
from hub.errors import (
    DecodeError,
    EncodeError,
    KafkaError,
    RegistryError,
    RegistryUnavailableError,
    TsunaguError,
)
from hub.gateway.positions import PositionError
from hub.mapping.compile import MappingError
from hub.mapping.functions import MappingFunctionError

# Exceptions that are not errors of the hub's: answers and signals of control flow, or
# raised and caught inside one module that translates them at its boundary.
NOT_ERRORS = {
    "hub.access.problems.AccessProblem",  # an HTTP answer (aiohttp's HTTPException)
    "hub.avro_compiled.Unsupported",  # the compiler leaves a schema to fastavro
    "hub.avro_compiled.FieldError",  # codec turns it into EncodeError
    "hub.gateway.latest.OverBudget",  # the latest-state cache says it is full
    "hub.http.app.NotReady",  # a readiness check's answer
}


def _modules(package: ModuleType) -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return [importlib.import_module(name) for name in names]


def _exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for module in _modules(hub) + _modules(adapters):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append(value)
    return found


def test_every_public_exception_class_is_a_tsunagu_error_with_blame_and_retriable() -> None:
    classes = _exception_classes()
    assert len(classes) > 20  # the walk found the modules
    outside = {
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, TsunaguError)
    }
    assert outside == NOT_ERRORS
    for error in classes:
        if issubclass(error, TsunaguError):
            assert error.blame in BLAMES, error
            retriable = inspect.getattr_static(error, "retriable")
            assert isinstance(retriable, bool | property), error


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (MappingError("x", "bad"), ValueError),
        (UnknownKeyError("k1"), KeyError),
        (PositionError("past the end"), ValueError),
        (MappingFunctionError("none installed"), LookupError),
        (AdapterNotFoundError("unknown adapter"), LookupError),
        (UndecodableError("stops.txt", 3, "utf-8", "invalid start byte"), ValueError),
    ],
)
def test_errors_that_resemble_a_builtin_still_are_one(
    error: TsunaguError, builtin: type[Exception]
) -> None:
    assert isinstance(error, builtin)
    assert isinstance(error, TsunaguError)


def test_what_each_error_says_happens_next() -> None:
    # The record's or the feed's fault: set aside, never retried as it is.
    for input_fault in (
        EncodeError("does not fit"),
        DecodeError("not framed"),
        MappingError("x", "bad"),
        MalformedFeedError("not a zip"),
    ):
        assert (input_fault.blame, input_fault.retriable) == ("input", False)
    # Something the hub depends on: waited for, retried when it says it may recover.
    assert RegistryUnavailableError("http://r", "refused").retriable
    assert RegistryUnavailableError("http://r", "refused").blame == "dependency"
    assert RegistryError(503, 50003, "store down").retriable
    assert not RegistryError(404, 40401, "no subject").retriable
    assert KafkaError("timed out", retriable=True).retriable
    assert FeedUnavailableError("HTTP 503", retriable=True, retry_after=5.0).retry_after == 5.0
    assert not FeedUnavailableError("HTTP 404").retriable
    assert FeedUnavailableError("HTTP 404").blame == "dependency"
    # The hub's own configuration: stop and say why.
    assert MappingFunctionError("none installed").blame == "hub"
    # Kept from the built-in: a KeyError's message is its quoted key.
    assert str(UnknownKeyError("k1")) == "'k1'"
