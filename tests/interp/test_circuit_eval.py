"""Circuit evaluation by mean-ablation against hooks written here for TransformerLens' twin.

The reference: TL's `run_with_cache` gives each reference batch's per-position mean z; a plain
per-head, per-position loop inside a TL hook puts it wherever the circuit does not keep the head;
the logit difference is taken by hand from TL's logits. float64 throughout, so 1e-9 is op-order
rounding only. Identities: the whole model as the circuit gives F(M) exactly; removing K from
the full-model circuit is the same as keeping M \\ K."""

import pytest
import torch

from arena_core.interp.circuit_eval import (
    CircuitError,
    circuit_from_roles,
    circuit_logit_diff,
    completeness,
    full_model_minus,
    minimality,
    random_subsets,
    reference_means,
)
from arena_core.interp.ioi import TemplateBatch
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
POS = [{"IO": 1, "S1": 2, "S1+1": 3, "S2": 5, "end": 7}, {"IO": 2, "S1": 1, "S1+1": 2, "S2": 6,
                                                          "end": 9}]  # fmt: skip


def batches(g, sizes):
    out = []
    for p, n in zip(POS, sizes, strict=True):
        t = torch.randint(0, CFG.d_vocab, (n, p["end"] + 1), generator=g)
        out.append(TemplateBatch(list(range(n)), t, dict(p), t[:, p["IO"]], t[:, p["S1"]]))
    return out


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def setup(request):
    model, tl = scaled_tl_pair(request.param, CFG, seed=6, scale=1.5)
    g = torch.Generator().manual_seed(1)
    return model, tl, batches(g, [3, 4]), batches(g, [5, 6])


def tl_F(tl, clean, ref, keep):
    """keep(layer, head, pos_class_of_position) -> bool; everything else gets the ref mean."""
    total, n = 0.0, 0
    for b, r in zip(clean, ref, strict=True):
        _, cache = tl.run_with_cache(r.tokens, names_filter=lambda nm: nm.endswith("hook_z"))
        cls = {p: c for c, p in b.positions.items()}
        n_pos = b.tokens.shape[1]

        def hook(z, hook):
            layer = int(hook.name.split(".")[1])
            mask = torch.tensor([[keep(layer, h, cls.get(p)) for h in range(CFG.n_heads)]
                                 for p in range(n_pos)])  # fmt: skip
            return torch.where(mask[None, :, :, None], z, cache[hook.name].mean(0)[None])

        names = [f"blocks.{layer}.attn.hook_z" for layer in range(CFG.n_layers)]
        logits = tl.run_with_hooks(b.tokens, fwd_hooks=[(nm, hook) for nm in names])[:, -1]
        ld = logits.gather(1, b.io_ids[:, None]) - logits.gather(1, b.s_ids[:, None])
        total += ld.sum().item()
        n += len(b.idx)
    return total / n


def test_whole_model_circuit_is_the_model(setup):
    model, tl, clean, ref = setup
    means = reference_means(model, clean, ref)
    f_m = circuit_logit_diff(model, clean, means, None)
    every = full_model_minus(model, [])
    assert circuit_logit_diff(model, clean, means, every) == f_m  # exactly: nothing is ablated
    assert f_m == pytest.approx(tl_F(tl, clean, ref, lambda *a: True), abs=1e-9)


def test_mean_ablation_matches_transformer_lens_hooks(setup):
    model, tl, clean, ref = setup
    means = reference_means(model, clean, ref)
    roles = {"movers": [(2, 1), (2, 3)], "inhibit": [(1, 0)], "early": [(0, 2)]}
    where = {"movers": ["end"], "inhibit": ["end", "S2"]}  # "early" acts everywhere
    circuit = circuit_from_roles(roles, where)
    assert circuit[(0, 2)] is None and circuit[(1, 0)] == frozenset({"end", "S2"})

    def keep(layer, head, cls):
        w = circuit.get((layer, head), "absent")
        return w is None or (w != "absent" and cls in w)

    ours = circuit_logit_diff(model, clean, means, circuit)
    assert ours == pytest.approx(tl_F(tl, clean, ref, keep), abs=1e-9)
    empty = circuit_logit_diff(model, clean, means, {})
    assert empty == pytest.approx(tl_F(tl, clean, ref, lambda *a: False), abs=1e-9)
    assert abs(ours - circuit_logit_diff(model, clean, means, None)) > 1e-4  # ablation bites
    # knock-out of a class = the full model minus those heads, both ways
    comp = completeness(model, clean, means, circuit, {"movers": roles["movers"]})["movers"]
    ko = tl_F(tl, clean, ref, lambda layer, head, cls: (layer, head) not in roles["movers"])
    assert comp["F_M_minus_K"] == pytest.approx(ko, abs=1e-9)
    assert comp["gap"] == pytest.approx(abs(comp["F_C_minus_K"] - ko), abs=1e-9)


def test_minimality_drops_are_differences_of_ablated_runs(setup):
    model, tl, clean, ref = setup
    means = reference_means(model, clean, ref)
    circuit = circuit_from_roles({"a": [(2, 1), (1, 0)], "b": [(0, 2)]})
    res = minimality(model, clean, means, circuit, {(2, 1): {"none": [], "a": [(1, 0)]}})
    best = res[(2, 1)]

    def keep_without(removed):
        return lambda layer, head, cls: (layer, head) in circuit and (layer, head) not in removed

    drops = {
        "none": tl_F(tl, clean, ref, keep_without(set())) - tl_F(tl, clean, ref,
                                                                  keep_without({(2, 1)})),
        "a": tl_F(tl, clean, ref, keep_without({(1, 0)}))
        - tl_F(tl, clean, ref, keep_without({(1, 0), (2, 1)})),
    }  # fmt: skip
    name = max(drops, key=lambda k: abs(drops[k]))
    assert best["K"] == name and best["drop"] == pytest.approx(drops[name], abs=1e-9)
    subsets = random_subsets(circuit, 3, seed=0)
    assert len(subsets) == 3 and all(len(s) == 2 and set(s) <= set(circuit)
                                     for s in subsets.values())  # fmt: skip


def test_errors(setup):
    model, _, clean, ref = setup
    means = reference_means(model, clean, ref)
    with pytest.raises(CircuitError, match="unknown heads"):
        circuit_logit_diff(model, clean, means, {(3, 0): None})
    with pytest.raises(CircuitError, match="unknown heads"):
        circuit_logit_diff(model, clean, means, {(0, 4): None})
    with pytest.raises(CircuitError, match="empty"):
        reference_means(model, clean, [])
    with pytest.raises(CircuitError, match="one to one"):
        reference_means(model, clean, ref[::-1])
    with pytest.raises(CircuitError, match="position classes"):
        circuit_logit_diff(model, clean, means, {(0, 1): frozenset({"S3"})})
    with pytest.raises(CircuitError, match="not in the circuit"):
        minimality(model, clean, means, {(0, 1): None}, {(0, 2): {"none": []}})
