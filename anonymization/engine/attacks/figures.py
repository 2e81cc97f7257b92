"""A base for the attacks' frozen result objects: flatten scalar figures into table rows."""

from __future__ import annotations

import dataclasses

__all__ = ["Figures"]


@dataclasses.dataclass(frozen=True)
class Figures:
    """Frozen figures of one attack; :meth:`rows` lists its numbers, nested figures prefixed."""

    def rows(self, attack: str) -> list[tuple[str, str, float]]:
        """Return ``(attack, metric, value)`` for every number, descending into nested figures."""
        out: list[tuple[str, str, float]] = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Figures):
                out += [(attack, f"{field.name}.{metric}", v) for _, metric, v in value.rows(attack)]
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out.append((attack, field.name, value))
        return out
