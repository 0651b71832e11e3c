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


def render(rows: list[Row]) -> str:
    """A plain-text table."""
    header = ("benchmark", "metric", "value", "against", "reference", "ratio", "target")
    lines = [header] + [
        (
            r.name,
            r.metric,
            f"{r.value:,.0f}",
            r.reference_name,
            f"{r.reference:,.0f}",
            f"{r.ratio:.2f}",
            r.target,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )
