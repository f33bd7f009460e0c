"""Supernodes: intervening on a group of transcoder latents, predicted by the graph and measured.

Lindsey et al. (2025) group latents that play one role (e.g. "say a capital", "France") into a
*supernode* and test the graph by steering them. Scaling the group's activations by `scale`
(0 = ablation) changes every later node. Three numbers, from most to least idealised:

- `graph_prediction`: the graph as a linear system. With latent activations allowed to respond
  linearly (an active ReLU has slope 1) and error nodes and tokens fixed, a change Δa_s moves
  t's pre-activation by A[t, s] / a_s · Δa_s; solving (I − M) Δa = Δa_group over the expanded
  latents (group members clamped) gives the change of every latent and of the target. The
  *direct* part, Σ_{s∈G} (scale − 1) A[target, s], ignores the paths through other latents.
- `replacement_intervention`: the same experiment run forward in the frozen replacement model
  (attention and norms frozen, MLP = expanded latents (linear) + b_dec + error node). It must
  equal `graph_prediction` exactly — a check of the graph's algebra.
- `real_intervention`: the real model, nothing frozen: the hook on MLP l's output adds
  (scale − 1) · a_s W_dec[s] at the latent's position (the real MLP still runs, so its error is
  kept), and attention, norms and every later MLP respond as they really do.
"""

import torch
from torch import Tensor

from arena_core.interp.attribution_graph import Graph, GraphError, freeze, frozen_forward


def _members(graph: Graph, members) -> Tensor:
    idx = torch.as_tensor(list(members), dtype=torch.long)
    f = len(graph.latents)
    if len(idx) == 0 or int(idx.min()) < 0 or int(idx.max()) >= f:
        raise GraphError(f"supernode members must be latent node indices in [0, {f})")
    return idx.unique()


def graph_prediction(graph: Graph, members, scale: float = 0.0, target: int = 0) -> dict:
    """Predicted change of target `target` when latents `members` are scaled by `scale`."""
    idx = _members(graph, members)
    f = len(graph.latents)
    a = graph.activations
    unit = graph.adjacency[:, :f] / a[None, :]  # effect per unit of activation
    m = unit[:f].clone()
    m[idx] = 0.0  # clamped: members do not respond to their inputs
    d0 = torch.zeros(f, dtype=a.dtype)
    d0[idx] = (scale - 1.0) * a[idx]
    da = torch.linalg.solve(torch.eye(f, dtype=a.dtype) - m, d0)
    row = unit[graph.target_index(target)]
    return {"total": float(row @ da), "direct": float(row[idx] @ d0[idx]), "delta_latents": da}


def _frozen_replacement(model, graph: Graph, tcs, fz, override: dict[int, Tensor]) -> Tensor:
    """Forward pass of the frozen replacement with linear latents; returns the logits [n V]."""
    L = graph.n_layers
    lat = graph.latents
    emb = fz.embed
    mlp = torch.zeros_like(fz.mlp_out)
    # layer by layer: latents of layer l read the residual before MLP l, which depends only on
    # MLPs < l, so one pass per layer with the earlier MLP outputs filled in is exact
    for layer in range(L):
        reads, _ = frozen_forward(model, fz, emb, mlp)
        tc = tcs[layer]
        out = graph.error_vectors[layer] + tc.b_dec
        sel = (lat[:, 0] == layer).nonzero().flatten()
        for j in sel.tolist():
            p, i = int(lat[j, 1]), int(lat[j, 2])
            act = override.get(j, reads[layer, p] @ tc.W_enc[:, i] + tc.b_enc[i])
            out = out.index_add(0, torch.tensor([p]), (act * tc.W_dec[i])[None])
        mlp = mlp.clone()
        mlp[layer] = out
    return frozen_forward(model, fz, emb, mlp)[1]


@torch.no_grad()
def replacement_intervention(
    model, graph: Graph, transcoders, members, scale: float = 0.0, target: int = 0
) -> dict:
    """Target before/after the intervention in the frozen replacement model (linear latents)."""
    idx = _members(graph, members)
    fz = freeze(model, torch.tensor(graph.tokens))
    from arena_core.interp.attribution_graph import _target_vector

    pos, c = _target_vector(graph.targets[target], model.cfg.d_vocab, graph.n_pos, fz.embed.dtype)
    base = _frozen_replacement(model, graph, transcoders, fz, {})
    over = {int(j): scale * graph.activations[j] for j in idx}
    new = _frozen_replacement(model, graph, transcoders, fz, over)
    return {"before": float(base[pos] @ c), "after": float(new[pos] @ c),
            "delta": float((new[pos] - base[pos]) @ c)}  # fmt: skip


@torch.no_grad()
def real_intervention(
    model, graph: Graph, transcoders, members, scale: float = 0.0, target: int = 0
) -> dict:
    """Target before/after scaling the members' decoder contributions in the real model."""
    from arena_core.interp.attribution_graph import _target_vector

    idx = _members(graph, members)
    tokens = torch.tensor(graph.tokens)[None]
    pos, c = _target_vector(graph.targets[target], model.cfg.d_vocab, graph.n_pos,
                            graph.adjacency.dtype)  # fmt: skip
    shift: dict[int, Tensor] = {}
    for j in idx.tolist():
        l_, p, i = (int(v) for v in graph.latents[j])
        vec = torch.zeros(graph.n_pos, model.cfg.d_model, dtype=graph.adjacency.dtype)
        vec[p] = (scale - 1.0) * graph.activations[j] * transcoders[l_].W_dec[i]
        shift[l_] = shift.get(l_, 0) + vec

    def hook(out, hook):
        return out + shift[int(hook.name.split(".")[1])].to(out.dtype)

    base = model(tokens)[0, pos]
    new = model.run_with_hooks(
        tokens, fwd_hooks=[(f"blocks.{l_}.hook_mlp_out", hook) for l_ in shift]
    )[0, pos]
    return {"before": float(base @ c.to(base.dtype)), "after": float(new @ c.to(new.dtype)),
            "delta": float((new - base) @ c.to(new.dtype))}  # fmt: skip
