"""Building blocks for the mechanism diagram each blog post opens with.

A results plot shows *what* happened; a mechanism diagram shows *how* it happens: the boxes, arrows
and small matrices a teacher would draw on a whiteboard. Every day script draws one with these
pieces on a blank canvas whose units are "cells" (one matrix cell = 1 x 1):

    fig, ax = canvas(width=9, height=4)
    matrix(ax, [[1, 2], [3, 4]], xy=(0, 0), title="A")
    arrow(ax, (2.3, 1), (3.7, 1), "softmax")
    box(ax, (4, 0.5), "p", width=1.5, height=1)
    run.save_fig(fig, "mechanism")

y grows upwards, `xy` is the lower-left corner. Matrices are drawn with their first row on top, as
they are written on paper. Colours come from one small palette so that the diagrams of all days
look alike.
"""

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

#: Sizes and positions: ints are as welcome as floats.
Num = int | float

#: Fill colours by role: inputs, parameters, operations, outputs, highlights.
PALETTE = {
    "input": "#dbe9f6",
    "param": "#fde6c8",
    "op": "#fff6bf",
    "output": "#d9f0d3",
    "highlight": "#f8c9c4",
    "neutral": "#eeeeee",
}


def canvas(width: Num = 9.0, height: Num = 4.0, scale: Num = 0.75) -> tuple[Figure, Axes]:
    """A blank figure whose data units are diagram cells; `scale` inches per unit.

    The limits follow what is drawn (`finish` tightens them), so callers only place things.
    """
    if width <= 0 or height <= 0 or scale <= 0:
        raise ValueError(f"canvas needs positive sizes, got {width=}, {height=}, {scale=}")
    fig = Figure(figsize=(width * scale, height * scale))
    FigureCanvasAgg(fig)  # a renderer for `finish` to measure text with
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(
    ax: Axes,
    xy: tuple[Num, Num],
    text: str,
    width: Num = 2.0,
    height: Num = 1.0,
    role: str = "op",
    fontsize: Num = 10,
) -> tuple[Num, Num, Num, Num]:
    """A rounded box with centred text; returns (x, y, width, height) for placing arrows."""
    x, y = xy
    patch = FancyBboxPatch(
        (x, y),
        width,
        height,
        boxstyle="round,pad=0.02,rounding_size=0.15",
        facecolor=PALETTE[role],
        edgecolor="0.35",
        linewidth=1.0,
    )
    ax.add_patch(patch)
    ax.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=fontsize)
    return x, y, width, height


def arrow(
    ax: Axes,
    start: tuple[Num, Num],
    end: tuple[Num, Num],
    text: str | None = None,
    color: str = "0.25",
    curve: Num = 0.0,
    fontsize: Num = 9.5,
    text_offset: tuple[Num, Num] = (0.0, 0.18),
) -> None:
    """An arrow from `start` to `end`, optionally bent (`curve` in radians) and labelled."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color=color,
            linewidth=1.2,
            connectionstyle=f"arc3,rad={curve}",
            shrinkA=2,
            shrinkB=2,
        )
    )
    if text:
        mx = (start[0] + end[0]) / 2 + text_offset[0]
        my = (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=fontsize, color=color)


def matrix(
    ax: Axes,
    values: Sequence[Sequence[Num]] | Sequence[Num] | np.ndarray,
    xy: tuple[Num, Num] = (0.0, 0.0),
    title: str | None = None,
    fmt: str = "{:g}",
    cmap: str | None = "Blues",
    cell: Num = 1.0,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    highlight: Sequence[tuple[int, int]] = (),
    fontsize: Num = 9.5,
) -> tuple[Num, Num, Num, Num]:
    """A grid of numbered cells (first row on top), tinted by value when `cmap` is given.

    `highlight` outlines cells (row, col) in red: the entries an equation in the post talks about.
    Returns (x, y, width, height) of the grid.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"matrix needs a non-empty 1-D or 2-D array, got shape {arr.shape}")
    rows, cols = arr.shape
    x0, y0 = xy
    finite = arr[np.isfinite(arr)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    colours = colormaps[cmap] if cmap else None
    for i in range(rows):
        for j in range(cols):
            value = arr[i, j]
            x, y = x0 + j * cell, y0 + (rows - 1 - i) * cell
            if colours is not None and np.isfinite(value):
                shade = 0.15 + 0.6 * ((value - lo) / (hi - lo) if hi > lo else 0.5)
                face = colours(shade)
                dark = shade > 0.55
            else:
                face, dark = "white", False
            ax.add_patch(Rectangle((x, y), cell, cell, facecolor=face, edgecolor="0.4", lw=0.8))
            ax.text(
                x + cell / 2,
                y + cell / 2,
                fmt.format(value) if np.isfinite(value) else str(value),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
    for i, j in highlight:
        if not (0 <= i < rows and 0 <= j < cols):
            raise ValueError(f"highlight ({i}, {j}) is outside a {rows}x{cols} matrix")
        x, y = x0 + j * cell, y0 + (rows - 1 - i) * cell
        ax.add_patch(Rectangle((x, y), cell, cell, fill=False, edgecolor="#d62728", lw=2.2))
    if row_labels is not None:
        for i, label in enumerate(row_labels):
            y = y0 + (rows - 1 - i) * cell + cell / 2
            ax.text(x0 - 0.12 * cell, y, label, ha="right", va="center", fontsize=fontsize)
    if col_labels is not None:
        for j, label in enumerate(col_labels):
            x = x0 + j * cell + cell / 2
            ax.text(
                x,
                y0 + rows * cell + 0.08 * cell,
                label,
                ha="center",
                va="bottom",
                fontsize=fontsize,
            )
    if title:
        top = y0 + rows * cell + (0.45 * cell if col_labels is not None else 0.12 * cell)
        ax.text(
            x0 + cols * cell / 2,
            top,
            title,
            ha="center",
            va="bottom",
            fontsize=fontsize + 1,
            fontweight="bold",
        )
    return x0, y0, cols * cell, rows * cell


def label(ax: Axes, xy: tuple[Num, Num], text: str, fontsize: Num = 10, **kwargs) -> None:
    """Free text on the canvas (an equation, a caption), centred at `xy` by default."""
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    ax.text(xy[0], xy[1], text, fontsize=fontsize, **kwargs)


def finish(ax: Axes, margin: Num = 0.3) -> None:
    """Fit the canvas limits to everything drawn, with `margin` cells around it."""
    fig = ax.figure
    x_lo, x_hi = ax.get_xlim()
    scale = fig.get_figwidth() / (x_hi - x_lo)  # inches per cell, kept as the canvas grows
    renderer = fig._get_renderer()  # text extents are only known to a renderer
    inverse = ax.transData.inverted()
    boxes = [artist.get_window_extent(renderer) for artist in [*ax.patches, *ax.texts]]
    if not boxes:
        return
    corners = np.array([inverse.transform([(b.x0, b.y0), (b.x1, b.y1)]) for b in boxes])
    xmin, ymin = corners[:, 0].min(axis=0)
    xmax, ymax = corners[:, 1].max(axis=0)
    ax.set_xlim(xmin - margin, xmax + margin)
    ax.set_ylim(ymin - margin, ymax + margin)
    width, height = xmax - xmin + 2 * margin, ymax - ymin + 2 * margin
    fig.set_size_inches(max(width * scale, 1.0), max(height * scale, 1.0))
