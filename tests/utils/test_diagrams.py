"""The mechanism-diagram building blocks: geometry, colours by value, and clear errors."""

import numpy as np
import pytest

from arena_core.utils import diagrams


def test_matrix_draws_one_cell_per_entry_with_first_row_on_top():
    fig, ax = diagrams.canvas(6, 4)
    x, y, w, h = diagrams.matrix(ax, [[1, 2, 3], [4, 5, 6]], xy=(1, 0.5), cmap="Greys")
    assert (x, y, w, h) == (1, 0.5, 3, 2)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert texts["1"] == (1.5, 2.0)  # row 0 sits on top, at y0 + (rows - 1) + 1/2
    assert texts["6"] == (3.5, 1.0)
    shades = [p.get_facecolor() for p in ax.patches]
    assert shades[0] != shades[-1]  # tinted by value


def test_finish_fits_the_canvas_to_what_was_drawn():
    fig, ax = diagrams.canvas(4, 2)
    diagrams.box(ax, (10, 10), "far away", width=3, height=1)
    diagrams.finish(ax)
    x0, x1 = ax.get_xlim()
    assert x0 < 10 and x1 > 13
    assert fig.get_figwidth() == pytest.approx((x1 - x0) * 0.75)  # cells keep their size


@pytest.mark.parametrize("bad", [np.zeros((0,)), np.zeros((2, 2, 2))])
def test_matrix_rejects_shapes_it_cannot_draw(bad):
    _, ax = diagrams.canvas()
    with pytest.raises(ValueError, match="1-D or 2-D"):
        diagrams.matrix(ax, bad)


def test_highlight_outside_the_matrix_is_an_error():
    _, ax = diagrams.canvas()
    with pytest.raises(ValueError, match="outside a 2x2"):
        diagrams.matrix(ax, np.eye(2), highlight=[(2, 0)])


def test_canvas_needs_positive_sizes():
    with pytest.raises(ValueError, match="positive"):
        diagrams.canvas(0, 3)
