"""One way to draw a figure into an HTML report: matplotlib's `Figure` outside pyplot (no global
state, no display needed), rendered as an inline PNG so that each report is one
self-contained page."""

from __future__ import annotations

import base64
import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def figure(
    width: float, height: float, rows: int | None = None, columns: int | None = None
) -> tuple[Figure, Axes]:
    """A figure with one axis, or with a grid of `rows` x `columns` axes (as a flat array)."""
    drawn = Figure(figsize=(width, height))
    if rows is None and columns is None:
        return drawn, drawn.subplots()
    return drawn, drawn.subplots(rows or 1, columns or 1, squeeze=False).ravel()


def inline_png(drawn: Figure, dpi: int = 110) -> str:
    """The figure as an <img> element holding its PNG."""
    buffer = io.BytesIO()
    drawn.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="" src="data:image/png;base64,{data}">'
