"""Attribution graphs on a tiny random Llama with random transcoders, in float64.

The independent reference is the real model run with TransformerLens-style hooks that freeze its
own attention patterns and norm scales (`_hooked_frozen`): the graph's edges, biases and
supernode predictions must agree with interventions on that model."""

import pytest
import torch

from arena_core.interp.attribution_graph import GraphError, LogitTarget, build_graph, freeze
from arena_core.interp.graph_influence import (
    graph_influence,
    influence_matrix,
    normalised_abs,
    prune,
)
from arena_core.interp.supernodes import (
    graph_prediction,
    real_intervention,
    replacement_intervention,
)
from arena_core.sae.base import SAEConfig
from arena_core.sae.transcoder import Transcoder
from arena_core.transformer import GPT2, Llama, TransformerConfig

TOKENS = [3, 17, 5, 29, 11, 8]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    cfg = TransformerConfig(d_model=12, n_layers=3, n_heads=4, n_kv_heads=2, d_head=4, d_mlp=20,
                            d_vocab=40, n_ctx=16, rotary_base=500.0)  # fmt: skip
    model = Llama(cfg).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)  # visible effects everywhere
        for b in model.blocks:
            b.ln1.w.uniform_(0.5, 1.5)
            b.ln2.w.uniform_(0.5, 1.5)
    tcs = []
    for i in range(3):
        tc = Transcoder(SAEConfig(d_in=12, d_sae=10, d_out=12, apply_b_dec_to_input=False), i)
        with torch.no_grad():
            tc.b_enc.uniform_(-0.3, 0.6)
            tc.b_dec.normal_(0, 0.2)
        tcs.append(tc.double().eval())
    targets = [LogitTarget("a-b", {7: 1.0, 9: -1.0}), LogitTarget("c", {4: 1.0}, 3, True)]
    graph = build_graph(model, tcs, TOKENS, targets, max_latents=1000, batch=7)
    return model, tcs, targets, graph


def _hooked_frozen(model, tokens, mlp_shift=None, embed_shift=None):
    """The real model with its patterns, norm scales and MLP outputs frozen at their clean values
    (hooks; the MLP outputs are the replacement model's leaves), with optional additive shifts
    of MLP outputs {layer: [n d]} and of the embedding [n d]."""
    t = torch.tensor(tokens)[None]
    names = [n for n in model.hook_dict if n.endswith(("hook_scale", "hook_pattern"))]
    names += [f"blocks.{i}.hook_mlp_out" for i in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(t, names_filter=lambda n: n in names)
    shift = mlp_shift or {}
    hooks = [(n, lambda act, hook: cache[hook.name] + shift.get(int(hook.name.split(".")[1]), 0)
              if hook.name.endswith("mlp_out") else cache[hook.name]) for n in names]  # fmt: skip
    if embed_shift is not None:
        hooks.append(("hook_embed", lambda act, hook: act + embed_shift))
    out = {}
    hooks += [(f"blocks.{i}.ln2.hook_normalized", lambda act, hook: out.__setitem__(hook.name, act))
              for i in range(model.cfg.n_layers)]  # fmt: skip
    return model.run_with_hooks(t, fwd_hooks=hooks)[0], out


def _pre(model, tcs, graph, node, logits, reads):
    kind = graph.kind(node)
    if kind == "latent":
        l_, p, i = graph.latents[node].tolist()
        return (
            reads[f"blocks.{l_}.ln2.hook_normalized"][0, p] @ tcs[l_].W_enc[:, i] + tcs[l_].b_enc[i]
        )
    k = node - graph.target_index()
    tg = graph.targets[k]
    c = torch.zeros(40, dtype=torch.float64)
    for v, w in tg.coeffs.items():
        c[v] += w
    c = c - c.mean() if tg.demean else c
    return logits[tg.pos] @ c


def test_completeness_rows_sum_to_real_pre_activations(setup):
    model, tcs, targets, g = setup
    f, e, t, T = g.sizes
    assert 10 < f <= g.n_active and e == 3 * 6 and t == 6 and T == 2
    logits, reads = _hooked_frozen(model, TOKENS)
    real_logits = model(torch.tensor(TOKENS)[None])[0]
    torch.testing.assert_close(logits, real_logits)  # freezing at clean values changes nothing
    for node in list(range(f)) + [g.target_index(0), g.target_index(1)]:
        real = _pre(model, tcs, g, node, real_logits, reads)
        torch.testing.assert_close(g.values[node], real)
        torch.testing.assert_close(g.adjacency[node].sum() + g.bias[node], real)
    assert torch.all(g.adjacency[f : f + e + t] == 0)  # sources have no inputs
    # position 0 is all error: no latent there
    assert (g.latents[:, 1] > 0).all()
    # with few expanded latents the rest fold into error nodes and completeness still holds
    small = build_graph(model, tcs, TOKENS, targets, max_latents=5, batch=2)
    assert small.sizes[0] == 5
    for node in list(range(5)) + [small.target_index(0)]:
        torch.testing.assert_close(small.adjacency[node].sum() + small.bias[node],
                                   small.values[node])  # fmt: skip


def test_edges_equal_interventions_in_hook_frozen_model(setup):
    model, tcs, _, g = setup
    f, e, t, _ = g.sizes
    base_logits, base_reads = _hooked_frozen(model, TOKENS)
    tgt = [g.target_index(0), g.target_index(1)]
    late = [j for j in range(f) if g.latents[j, 0] == 2][:3]
    for s in [0, 1, f - 1, *range(f - 3, f)]:  # remove latent s from its MLP output
        l_, p, i = g.latents[s].tolist()
        v = torch.zeros(6, 12, dtype=torch.float64)
        v[p] = -g.activations[s] * tcs[l_].W_dec[i]
        logits, reads = _hooked_frozen(model, TOKENS, mlp_shift={l_: v})
        for node in tgt + late:
            delta = _pre(model, tcs, g, node, logits, reads) - _pre(
                model, tcs, g, node, base_logits, base_reads
            )
            torch.testing.assert_close(delta, -g.adjacency[node, s])
    for p in (1, 4):  # remove token p's embedding, and the error node (layer 1, p)
        v = torch.zeros(6, 12, dtype=torch.float64)
        v[p] = -model.embed.W_E[TOKENS[p]]
        logits, _ = _hooked_frozen(model, TOKENS, embed_shift=v)
        delta = _pre(model, tcs, g, tgt[0], logits, None) - g.values[tgt[0]]
        torch.testing.assert_close(delta, -g.adjacency[tgt[0], f + e + p])
        v = torch.zeros(6, 12, dtype=torch.float64)
        v[p] = -g.error_vectors[1, p]
        logits, _ = _hooked_frozen(model, TOKENS, mlp_shift={1: v})
        delta = _pre(model, tcs, g, tgt[1], logits, None) - g.values[tgt[1]]
        torch.testing.assert_close(delta, -g.adjacency[tgt[1], f + 1 * 6 + p])


def test_influence_is_the_sum_of_powers(setup):
    _, _, _, g = setup
    a = g.adjacency.abs()
    a_hat = a / a.sum(1, keepdim=True).clamp_min(1e-300)  # by hand
    total, power = torch.zeros_like(a_hat), torch.eye(len(a_hat), dtype=torch.float64)
    for _ in range(len(a_hat)):
        power = power @ a_hat
        total += power
    torch.testing.assert_close(normalised_abs(g.adjacency), a_hat)
    torch.testing.assert_close(influence_matrix(g.adjacency), total)
    rows = total[[g.target_index(0), g.target_index(1)]].sum(0)
    rows[-2:] = 0
    torch.testing.assert_close(graph_influence(g), rows)
    pg = prune(g, node_threshold=0.5, max_nodes=8)
    assert len(pg.nodes) <= 8 + 2 and {g.target_index(0), g.target_index(1)} <= set(
        pg.nodes.tolist()
    )
    kept = pg.nodes[:-2]
    assert pg.influence_kept == pytest.approx(float(rows[kept].sum() / rows.sum()))
    assert rows[kept].min() >= rows[[i for i in range(len(rows) - 2) if i not in kept]].max()
    everything = prune(g, node_threshold=1.0, edge_threshold=1.0, max_nodes=10_000)
    assert everything.target_input_kept == pytest.approx([1.0, 1.0])
    assert 0 <= pg.replacement_score <= 1 and 0 <= pg.completeness_score <= 1


def test_supernode_prediction_is_exact_in_the_frozen_replacement(setup):
    model, tcs, _, g = setup
    f = g.sizes[0]
    group = [j for j in range(f) if g.latents[j, 0] == 0][:3]
    for scale in (0.0, 2.5):
        pred = graph_prediction(g, group, scale, target=0)
        rep = replacement_intervention(model, g, tcs, group, scale, target=0)
        assert rep["before"] == pytest.approx(float(g.values[g.target_index(0)]))
        assert rep["delta"] == pytest.approx(pred["total"], rel=1e-9, abs=1e-9)
        assert pred["total"] != pytest.approx(pred["direct"])  # indirect paths matter here
    real = real_intervention(model, g, tcs, group, 1.0)
    assert real["delta"] == pytest.approx(0.0, abs=1e-12)
    real = real_intervention(model, g, tcs, group, 0.0)
    assert real["before"] == pytest.approx(float(g.values[g.target_index(0)]))
    with pytest.raises(GraphError, match="latent node"):
        graph_prediction(g, [f + 1])


def test_bad_inputs_raise(setup):
    model, tcs, targets, _ = setup
    with pytest.raises(GraphError, match="empty"):
        freeze(model, [])
    with pytest.raises(GraphError, match="token ids"):
        build_graph(model, tcs, [1, 99], targets)
    with pytest.raises(GraphError, match="position"):
        build_graph(model, tcs, TOKENS, [LogitTarget("x", {1: 1.0}, pos=10)])
    with pytest.raises(GraphError, match="coefficients"):
        build_graph(model, tcs, TOKENS, [LogitTarget("x", {100: 1.0})])
    with pytest.raises(GraphError, match="at least one"):
        build_graph(model, tcs, TOKENS, [])
    with pytest.raises(GraphError, match="transcoders for"):
        build_graph(model, tcs[:2], TOKENS, targets)
    gpt = GPT2(TransformerConfig(d_model=12, n_layers=3, n_heads=4, d_head=3, d_mlp=20,
                                 d_vocab=40, n_ctx=16))  # fmt: skip
    with pytest.raises(GraphError, match="RMSNorm"):
        build_graph(gpt, tcs, TOKENS, targets)
    with pytest.raises(GraphError):
        prune(build_graph(model, tcs, TOKENS, targets, max_latents=3), node_threshold=0.0)


def test_html_view_is_self_contained_and_complete(setup, tmp_path):
    import json
    from html.parser import HTMLParser

    from arena_core.interp.graph_html import graph_html

    _, _, _, g = setup
    pg = prune(g, node_threshold=0.9, max_nodes=20)
    strs = ["<s>", "a", "b</script>", "c", "d", "e"]
    path = graph_html(pg, strs, tmp_path / "g.html", title="toy")
    page = path.read_text()

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.ids, self.tags, self.data, self.in_json = [], [], "", False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            self.tags.append(tag)
            if "data-i" in a:
                self.ids.append(int(a["data-i"]))
            self.in_json = a.get("id") == "data"

        def handle_data(self, data):
            if self.in_json:
                self.data += data

        def handle_endtag(self, tag):
            self.in_json = False

    p = Collect()
    p.feed(page)
    assert sorted(p.ids) == sorted(pg.nodes.tolist())  # every kept node drawn once
    assert {"svg", "line", "circle", "script"} <= set(p.tags)
    data = json.loads(p.data)
    assert len(data["edges"]) == int(pg.edges.sum())
    assert data["nodes"][g.target_index(0)]["label"] == "target a-b"
    for bad in ("http://", "https://", "src=", "<link", "@import"):
        assert bad not in page
