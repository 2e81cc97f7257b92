"""The attacks' result base (attacks/figures.py): numbers become table rows, nested figures prefixed."""

from __future__ import annotations

from dataclasses import dataclass

from anonymization.engine.attacks.figures import Figures


@dataclass(frozen=True)
class Inner(Figures):
    links: int


@dataclass(frozen=True)
class Outer(Figures):
    targets: int
    share: float
    complete: bool
    name: str
    chaining: Inner


def test_it_lists_numbers_in_field_order_and_prefixes_nested_figures() -> None:
    figures = Outer(targets=3, share=0.5, complete=True, name="night 1", chaining=Inner(links=2))
    assert figures.rows("known") == [("known", "targets", 3), ("known", "share", 0.5),
                                     ("known", "chaining.links", 2)]
