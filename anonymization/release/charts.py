"""Small server-side SVG charts for release reports: no JavaScript, no CDN, no style attributes.

Colours and fonts are SVG presentation attributes, so a chart renders the same inside the admin
(under a strict Content Security Policy) and in the standalone report file. Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR = "#3d6fb6"
AFTER = "#d0822a"
MUTED = "#b9c2cc"
TEXT = "#1f2933"
ROW = 22
LABEL_WIDTH = 150
BAR_WIDTH = 260
VALUE_WIDTH = 90
LEVEL_NAME_WIDTH = 170


def _text(x: float, y: float, content: str, anchor: str = "start", css: str = "chart__label") -> str:
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12" '
            f'fill="{TEXT}">{escape(content)}</text>')


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, fmt: str = "{:,.0f}",
              colour: str = BAR, scale_to: float | None = None) -> SafeString:
    """Return a horizontal bar chart: one labelled bar per (label, value)."""
    largest = scale_to or max((value for _, value in items), default=0) or 1
    body = []
    for row, (label, value) in enumerate(items):
        y = row * ROW
        width = max(BAR_WIDTH * value / largest, 1 if value else 0)
        body.append(_text(LABEL_WIDTH - 6, y + 15, label, anchor="end"))
        body.append(f'<rect class="chart__bar" x="{LABEL_WIDTH}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" '
                    f'fill="{colour}"/>')
        body.append(_text(LABEL_WIDTH + width + 6, y + 15, fmt.format(value), css="chart__value"))
    return _svg(LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, max(len(items), 1) * ROW, title, body)


def levels_chart(levels: dict[str, int], heights: dict[str, int], names: dict[str, str] | None = None) -> SafeString:
    """Return one bar per quasi-identifier: its chosen level out of its top level, as filled steps,
    followed by what the level releases ("quarter") when `names` says."""
    body = []
    for row, (column, level) in enumerate(levels.items()):
        top = max(heights.get(column, 1) - 1, 1)
        step = BAR_WIDTH / top
        y = row * ROW
        body.append(_text(LABEL_WIDTH - 6, y + 15, column, anchor="end"))
        for index in range(top):
            fill = BAR if index < level else MUTED
            body.append(f'<rect x="{LABEL_WIDTH + index * step + 1:.1f}" y="{y + 4}" width="{step - 2:.1f}" '
                        f'height="{ROW - 8}" fill="{fill}"/>')
        meaning = (names or {}).get(column, f"level {level} of {top}")
        body.append(_text(LABEL_WIDTH + BAR_WIDTH + 6, y + 15, meaning, css="chart__value"))
    return _svg(LABEL_WIDTH + BAR_WIDTH + LEVEL_NAME_WIDTH, max(len(levels), 1) * ROW,
                "Generalization level of each quasi-identifier", body)


def suppression_chart(rows_in: int, suppressed: int, limit: float) -> SafeString:
    """Return one stacked bar: released rows, suppressed rows, and a tick at the suppression limit."""
    total = max(rows_in, 1)
    kept_width = BAR_WIDTH * (rows_in - suppressed) / total
    limit_x = LABEL_WIDTH + BAR_WIDTH * (1 - limit)
    body = [
        _text(LABEL_WIDTH - 6, 19, "rows", anchor="end"),
        f'<rect x="{LABEL_WIDTH}" y="6" width="{kept_width:.1f}" height="18" fill="{BAR}"/>',
        f'<rect x="{LABEL_WIDTH + kept_width:.1f}" y="6" width="{BAR_WIDTH - kept_width:.1f}" height="18" '
        f'fill="{AFTER}"/>',
        f'<line x1="{limit_x:.1f}" y1="2" x2="{limit_x:.1f}" y2="28" stroke="{TEXT}" stroke-dasharray="3 2"/>',
        _text(LABEL_WIDTH + BAR_WIDTH + 6, 19, f"{suppressed:,} suppressed", css="chart__value"),
        _text(LABEL_WIDTH, 44, f"released {rows_in - suppressed:,} of {rows_in:,}; dashed line: limit {limit:.1%}"),
    ]
    return _svg(LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH + 40, 52, "Released and suppressed rows", body)


def before_after(column: str, before: Sequence[tuple[str, float]], after: Sequence[tuple[str, float]]) -> SafeString:
    """Return two bar charts side by side: the column's value shares before and after anonymization."""
    scale = max([value for _, value in [*before, *after]] or [1])
    left = bar_chart(f"{column} before", before, fmt="{:.1%}", scale_to=scale)
    right = bar_chart(f"{column} after", after, fmt="{:.1%}", colour=AFTER, scale_to=scale)
    return mark_safe(f'<div class="chart-pair"><figure><figcaption>Before</figcaption>{left}</figure>'
                     f"<figure><figcaption>After</figcaption>{right}</figure></div>")
