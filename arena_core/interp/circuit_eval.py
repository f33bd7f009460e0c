"""Is a circuit enough? Faithfulness, completeness and minimality by mean-ablation (days 54–55).

A circuit C is a set of heads, each optionally restricted to the position classes where it acts
(Wang et al. 2022, "Interpretability in the Wild", §4: (head, position) pairs such as "name mover
at END", "induction head at S2"). To run "only the circuit", every head NOT in C (and every
circuit head at the positions outside its classes) is mean-ablated: its `z` is replaced by its
mean over a reference distribution, the "abc" prompts (same templates, three unrelated names, so
the mean carries the sentence structure but no IOI information), taken per template position,
as in the paper. MLPs and embeddings are always kept (the paper's convention). With
`F(X)` = mean logit difference logit[IO] − logit[S] over the prompts when only X runs:

- faithfulness  F(C) / F(M), M = the whole model: how much of the behaviour C keeps;
- completeness  |F(C \\ K) − F(M \\ K)| for subsets K of C (each role class, random subsets): a
  complete circuit loses what the model loses when the same heads go (small gaps);
- minimality    for each v in C the largest |drop|, drop = F(C \\ K) − F(C \\ (K ∪ {v})), over
  a few candidate K: every head should matter in some context (drops not near 0);
- knock-out     F(M \\ K) for each role class K (the heads of one role removed from the model).

Hooks are one per layer on `blocks.{l}.attn.hook_z`: `z = where(keep[pos, head], z, mean)`,
vectorised over positions and heads. Means come from `arena_core.interp.ablation.mean_z`
(`per_position=True`), one `[pos heads d_head]` per (template, order) batch of the reference set.
Works on our `CausalLM` and on a TransformerLens `HookedTransformer`.
"""

import random
from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

from arena_core.errors import UserError
from arena_core.interp.ablation import mean_z
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.patching import logit_diff

Head = tuple[int, int]
#: head -> the position classes where it acts ("IO", "S1", "S1+1", "S2", "end"), None = all
Circuit = Mapping[Head, frozenset[str] | None]


class CircuitError(UserError, ValueError):
    """A circuit or reference set that cannot be evaluated (unknown heads, empty reference)."""


def circuit_from_roles(
    roles: Mapping[str, Iterable[Head]], positions: Mapping[str, Iterable[str]] | None = None
) -> dict[Head, frozenset[str] | None]:
    """Union of the roles' heads; with `positions[role]`, each head acts only there (a head in
    two roles acts at the union of their classes; a role without positions: everywhere)."""
    out: dict[Head, frozenset[str] | None] = {}
    for role, heads in roles.items():
        where = None if positions is None or role not in positions else frozenset(positions[role])
        for head in heads:
            head = (int(head[0]), int(head[1]))
            if head in out and (out[head] is None or where is None):
                out[head] = None
            else:
                out[head] = where if head not in out else out[head] | where
    return out


def check_circuit(model, heads: Iterable[Head]) -> None:
    """Raise `CircuitError` for heads outside the model (a circuit's keys are its heads)."""
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    bad = [h for h in heads if not (0 <= h[0] < n_layers and 0 <= h[1] < n_heads)]
    if bad:
        raise CircuitError(f"unknown heads {bad[:5]}: the model has {n_layers} layers of "
                           f"{n_heads} heads")  # fmt: skip


def reference_means(
    model, batches: list[TemplateBatch], reference: list[TemplateBatch]
) -> list[dict[int, Tensor]]:
    """Per batch, `{layer: [pos heads d_head]}`: the mean z over the matching reference batch
    (same template and order, hence the same length and position classes)."""
    if not reference or any(len(r.idx) == 0 for r in reference):
        raise CircuitError("the reference distribution is empty: pass the abc prompts' batches")
    if len(reference) != len(batches) or any(
        r.tokens.shape[1] != b.tokens.shape[1] or r.positions != b.positions
        for r, b in zip(reference, batches, strict=True)
    ):
        raise CircuitError(
            "reference batches must match the IOI batches one to one (same templates and "
            "orders: build them with corrupt(..., 'abc'))"
        )
    return [mean_z(model, r.tokens, per_position=True) for r in reference]


def keep_masks(
    model, circuit: Circuit, positions: Mapping[str, int], n_pos: int
) -> dict[int, Tensor]:
    """`{layer: [pos heads] bool}`: True where a head's real z is kept."""
    check_circuit(model, circuit)
    unknown = {c for w in circuit.values() if w is not None for c in w} - set(positions)
    if unknown:
        raise CircuitError(f"unknown position classes {sorted(unknown)}; known: "
                           f"{sorted(positions)}")  # fmt: skip
    masks = {
        layer: torch.zeros(n_pos, model.cfg.n_heads, dtype=torch.bool)
        for layer in range(model.cfg.n_layers)
    }
    for (layer, head), where in circuit.items():
        if where is None:
            masks[layer][:, head] = True
        else:
            masks[layer][[positions[c] for c in where], head] = True
    return masks


def ablation_hooks(masks: dict[int, Tensor], means: dict[int, Tensor]) -> list:
    """One hook per layer that has something to ablate: z <- where(keep, z, mean)."""

    def make(keep: Tensor, mean: Tensor):
        def hook(z: Tensor, hook=None) -> Tensor:
            k = keep.to(z.device)[None, :, :, None]  # [1 pos heads 1]
            return torch.where(k, z, mean.to(z.device, z.dtype)[None])

        return hook

    return [
        (f"blocks.{layer}.attn.hook_z", make(keep, means[layer]))
        for layer, keep in masks.items()
        if not bool(keep.all())
    ]


@torch.no_grad()
def circuit_logit_diff(
    model,
    batches: list[TemplateBatch],
    means: list[dict[int, Tensor]],
    circuit: Circuit | None,
    **forward_kwargs,
) -> float:
    """F(circuit): mean logit[IO] − logit[S] over all prompts when only `circuit` runs
    (None = the whole model, no hook; {} = every head mean-ablated)."""
    total, n = 0.0, 0
    for b, m in zip(batches, means, strict=True):
        hooks = []
        if circuit is not None:
            hooks = ablation_hooks(keep_masks(model, circuit, b.positions, b.tokens.shape[1]), m)
        logits = model.run_with_hooks(b.tokens, fwd_hooks=hooks, **forward_kwargs)
        total += logit_diff(logits, b.answers).item() * len(b.idx)
        n += len(b.idx)
    return total / n


def remove(circuit: Circuit, heads: Iterable[Head]) -> dict[Head, frozenset[str] | None]:
    """The circuit without `heads` (those then get mean-ablated everywhere)."""
    drop = {tuple(h) for h in heads}
    return {h: w for h, w in circuit.items() if h not in drop}


def full_model_minus(model, heads: Iterable[Head]) -> dict[Head, None]:
    """M \\ K as a circuit: every head at every position except `heads`."""
    drop = {tuple(h) for h in heads}
    return {
        (layer, head): None
        for layer in range(model.cfg.n_layers)
        for head in range(model.cfg.n_heads)
        if (layer, head) not in drop
    }


def completeness(
    model,
    batches: list[TemplateBatch],
    means: list[dict[int, Tensor]],
    circuit: Circuit,
    subsets: Mapping[str, Iterable[Head]],
    **forward_kwargs,
) -> dict[str, dict[str, float]]:
    """For each named K: F(C \\ K), F(M \\ K) and the gap |F(C \\ K) − F(M \\ K)|."""
    out = {}
    for name, k in subsets.items():
        k = list(k)
        fc = circuit_logit_diff(model, batches, means, remove(circuit, k), **forward_kwargs)
        fm = circuit_logit_diff(model, batches, means, full_model_minus(model, k),
                                **forward_kwargs)  # fmt: skip
        out[name] = {"F_C_minus_K": fc, "F_M_minus_K": fm, "gap": abs(fc - fm)}
    return out


def random_subsets(circuit: Circuit, n: int, seed: int, frac: float = 0.5) -> dict[str, list]:
    """`n` random subsets of the circuit's heads, each holding about `frac` of them."""
    heads = sorted(circuit)
    rng = random.Random(seed)
    size = max(1, round(frac * len(heads)))
    return {f"random {i + 1}": rng.sample(heads, size) for i in range(n)}


def minimality(
    model,
    batches: list[TemplateBatch],
    means: list[dict[int, Tensor]],
    circuit: Circuit,
    candidates: Mapping[Head, Mapping[str, Iterable[Head]]],
    **forward_kwargs,
) -> dict[Head, dict]:
    """For each head v: the K among `candidates[v]` (name -> heads, v excluded automatically)
    with the largest drop F(C \\ K) − F(C \\ (K ∪ {v})); F of each distinct C \\ K computed once."""
    check_circuit(model, list(candidates))
    outside = [v for v in candidates if v not in circuit]
    if outside:
        raise CircuitError(f"heads {outside[:5]} are not in the circuit")
    memo: dict[frozenset, float] = {}

    def f(removed: frozenset) -> float:
        if removed not in memo:
            memo[removed] = circuit_logit_diff(model, batches, means, remove(circuit, removed),
                                               **forward_kwargs)  # fmt: skip
        return memo[removed]

    out = {}
    for v, ks in candidates.items():
        best = None
        for name, k in ks.items():
            k = frozenset(tuple(h) for h in k) - {v}
            drop = f(k) - f(k | {v})
            if best is None or abs(drop) > abs(best["drop"]):
                best = {"K": name, "F_C_minus_K": f(k), "F_C_minus_K_v": f(k | {v}), "drop": drop}
        out[v] = best
    return out


__all__ = [
    "Circuit",
    "CircuitError",
    "ablation_hooks",
    "check_circuit",
    "circuit_from_roles",
    "circuit_logit_diff",
    "completeness",
    "full_model_minus",
    "keep_masks",
    "minimality",
    "random_subsets",
    "reference_means",
    "remove",
]
