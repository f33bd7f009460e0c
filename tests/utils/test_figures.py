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


def test_text_table_has_a_bold_grey_header_and_the_rows():
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    from arena_core.utils.figures import text_table

    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    rows = [["moon", "0.5"], ["<b>", "x"]]
    table = text_table(ax, rows, ["word", "score"], widths=[0.3, 0.2, 0.9])
    cells = table.get_celld()
    assert cells[0, 0].get_text().get_text() == "word"
    assert cells[0, 1].get_text().get_fontweight() == "bold"
    assert cells[0, 0].get_facecolor() == to_rgba("0.9")
    assert cells[2, 0].get_text().get_text() == "<b>"
    assert cells[1, 1].get_facecolor() != to_rgba("0.9")
    assert cells[1, 0].get_width() == 0.3 and not ax.axison
