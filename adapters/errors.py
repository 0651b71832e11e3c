"""The root of every error Tsunagu raises on purpose, and what each tells its catcher to do.

It lives here, at the bottom of the layers, because adapters import nothing from the hub
and their errors must share it; ``hub.errors`` re-exports it with the hub's own errors.

Every error answers two questions, as aiokafka's (``retriable``) and the Singer SDK's
(fatal, retriable, skippable) do, so that a runner decides from them instead of from a
list of exception types:

``blame``
    ``"input"``: the record, request or feed content is at fault; set it aside (dead-letter
    it, refuse it, skip the cycle) with the reason and go on: the same input fails again.
    ``"dependency"``: something outside the hub that it reads from or writes to (a feed's
    server, a Kafka cluster, a schema registry) failed or is away; nothing is set aside,
    the work waits.
    ``"hub"``: the hub's own configuration or state is wrong; the work stops and says why
    until an operator acts.
``retriable``
    Trying the same operation again later may succeed (a class default; some errors decide
    per instance, such as a Kafka error code or an HTTP status).

Library exceptions are translated into these at the boundary where they are caught, and an
error that resembles a built-in also inherits it (``KeyError``, ``ValueError``...), so code
that catches the built-in keeps working.
"""

from __future__ import annotations

from typing import ClassVar, Literal, get_args

__all__ = ["BLAMES", "Blame", "TsunaguError"]

Blame = Literal["input", "dependency", "hub"]

#: Every value ``blame`` may take.
BLAMES: frozenset[str] = frozenset(get_args(Blame))


class TsunaguError(Exception):
    """Base of every error the hub and its adapters raise on purpose."""

    #: Whose fault it is, hence what happens next (see the module's docstring).
    blame: ClassVar[Blame] = "hub"
    #: True when trying the same operation again later may succeed.
    retriable: bool = False
