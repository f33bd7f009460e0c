"""Feature dashboards as self-contained HTML pages: one per latent plus an index (day 47).

A page shows what `features.py` computes for one latent, in the layout popularised by Anthropic's
"Towards Monosemanticity" and `sae_vis`: the auto-interpretation and its detection score, the
density and activation histogram (inline SVG), the most promoted / suppressed tokens through
W_U, the source mix of the top contexts, and lists of contexts whose tokens are shaded with
opacity ∝ activation (hover shows the value). No scripts, no external files: a page opens from
disk in any browser. Every piece of text from the corpus or a model goes through
`html.escape`, since tokens such as `<script>` or `&amp;` are ordinary code and chat text here.
"""

import html
from dataclasses import dataclass, field

from arena_core.sae.base import SAEError

CSS = """
body{font-family:system-ui,sans-serif;max-width:980px;margin:24px auto;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.4em;border-bottom:1px solid #ddd}
.ctx{font-family:ui-monospace,monospace;font-size:13px;white-space:pre-wrap;margin:4px 0;
padding:3px 6px;background:#fafafa;border-left:3px solid #ccc}
.ctx span{border-radius:2px} .meta{color:#777;font-size:12px;margin-right:8px}
table{border-collapse:collapse;font-size:13px} td,th{padding:2px 8px;text-align:left}
.pos{color:#1a6e1a} .neg{color:#a11} .cols{display:flex;gap:40px;flex-wrap:wrap}
"""


@dataclass
class ShownContext:
    """A context ready to draw: token strings, activations, and a label (e.g. its source)."""

    tokens: list[str]
    acts: list[float]
    label: str = ""


@dataclass
class LatentCard:
    """Everything one latent's page shows (strings already decoded, numbers already computed)."""

    latent: int
    density: float
    max_act: float
    explanation: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # e.g. detection AUROC
    hist_counts: list[float] = field(default_factory=list)
    hist_edges: list[float] = field(default_factory=list)
    top_logits: list[tuple[str, float]] = field(default_factory=list)
    bottom_logits: list[tuple[str, float]] = field(default_factory=list)
    source_mix: dict[str, int] = field(default_factory=dict)
    sections: dict[str, list[ShownContext]] = field(default_factory=dict)  # title -> contexts
    note: str = ""  # e.g. "random pick" or "hand-picked"


def esc(text: str) -> str:
    """HTML-escaped text, quotes included (it also goes into title attributes)."""
    return html.escape(str(text), quote=True)


def highlight(tokens: list[str], acts: list[float], vmax: float) -> str:
    """Tokens as spans with an orange background of opacity act / vmax and a hover value."""
    if len(tokens) != len(acts):
        raise SAEError(f"{len(tokens)} tokens but {len(acts)} activations")
    vmax = vmax if vmax > 0 else 1.0
    out = []
    for t, a in zip(tokens, acts, strict=True):
        alpha = min(max(a / vmax, 0.0), 1.0)
        out.append(
            f'<span style="background:rgba(255,140,0,{alpha:.2f})" '
            f'title="activation {a:.3f}">{esc(t)}</span>'
        )
    return "".join(out)


def histogram_svg(counts: list[float], edges: list[float], width: int = 420, height: int = 140):
    """Inline SVG bar chart of a histogram (x: activation, y: token count)."""
    if len(edges) != len(counts) + 1:
        raise SAEError("a histogram needs len(edges) == len(counts) + 1")
    top = max(counts, default=0) or 1.0
    pad, bw = 30, (width - 40) / max(len(counts), 1)
    bars = "".join(
        f'<rect x="{pad + i * bw:.1f}" y="{height - 20 - (height - 30) * c / top:.1f}" '
        f'width="{max(bw - 1, 1):.1f}" height="{(height - 30) * c / top:.1f}" fill="#f28c28">'
        f"<title>{edges[i]:.2f}–{edges[i + 1]:.2f}: {int(c)} tokens</title></rect>"
        for i, c in enumerate(counts)
    )
    axis = (
        f'<line x1="{pad}" y1="{height - 20}" x2="{width - 10}" y2="{height - 20}" stroke="#555"/>'
        f'<text x="{pad}" y="{height - 5}" font-size="11">0</text>'
        f'<text x="{width - 10}" y="{height - 5}" font-size="11" text-anchor="end">'
        f"{edges[-1]:.2f}</text>"
        f'<text x="{width / 2}" y="{height - 5}" font-size="11" text-anchor="middle">'
        f"activation (tokens where it fires)</text>"
        f'<text x="4" y="12" font-size="11">max {int(top)}</text>'
    )
    return f'<svg width="{width}" height="{height}" role="img">{bars}{axis}</svg>'


def _logit_table(title: str, rows: list[tuple[str, float]], cls: str) -> str:
    body = "".join(f'<tr><td><code>{esc(repr(t))}</code></td><td class="{cls}">{v:+.3f}</td></tr>'
                   for t, v in rows)  # fmt: skip
    return f"<div><h3>{esc(title)}</h3><table>{body}</table></div>"


def latent_page(card: LatentCard, title: str = "") -> str:
    """The HTML page of one latent."""
    scores = " · ".join(f"{esc(k)} {v:.2f}" for k, v in card.scores.items())
    mix = ", ".join(f"{esc(k)} {v}" for k, v in card.source_mix.items())
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>latent {card.latent}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<p><a href='dashboards.html'>all latents</a> · {esc(title)}</p>",
        f"<h1>Latent {card.latent}"
        + (f" <small>({esc(card.note)})</small>" if card.note else "")
        + "</h1>",
        f"<p><b>Explanation:</b> {esc(card.explanation) or '—'}</p>",
        f"<p><b>Detection:</b> {scores or '—'}</p>",
        f"<p><b>Density:</b> {100 * card.density:.3f}% of tokens · <b>max activation:</b> "
        f"{card.max_act:.3f} · <b>top contexts by source:</b> {mix or '—'}</p>",
        "<h2>Activation histogram</h2>",
        histogram_svg(card.hist_counts, card.hist_edges) if card.hist_counts else "<p>—</p>",
        "<h2>Logit effects through W_U (direct path)</h2><div class='cols'>",
        _logit_table("promoted", card.top_logits, "pos"),
        _logit_table("suppressed", card.bottom_logits, "neg"),
        "</div>",
    ]
    for name, contexts in card.sections.items():
        parts.append(f"<h2>{esc(name)}</h2>")
        for c in contexts:
            meta = f"<span class='meta'>{esc(c.label)} · max {max(c.acts, default=0):.2f}</span>"
            parts.append(
                f"<div class='ctx'>{meta}{highlight(c.tokens, c.acts, card.max_act)}</div>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def index_page(cards: list[LatentCard], title: str, intro: str = "") -> str:
    """A table linking `latent_NNNN.html` for each card, with its explanation and scores."""
    names = sorted({k for c in cards for k in c.scores})
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td><a href='{page_name(c.latent)}'>{c.latent}</a></td><td>{esc(c.note)}</td>"
        f"<td>{esc(c.explanation)}</td><td>{100 * c.density:.3f}%</td>"
        + "".join(f"<td>{c.scores[n]:.2f}</td>" if n in c.scores else "<td>—</td>" for n in names)
        + "</tr>"
        for c in cards
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1><p>{esc(intro)}</p>"
        f"<table><tr><th>latent</th><th>picked</th><th>explanation</th><th>density</th>{head}</tr>"
        f"{rows}</table></body></html>"
    )


def page_name(latent: int) -> str:
    return f"latent_{latent:04d}.html"
