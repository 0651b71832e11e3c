"""The headers the hub writes, built in one place: a record's provenance, and what a
dead-letter record adds to it (names, order and values as consumers read them)."""

from __future__ import annotations

from hub.headers import Provenance, dead_letter


def test_a_dead_letter_carries_its_provenance_then_where_it_was_going_and_why() -> None:
    base = Provenance("kaga-bus", "kaga", 1_700_000_020_000).headers()
    assert base == [
        ("tsunagu-source-feed", b"kaga-bus"),
        ("tsunagu-area", b"kaga"),
        ("tsunagu-ingested-at", b"1700000020000"),
    ]
    assert dead_letter(base, "kaga.buses.v1", "schema", "encode", "no field 'lat'") == [
        *base,
        ("tsunagu-intended-topic", b"kaga.buses.v1"),
        ("tsunagu-error-kind", b"schema"),
        ("tsunagu-error-stage", b"encode"),
        ("tsunagu-error-message", b"no field 'lat'"),
    ]
