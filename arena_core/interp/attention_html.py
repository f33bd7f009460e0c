"""A self-contained HTML page to explore attention patterns by hovering over tokens (days 34, 37).

In the spirit of CircuitsVis (Cooney & Nanda, https://github.com/TransformerLensOrg/CircuitsVis),
but with no dependency and no network: one file with inline CSS and JavaScript and the patterns
embedded as JSON (rounded to 3 decimals, which keeps a 30-token, 8-head page around 40 kB).

- pick a head from the list (or "all heads": the maximum over the chosen heads);
- hover a token: every earlier token is shaded by how much the hovered (query) token attends
  to it, with the weight shown on hover; click to pin the selection;
- a small heatmap of the whole pattern sits below, for the overall shape (diagonals, stripes).
"""

import html
import json
from pathlib import Path

from jaxtyping import Float
from torch import Tensor

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.2em;max-width:960px;color:#222}
h1{font-size:1.2em} .hint{color:#666;font-size:.9em}
#heads button{margin:2px;padding:3px 8px;border:1px solid #aaa;background:#f5f5f5;cursor:pointer}
#heads button.on{background:#2a6fdb;color:#fff;border-color:#2a6fdb}
#tokens{line-height:2.1em;margin:1em 0;font-family:monospace;font-size:15px}
#tokens span{padding:2px 1px;border:1px solid #ddd;margin:1px;white-space:pre;cursor:pointer}
#tokens span.q{outline:2px solid #d33}
canvas{border:1px solid #ccc;image-rendering:pixelated}
"""

_JS = """
const D = JSON.parse(document.getElementById('data').textContent);
let head = 0, pinned = null;
const heads = document.getElementById('heads'), toks = document.getElementById('tokens');
const info = document.getElementById('info');
function row(h, q) {
  if (h >= 0) return D.patterns[h][q];
  return D.patterns[0][q].map((_, k) => Math.max(...D.patterns.map(p => p[q][k])));
}
function show(q) {
  const r = q === null ? null : row(head, q);
  [...toks.children].forEach((el, k) => {
    const w = r && k < r.length ? r[k] : 0;
    el.style.background = `rgba(42,111,219,${w})`;
    el.style.color = w > 0.55 ? '#fff' : '#222';
    el.className = k === q ? 'q' : '';
    el.title = r ? `attention ${w.toFixed(3)}` : '';
  });
  info.textContent = q === null ? 'hover a token to see what it attends to' :
    `query ${q} ${JSON.stringify(D.tokens[q])}: attention over earlier tokens`;
}
function draw() {
  const n = D.tokens.length, c = document.getElementById('heat'), s = Math.max(4, 320 / n | 0);
  c.width = c.height = n * s;
  const g = c.getContext('2d');
  for (let q = 0; q < n; q++) { const r = row(head, q);
    for (let k = 0; k < n; k++) { g.fillStyle = `rgba(42,111,219,${r[k] || 0})`;
      g.fillRect(k * s, q * s, s, s); } }
}
D.names.concat(D.names.length > 1 ? ['max over heads'] : []).forEach((name, i) => {
  const b = document.createElement('button'); b.textContent = name;
  b.onclick = () => { head = i < D.names.length ? i : -1;
    [...heads.children].forEach(x => x.classList.remove('on')); b.classList.add('on');
    show(pinned); draw(); };
  if (i === 0) b.classList.add('on');
  heads.appendChild(b);
});
D.tokens.forEach((t, q) => {
  const s = document.createElement('span'); s.textContent = t;
  s.onmouseenter = () => show(q); s.onmouseleave = () => show(pinned);
  s.onclick = () => { pinned = pinned === q ? null : q; show(pinned); };
  toks.appendChild(s);
});
show(null); draw();
"""


def attention_html(
    str_tokens: list[str],
    patterns: Float[Tensor, "heads q k"],
    head_names: list[str],
    title: str = "Attention patterns",
) -> str:
    """The page as a string (see `write_attention_html`)."""
    n_heads, n_q, n_k = patterns.shape
    if n_heads != len(head_names) or n_q != n_k or n_q != len(str_tokens):
        raise ValueError(
            f"patterns {tuple(patterns.shape)} do not match {len(head_names)} head names "
            f"and {len(str_tokens)} tokens (expected [heads q k] with q = k = tokens)"
        )
    data = {
        "tokens": [t.replace("\n", "\\n") for t in str_tokens],
        "names": head_names,
        "patterns": [[[round(float(x), 3) for x in r] for r in h] for h in patterns.cpu().tolist()],
    }
    # JSON inside <script type="application/json">: only "</" could end the element early
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p class='hint'>Choose a head; hover a token (click to pin) to shade the tokens it "
        "attends to. Below: the whole pattern (queries down, keys across).</p>"
        "<div id='heads'></div><div id='tokens'></div><p id='info' class='hint'></p>"
        "<canvas id='heat'></canvas>"
        f"<script type='application/json' id='data'>{payload}</script>"
        f"<script>{_JS}</script></body></html>"
    )


def write_attention_html(
    path: str | Path,
    str_tokens: list[str],
    patterns: Float[Tensor, "heads q k"],
    head_names: list[str],
    title: str = "Attention patterns",
) -> Path:
    """Write the self-contained page to `path` (no network needed to view it) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(attention_html(str_tokens, patterns, head_names, title), encoding="utf-8")
    return path
