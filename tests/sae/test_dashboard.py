"""Dashboard HTML: every corpus or model string is escaped; shading and histogram are as asked."""

import re

import pytest

from arena_core.sae import SAEError
from arena_core.sae.dashboard import (
    LatentCard,
    ShownContext,
    highlight,
    histogram_svg,
    index_page,
    latent_page,
    page_name,
)

EVIL = '<script>alert("x")</script>'


def card() -> LatentCard:
    return LatentCard(
        latent=7,
        density=0.0123,
        max_act=4.0,
        explanation=f"tags like {EVIL}",
        scores={"AUROC": 0.75},
        hist_counts=[3.0, 0.0, 1.0],
        hist_edges=[0.0, 1.0, 2.0, 3.0],
        top_logits=[(EVIL, 1.5), ("&amp;", 1.0)],
        bottom_logits=[("</div>", -2.0)],
        source_mix={"python": 3},
        sections={f"top {EVIL}": [ShownContext(["a", EVIL, " b"], [0.0, 2.0, 4.0], "python")]},
        note="<b>",
    )


def test_pages_escape_script_tokens_everywhere():
    page = latent_page(card(), title=EVIL)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "</div>'" not in page  # the logit token is shown escaped, inside repr quotes
    assert "&amp;amp;" in page  # a literal '&amp;' token stays visible as text
    index = index_page([card()], title=EVIL, intro=EVIL)
    assert "<script" not in index.lower()
    assert f"href='{page_name(7)}'" in index and page_name(7) == "latent_0007.html"


def test_highlight_opacity_and_hover_value():
    html = highlight(["x", '"q"'], [1.0, 3.0], vmax=2.0)
    alphas = [float(a) for a in re.findall(r"rgba\(255,140,0,([0-9.]+)\)", html)]
    assert alphas == [0.5, 1.0]  # act / vmax, clipped to 1
    assert 'title="activation 3.000"' in html and "&quot;q&quot;" in html
    with pytest.raises(SAEError):
        highlight(["x"], [1.0, 2.0], vmax=1.0)


def test_histogram_svg_has_one_bar_per_bin():
    svg = histogram_svg([1.0, 5.0, 0.0, 2.0], [0.0, 1.0, 2.0, 3.0, 4.0])
    assert svg.count("<rect") == 4 and svg.startswith("<svg")
    with pytest.raises(SAEError):
        histogram_svg([1.0, 2.0], [0.0, 1.0])
