"""The shared figure style and save_fig."""

import numpy as np


def test_save_fig_drops_the_grid_from_image_axes_only(tmp_path):
    from matplotlib.figure import Figure

    from arena_core.utils.figures import plot_style, save_fig

    with plot_style():
        fig = Figure()
        ax_image, ax_curve = fig.subplots(1, 2)
        ax_image.imshow(np.eye(3))
        ax_curve.plot([0, 1], [1, 0])
        save_fig(fig, tmp_path / "f")

    def grid_on(ax):
        return any(line.get_visible() for line in ax.xaxis.get_gridlines())

    assert not grid_on(ax_image) and grid_on(ax_curve)
