"""Saving figures as PNG without touching global plotting state.

Make figures with `matplotlib.figure.Figure` (object-oriented, no pyplot, no GUI backend needed):

    fig = Figure(figsize=(6, 4)); ax = fig.subplots(); ax.plot(...); save_fig(fig, out_dir / "loss")

A pyplot figure works too; it is closed after saving so long runs do not leak memory.

`STYLE` is the one place the look of every published figure is set (font sizes that stay readable
when a post shrinks the image, no top/right spines, a light grid, a legend frame that lets data show
through). A day run applies it for its whole duration (`arena_core.utils.run.Run`), or use it by
hand: `with plot_style(): ...`. Nothing is changed at import time. `save_fig` removes the grid from
axes that show an image (a heatmap, an attention pattern) and no curve.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

#: rcParams shared by every figure a day script draws.
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "figure.facecolor": "white",
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.8",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "0.9",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "axes.prop_cycle": matplotlib.cycler(
        color=["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]
    ),
    "lines.linewidth": 1.8,
    "image.cmap": "viridis",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
}


@contextmanager
def plot_style() -> Iterator[None]:
    """Apply `STYLE` inside the block (matplotlib's own rc_context restores the rest after)."""
    with matplotlib.rc_context(STYLE):
        yield


def save_fig(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save `fig` as PNG at `path` (".png" is added when missing); return the written path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    for ax in fig.axes:  # a grid helps read a curve, but only hides the cells of an image
        if ax.images and not ax.lines:
            ax.grid(False)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", format="png")
    if getattr(fig, "number", None) is not None:  # a pyplot-managed figure: release it
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


def text_table(ax, rows: list, header: list, widths: list | None = None,
               fontsize: float | int = 8.5, row_scale: float | int = 1.3):  # fmt: skip
    """A left-aligned text table on `ax` (axis hidden) with a bold grey header row; returns the
    matplotlib `Table` so a caller can colour cells further."""
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=header, loc="center", cellLoc="left",
                     colWidths=None if widths is None else widths[: len(header)])  # fmt: skip
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    table.scale(1, row_scale)
    for (i, _), cell in table.get_celld().items():
        if i == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.9")
    return table
