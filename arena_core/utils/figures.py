"""Saving figures as PNG without touching global plotting state.

Make figures with `matplotlib.figure.Figure` (object-oriented, no pyplot, no GUI backend needed):

    fig = Figure(figsize=(6, 4)); ax = fig.subplots(); ax.plot(...); save_fig(fig, out_dir / "loss")

A pyplot figure works too; it is closed after saving so long runs do not leak memory.
"""

from pathlib import Path

from matplotlib.figure import Figure


def save_fig(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save `fig` as PNG at `path` (".png" is added when missing); return the written path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", format="png")
    if getattr(fig, "number", None) is not None:  # a pyplot-managed figure: release it
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
