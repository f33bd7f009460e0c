"""A self-contained HTML view of a pruned attribution graph (day 57).

In the spirit of Anthropic's attribution-graph viewer (Ameisen et al. 2025), reduced to one file:
inline SVG, a few lines of vanilla JavaScript, the graph embedded as JSON, no network. Nodes sit
by position (x, the prompt's tokens under the columns) and layer (y; token embeddings at the
bottom, the target logits at the top); several nodes of one (layer, position) spread side by
side. Latents are circles, error nodes grey squares, tokens and targets rounded boxes. Edges are
drawn with width ∝ |weight| (blue: positive, red: negative). Hover or click a node: its edges are
highlighted, the rest fade, and the side panel shows its label (for a latent, the tokens its
decoder row promotes most through the unembedding), activation, influence and largest inputs.
"""

import html
import json
from pathlib import Path

import torch

from arena_core.interp.graph_influence import PrunedGraph

_CSS = """
body{font-family:system-ui,sans-serif;margin:1em;color:#222}
h1{font-size:1.15em;margin:.2em 0} .hint{color:#666;font-size:.85em}
#wrap{display:flex;gap:1em;align-items:flex-start}
#panel{min-width:280px;max-width:340px;font-size:.85em;border:1px solid #ccc;padding:.6em;
       background:#fafafa;white-space:pre-wrap;font-family:monospace}
svg{border:1px solid #ddd;background:#fff}
.node{cursor:pointer} .node:hover{stroke:#000;stroke-width:2}
.dim{opacity:.08} .hi{opacity:1}
"""

_JS = """
const D = JSON.parse(document.getElementById('data').textContent);
const svg = document.getElementById('g'), panel = document.getElementById('panel');
let pinned = null;
function show(i) {
  const n = D.nodes[i];
  const ins = D.edges.filter(e => e[0] === i).sort((a, b) => Math.abs(b[2]) - Math.abs(a[2]));
  const outs = D.edges.filter(e => e[1] === i).sort((a, b) => Math.abs(b[2]) - Math.abs(a[2]));
  const fmt = e => (e[2] >= 0 ? '+' : '') + e[2].toFixed(3);
  let t = n.label + '\\n' + n.detail + '\\n';
  const line = (e, k) => ' ' + fmt(e) + '  ' + D.nodes[e[k]].label;
  t += '\\ninputs:\\n' + ins.slice(0, 8).map(e => line(e, 1)).join('\\n');
  t += '\\noutputs:\\n' + outs.slice(0, 8).map(e => line(e, 0)).join('\\n');
  panel.textContent = t;
  const near = new Set([i]);
  ins.forEach(e => near.add(e[1])); outs.forEach(e => near.add(e[0]));
  svg.querySelectorAll('.edge').forEach(el => {
    const on = +el.dataset.t === i || +el.dataset.s === i;
    el.classList.toggle('dim', !on); el.classList.toggle('hi', on);
  });
  svg.querySelectorAll('.node').forEach(el => el.classList.toggle('dim', !near.has(+el.dataset.i)));
}
function clear() {
  svg.querySelectorAll('.dim').forEach(el => el.classList.remove('dim'));
  panel.textContent = 'hover or click a node';
}
svg.querySelectorAll('.node').forEach(el => {
  el.addEventListener('mouseenter', () => { if (pinned === null) show(+el.dataset.i); });
  el.addEventListener('mouseleave', () => { if (pinned === null) clear(); });
  el.addEventListener('click', ev => {
    ev.stopPropagation(); pinned = pinned === +el.dataset.i ? null : +el.dataset.i;
    if (pinned === null) clear(); else show(pinned);
  });
});
svg.addEventListener('click', () => { pinned = null; clear(); });
clear();
"""


def latent_top_tokens(model, tokenizer, transcoders, latents, k: int = 3) -> list[list[str]]:
    """For each latent (layer, pos, index): the `k` tokens its decoder row raises most through
    the final norm's gain and the unembedding (its direct logit effect, up to the norm scale)."""
    if len(latents) == 0:
        return []
    with torch.no_grad():
        dec = torch.stack([transcoders[int(lay)].W_dec[int(i)] for lay, _, i in latents])
        eff = model.unembed((dec * model.ln_final.w)[None])[0]
        top = eff.topk(k, dim=-1).indices
    return [[tokenizer.decode([int(t)]) for t in row] for row in top]


def node_labels(pg: PrunedGraph, str_tokens: list[str], top_tokens=None) -> dict[int, dict]:
    """A short label and a detail line for every kept node."""
    g, out = pg.graph, {}
    for i in pg.nodes.tolist():
        kind, (lay, pos) = g.kind(i), g.layer_pos(i)
        infl = float(pg.influence[i])
        if kind == "latent":
            idx = int(g.latents[i, 2])
            tops = " ".join(repr(t) for t in (top_tokens[i] if top_tokens else []))
            label = f"L{lay}#{idx} @{pos} {tops}"
            detail = f"latent, activation {float(g.activations[i]):.3f}, influence {infl:.3f}"
        elif kind == "error":
            label = f"error L{lay} @{pos}"
            detail = f"error node (MLP {lay} − transcoder), influence {infl:.3f}"
        elif kind == "token":
            label = f"token {str_tokens[pos]!r} @{pos}"
            detail = f"embedding, influence {infl:.3f}"
        else:
            tg = g.targets[i - g.target_index()]
            label = f"target {tg.name}"
            detail = f"value {float(g.values[i]):.3f} (bias {float(g.bias[i]):.3f})"
        out[i] = {"label": label, "detail": detail, "kind": kind, "layer": lay, "pos": pos}
    return out


def graph_html(
    pg: PrunedGraph, str_tokens: list[str], path: str | Path, title: str = "", top_tokens=None
) -> Path:
    """Write the view of `pg` to `path` (one file, no external resources)."""
    g = pg.graph
    labels = node_labels(pg, str_tokens, top_tokens)
    nodes = pg.nodes.tolist()
    col_w, row_h, pad = 130, 26, 60
    n_rows = g.n_layers + 2
    slots: dict[tuple[int, int], list[int]] = {}
    for i in nodes:
        slots.setdefault((labels[i]["layer"], labels[i]["pos"]), []).append(i)
    xy = {}
    for (lay, pos), members in slots.items():
        for k, i in enumerate(members):
            dx = (k - (len(members) - 1) / 2) * min(14, (col_w - 20) / max(1, len(members)))
            xy[i] = (pad + pos * col_w + col_w / 2 + dx, pad + (g.n_layers - lay) * row_h)
    width, height = pad * 2 + g.n_pos * col_w, pad * 2 + n_rows * row_h + 20
    t_idx, s_idx = pg.edges.nonzero(as_tuple=True)
    w = g.adjacency[t_idx, s_idx]
    wmax = float(w.abs().max()) if len(w) else 1.0
    parts, edges = [], []
    for t, s, v in zip(t_idx.tolist(), s_idx.tolist(), w.tolist(), strict=True):
        (x1, y1), (x2, y2) = xy[s], xy[t]
        col = "#2b6cb0" if v > 0 else "#c53030"
        sw = 0.4 + 5 * abs(v) / wmax
        parts.append(f'<line class="edge" data-t="{t}" data-s="{s}" x1="{x1:.1f}" y1="{y1:.1f}" '
                     f'x2="{x2:.1f}" y2="{y2:.1f}" stroke="{col}" stroke-width="{sw:.2f}" '
                     f'stroke-opacity="0.55"/>')  # fmt: skip
        edges.append([t, s, round(v, 4)])
    for i in nodes:
        x, y = xy[i]
        kind = labels[i]["kind"]
        tip = html.escape(labels[i]["label"])
        if kind == "latent":
            shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#f6ad55"'
        elif kind == "error":
            shape = f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="#a0aec0"'
        else:
            fill = "#68d391" if kind == "target" else "#90cdf4"
            shape = (
                f'<rect x="{x - 9:.1f}" y="{y - 7:.1f}" width="18" height="14" rx="4" fill="{fill}"'
            )
        parts.append(f'{shape} class="node" data-i="{i}" stroke="#555"><title>{tip}</title>'
                     f"{'</circle>' if kind == 'latent' else '</rect>'}")  # fmt: skip
    for pos, tok in enumerate(str_tokens):
        x = pad + pos * col_w + col_w / 2
        word = html.escape(repr(tok))
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" '
                     f'font-family="monospace" font-size="13">{word}</text>')  # fmt: skip
    for lay in range(0, g.n_layers, 5):
        y = pad + (g.n_layers - lay) * row_h
        parts.append(f'<text x="4" y="{y + 4:.1f}" font-size="10" fill="#888">L{lay}</text>')
    parts.append(f'<text x="4" y="{pad - 22}" font-size="10" fill="#888">logit</text>')
    parts.append(f'<text x="4" y="{pad + (g.n_layers + 1) * row_h + 4}" font-size="10" '
                 f'fill="#888">embed</text>')  # fmt: skip
    blank = {"label": "", "detail": ""}
    data = {"nodes": [labels.get(i, blank) for i in range(len(g.adjacency))], "edges": edges}
    payload = json.dumps(data).replace("</", "<\\/")  # a "</script>" token cannot end the block
    stats = pg.stats()
    summary = (f"{stats['kept_nodes']} nodes ({stats['kept_latents']} latents, "
               f"{stats['kept_errors']} error nodes), {stats['kept_edges']} edges; influence kept "
               f"{stats['influence_kept']:.2f}")  # fmt: skip
    name = html.escape(title or "attribution graph")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(title or "Attribution graph")}</h1>
<div class="hint">{html.escape(summary)}. Hover or click a node; blue edges push up, red push
down; width ∝ |weight|.</div>
<div id="wrap"><svg id="g" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
{chr(10).join(parts)}
</svg><div id="panel"></div></div>
<script type="application/json" id="data">{payload}</script>
<script>{_JS}</script></body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def plot_graph(pg: PrunedGraph, str_tokens: list[str], ax, top_tokens=None, max_edges: int = 400):
    """The same layout as `graph_html`, drawn on a matplotlib axis (for a static PNG): the
    `max_edges` strongest kept edges, latents labelled with their top decoder token."""
    g = pg.graph
    labels = node_labels(pg, str_tokens, top_tokens)
    slots: dict[tuple[int, int], list[int]] = {}
    for i in pg.nodes.tolist():
        slots.setdefault((labels[i]["layer"], labels[i]["pos"]), []).append(i)
    xy = {}
    for (lay, pos), members in slots.items():
        for k, i in enumerate(members):
            xy[i] = (pos + (k - (len(members) - 1) / 2) * min(0.1, 0.85 / len(members)), lay + 1)
    t_idx, s_idx = pg.edges.nonzero(as_tuple=True)
    w = g.adjacency[t_idx, s_idx]
    order = w.abs().argsort(descending=True)[:max_edges].flip(0)
    wmax = float(w.abs().max()) if len(w) else 1.0
    for j in order.tolist():
        t, s, v = int(t_idx[j]), int(s_idx[j]), float(w[j])
        (x1, y1), (x2, y2) = xy[s], xy[t]
        ax.plot([x1, x2], [y1, y2], color="#2b6cb0" if v > 0 else "#c53030",
                lw=0.3 + 3 * abs(v) / wmax, alpha=0.45, zorder=1)  # fmt: skip
    style = {"latent": ("o", "#f6ad55", 40), "error": ("s", "#a0aec0", 30),
             "token": ("D", "#90cdf4", 60), "target": ("*", "#38a169", 220)}  # fmt: skip
    for kind, (m, c, size) in style.items():
        pts = [xy[i] for i in pg.nodes.tolist() if labels[i]["kind"] == kind]
        if pts:
            ax.scatter(*zip(*pts, strict=True), marker=m, color=c, s=size, edgecolor="0.3",
                       zorder=3, label=kind + (" node" if kind == "error" else ""))  # fmt: skip
    if top_tokens:
        best = sorted((i for i in pg.nodes.tolist() if labels[i]["kind"] == "latent"),
                      key=lambda i: -float(pg.influence[i]))[:8]  # fmt: skip
        used: dict[int, list[float]] = {}
        for i in sorted(best, key=lambda i: -xy[i][1]):
            (x, y), col = xy[i], labels[i]["pos"]
            ty = y
            while any(abs(ty - u) < 1.1 for u in used.get(col, [])):
                ty -= 1.1
            used.setdefault(col, []).append(ty)
            ax.annotate(f"L{labels[i]['layer']}: {top_tokens[i][0]!r}", (x, y),
                        xytext=(col - 0.48, ty), fontsize=7.5, color="0.15", zorder=4,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.7"},
                        arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6})  # fmt: skip
    ax.set_xticks(range(g.n_pos), [repr(t) for t in str_tokens], rotation=30, ha="right")
    ticks = [0] + list(range(1, g.n_layers + 1, 5)) + [g.n_layers + 1]
    ax.set_yticks(ticks, ["embed"] + [f"L{t - 1}" for t in ticks[1:-1]] + ["logit"])
    ax.set_xlim(-0.6, g.n_pos - 0.4)
    ax.set_ylim(-0.8, g.n_layers + 1.8)
    ax.grid(False)
    ax.legend(loc="upper left", fontsize=8, ncol=4)
