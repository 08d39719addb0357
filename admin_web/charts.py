"""Line charts drawn on the server as inline SVG: no script, every label escaped, a title and
a description for screen readers (the page adds a table of the same figures)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 30, 28
COLOURS = ("#0b6e4f", "#1f5fbf", "#b42318")


@dataclass(frozen=True)
class Line:
    """One series of a chart: its label and one value per day, None where there is none."""

    label: str
    points: Sequence[float | None]


def _segments(points: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive days with a value: a line is broken where a day has none."""
    runs: list[list[tuple[int, float]]] = [[]]
    for n, value in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((n, value))
    return [run for run in runs if run]


def _scale_top(lines: Sequence[Line], top: float | None) -> float:
    """The value at the top of the chart: the given one, else the highest value rounded up."""
    if top is not None:
        return top
    highest = max((v for line in lines for v in line.points if v is not None), default=0)
    return float(max(1, math.ceil(highest)))


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class _Frame:
    """Where a day and a value fall on the drawing."""

    days: int
    peak: float

    def x(self, n: int) -> float:
        return round(LEFT + n * (WIDTH - LEFT - RIGHT) / max(1, self.days - 1), 1)

    def y(self, value: float) -> float:
        share = min(value, self.peak) / self.peak
        return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - share), 1)


def line_chart(chart_id: str, title: str, description: str, days: Sequence[date],
               lines: Sequence[Line], *, top: float | None = None) -> Markup:
    """An SVG line chart of daily values, days left to right, zero at the bottom."""
    frame = _Frame(len(days), _scale_top(lines, top))
    ident = escape(chart_id)
    parts = [f'<svg class="chart" id="{ident}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-labelledby="{ident}-title {ident}-desc">',
             f'<title id="{ident}-title">{escape(title)}</title>',
             f'<desc id="{ident}-desc">{escape(description)}</desc>']
    for value in (0, frame.peak / 2, frame.peak):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.y(value)}" '
                     f'y2="{frame.y(value)}" stroke="#d9e2ec"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{frame.y(value) + 4}" text-anchor="end" '
                     f'font-size="11" fill="#616e7c">{_number(value)}</text>')
    for n in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        parts.append(f'<text x="{frame.x(n)}" y="{HEIGHT - 8}" text-anchor="middle" '
                     f'font-size="11" fill="#616e7c">{days[n]:%m-%d}</text>')
    for index, line in enumerate(lines):
        parts += _line_parts(index, line, days, frame)
    parts.append("</svg>")
    return Markup("".join(parts))


def _line_parts(index: int, line: Line, days: Sequence[date], frame: _Frame) -> list[str]:
    """The legend entry, the polylines and the dots (each titled day: value) of one line."""
    colour = COLOURS[index % len(COLOURS)]
    legend_x = LEFT + index * 200
    parts = [f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{colour}"/>',
             f'<text x="{legend_x + 16}" y="18" font-size="12" fill="#1f2933">'
             f'{escape(line.label)}</text>']
    for run in _segments(line.points):
        coords = " ".join(f"{frame.x(n)},{frame.y(v)}" for n, v in run)
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts += [f'<circle cx="{frame.x(n)}" cy="{frame.y(v)}" r="2.5" fill="{colour}"><title>'
                  f'{escape(line.label)} {days[n]:%Y-%m-%d}: {_number(v)}</title></circle>'
                  for n, v in run]
    return parts
