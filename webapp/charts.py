"""Geometry of the dashboard's server-rendered SVG charts (the templates only draw what this computes).

Server-side SVG needs no script and no inline style, so the pages keep `script-src 'self'; style-src 'self'`;
colours come from classes in static/dashboard/dashboard.css.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value text, length in SVG units, class and drill-down link."""

    label: str
    value: float
    text: str
    width: float
    css: str
    url: str
    y: float


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar."""

    label: str
    count: int
    x: float
    width: float
    css: str
    url: str
    share: str


@dataclass(frozen=True)
class Column:
    """One month of the column chart: two columns (received, answered)."""

    label: str
    x: float
    received: int
    answered: int
    h_received: float
    h_answered: float
    url_received: str
    url_answered: str


BAR_WIDTH = 320.0
ROW_HEIGHT = 22.0
STACK_WIDTH = 600.0
COLUMN_HEIGHT = 160.0


def bars(items: list[tuple[str, float, str, str, str]], scale: float | None = None) -> list[Bar]:
    """Return horizontal bars for (label, value, text, css, url) items, scaled to the largest (or `scale`)."""
    top = scale if scale is not None else max((v for _, v, _, _, _ in items), default=0.0)
    return [Bar(label, value, text, round(BAR_WIDTH * value / top, 1) if top else 0.0, css, url,
                round(i * ROW_HEIGHT, 1)) for i, (label, value, text, css, url) in enumerate(items)]


def stacked(items: list[tuple[str, int, str, str]]) -> list[Segment]:
    """Return the segments of a 100 % stacked bar for (label, count, css, url) items."""
    total = sum(count for _, count, _, _ in items)
    segments, x = [], 0.0
    for label, count, css, url in items:
        width = STACK_WIDTH * count / total if total else 0.0
        share = f"{100 * count / total:.1f}%" if total else "—"
        segments.append(Segment(label, count, round(x, 1), round(width, 1), css, url, share))
        x += width
    return segments


def columns(months: list[tuple[str, int, int, str, str]], step: float = 28.0) -> list[Column]:
    """Return paired columns for (month, received, answered, url received, url answered)."""
    top = max((max(r, a) for _, r, a, _, _ in months), default=0)
    scale = COLUMN_HEIGHT / top if top else 0.0
    return [Column(label, round(i * step, 1), r, a, round(r * scale, 1), round(a * scale, 1), ur, ua)
            for i, (label, r, a, ur, ua) in enumerate(months)]
