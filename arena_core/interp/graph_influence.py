"""Influence and pruning of an attribution graph (Ameisen et al. 2025, §"Graph pruning").

An edge A[t, s] says how much of t's input came from s. To compare indirect paths, each row is
normalised by its total absolute input: Â[t, s] = |A[t, s]| / Σ_s' |A[t, s']|, the fraction of
t's input that s supplies. Influence sums over paths of every length,

    B = Â + Â² + Â³ + … = (I − Â)⁻¹ − I,

and a node's influence on the targets is the target rows of B (summed over targets). The graph is
a DAG (sources feed only later layers or positions), so Â is nilpotent and the series ends; we
compute it by iterating x ← e Â + x Â instead of inverting a large matrix.

Pruning keeps the targets, then nodes in decreasing influence until they hold `node_threshold`
of the total influence (at most `max_nodes`), then, among the kept nodes, the edges in decreasing
*edge influence* Â[t, s] · (influence of t + 1 for a target) until `edge_threshold` of it is
kept. `PrunedGraph` reports how much was kept: the fraction of influence on the kept nodes, the
fraction of each target's (non-bias) input that arrives through kept edges from kept nodes, and
Ameisen et al.'s replacement / completeness scores (how much of the graph's input is explained
by tokens rather than error nodes).
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from arena_core.interp.attribution_graph import Graph, GraphError


def normalised_abs(adj: Tensor) -> Tensor:
    """|A| with each row divided by its sum (rows without input stay zero)."""
    a = adj.abs()
    s = a.sum(1, keepdim=True)
    return torch.where(s > 0, a / s.clamp_min(1e-30), torch.zeros_like(a))


def influence_matrix(adj: Tensor) -> Tensor:
    """B = (I − Â)⁻¹ − I, dense (for small graphs and checks)."""
    a = normalised_abs(adj)
    eye = torch.eye(len(a), dtype=a.dtype)
    return torch.linalg.inv(eye - a) - eye


def node_influence(rows: Tensor, row_nodes: list[int], n_cols: int, max_iter: int = 1000):
    """Influence on the targets of every column node, from partial rows.

    `rows` [R, n_cols]: the last rows are targets, the first `len(row_nodes)` rows belong to the
    nodes `row_nodes` (column indices). Nodes without a row are sources. Returns [n_cols]."""
    nrm = normalised_abs(rows)
    k = len(row_nodes)
    direct = nrm[k:].sum(0)  # e Â for the targets
    if k == 0:
        return direct
    inner = nrm[:k]  # rows of the expanded nodes
    idx = torch.as_tensor(row_nodes, dtype=torch.long)
    x = direct.clone()
    for _ in range(max_iter):
        new = direct + x[idx] @ inner
        if torch.allclose(new, x, rtol=0, atol=1e-12 * max(1.0, float(x.abs().max()))):
            return new
        x = new
    raise GraphError("influence did not converge: the graph has a cycle")


def graph_influence(graph: Graph) -> Tensor:
    """[N] influence of every node on the targets (summed over targets); targets get 0."""
    N, T = len(graph.adjacency), len(graph.targets)
    f, e, t, _ = graph.sizes
    rows = torch.cat([graph.adjacency[:f], graph.adjacency[N - T :]])
    cols = rows[:, : N - T]
    infl = node_influence(cols, list(range(f)), N - T)
    return torch.cat([infl, torch.zeros(T, dtype=infl.dtype)])


@dataclass
class PrunedGraph:
    graph: Graph
    nodes: Tensor  # [K] kept node indices (into graph), targets included
    edges: Tensor  # [N N] bool, kept edges (target row, source column)
    influence: Tensor  # [N] node influence on the targets
    influence_kept: float  # fraction of total influence on kept non-target nodes
    target_input_kept: list[float]  # per target: Σ kept edges / Σ all edges (signed; > 1 when
    # the dropped inputs were net negative)
    replacement_score: float  # token influence / (token + error influence)
    completeness_score: float  # influence-weighted share of inputs that are not error nodes

    def stats(self) -> dict:
        f, e, t, _ = self.graph.sizes
        kinds = [self.graph.kind(int(i)) for i in self.nodes]
        return {
            "active_latents": self.graph.n_active, "expanded_latents": f,
            "kept_nodes": len(self.nodes), "kept_latents": kinds.count("latent"),
            "kept_errors": kinds.count("error"), "kept_tokens": kinds.count("token"),
            "kept_edges": int(self.edges.sum()), "influence_kept": self.influence_kept,
            "target_input_kept": self.target_input_kept,
            "replacement_score": self.replacement_score,
            "completeness_score": self.completeness_score,
        }  # fmt: skip


def _cumulative_keep(scores: Tensor, threshold: float, cap: int | None = None) -> Tensor:
    """Indices of the largest scores holding `threshold` of their sum (at most `cap`)."""
    order = scores.argsort(descending=True)
    total = scores.sum()
    if total <= 0:
        return order[:0]
    cum = scores[order].cumsum(0) / total
    n = int((cum < threshold).sum()) + 1
    return order[: min(n, cap if cap is not None else n, len(order))]


def prune(
    graph: Graph, node_threshold: float = 0.8, edge_threshold: float = 0.98, max_nodes: int = 200
) -> PrunedGraph:
    """Keep the most influential nodes and edges (see the module docstring)."""
    if not (0 < node_threshold <= 1 and 0 < edge_threshold <= 1) or max_nodes < 1:
        raise GraphError("thresholds must be in (0, 1] and max_nodes >= 1")
    adj, N, T = graph.adjacency, len(graph.adjacency), len(graph.targets)
    infl = graph_influence(graph)
    kept = _cumulative_keep(infl[: N - T], node_threshold, max_nodes)
    nodes = torch.cat([kept.sort().values, torch.arange(N - T, N)])
    mask = torch.zeros(N, dtype=torch.bool)
    mask[nodes] = True
    sub = normalised_abs(adj) * (mask[:, None] & mask[None, :])
    weight = infl.clone()
    weight[N - T :] = 1.0
    edge_score = sub * weight[:, None]
    flat = _cumulative_keep(edge_score.flatten(), edge_threshold)
    edges = torch.zeros(N * N, dtype=torch.bool)
    edges[flat] = True
    edges = edges.reshape(N, N) & (adj != 0)
    f, e, t, _ = graph.sizes
    tok = infl[f + e : f + e + t].sum()
    er = infl[f : f + e].sum()
    # completeness: for every node with input, the share of |input| from non-error nodes,
    # weighted by the node's influence (1 for targets)
    a = adj.abs()
    non_err = (a.sum(1) - a[:, f : f + e].sum(1)) / a.sum(1).clamp_min(1e-30)
    has_in = a.sum(1) > 0
    w = weight * has_in
    return PrunedGraph(
        graph, nodes, edges, infl,
        float(infl[kept].sum() / infl[: N - T].sum().clamp_min(1e-30)),
        [float((adj[r] * edges[r]).sum() / adj[r].sum()) for r in range(N - T, N)],
        float(tok / (tok + er).clamp_min(1e-30)),
        float((non_err * w).sum() / w.sum().clamp_min(1e-30)),
    )  # fmt: skip
