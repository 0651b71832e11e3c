"""The one result table every benchmark fills: value against a limit or a peer, and the ratio."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Row:
    """One comparison: ``value`` of ``name`` against ``reference`` (a limit or a peer)."""

    name: str
    metric: str
    value: float
    reference_name: str
    reference: float
    target: str

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else float("nan")

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


def _number(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def render(rows: list[Row]) -> str:
    """A plain-text table."""
    header = ("benchmark", "metric", "value", "against", "reference", "ratio", "target")
    lines = [header] + [
        (
            r.name,
            r.metric,
            _number(r.value),
            r.reference_name,
            _number(r.reference),
            f"{r.ratio:.2f}",
            r.target,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )
