"""Attribution graphs: the local replacement model of one prompt and its adjacency (day 57).

Circuit tracing (Ameisen et al. 2025, "Circuit Tracing"; Lindsey et al. 2025) explains one
forward pass with a graph whose edges are exact, linear contributions. For a prompt we build the
*local replacement model*:

- every attention pattern and every norm's scale (`hook_scale`) is frozen at its value on the
  prompt, so attention and RMSNorm become linear maps of the residual stream;
- MLP l is replaced by its transcoder (`arena_core/sae/transcoders.py`) plus an **error node**
  per (layer, position): ``mlp_out = Σ_i a_i W_dec[i] + b_dec + ε``, ε = true output − transcoder
  output, so the replacement reproduces the model's forward pass exactly.

Then every node's input is LINEAR in the outputs of earlier nodes. Nodes: token embeddings (one
per position), active transcoder latents (layer, position, latent; activation a > 0), error
nodes, and target logits (a vector c over the vocabulary at one position: c·logits, e.g. the
answer's logit minus the mean logit, or logit[IO] − logit[S]). The edge from source s to target t
is s's contribution to t's pre-activation through the frozen model:

    A[t, s] = a_s · W_dec[s] · ∂pre_t/∂mlp_out(l_s, p_s)        (latent source)
    A[t, s] = ε(l, p) · ∂pre_t/∂mlp_out(l, p)                  (error source)
    A[t, s] = embed(p) · ∂pre_t/∂resid_pre0(p)                  (token source)

with pre_t = x̂_l(p_t) W_enc[:, i_t] + b_enc[i_t] for a latent and c·logits for a target. The
gradients are taken by `torch.autograd` through the frozen model with the MLP outputs as leaves —
one forward pass, then backward passes batched over targets (`is_grads_batched`), one layer's
targets at a time so that each backward only runs through the layers below. Completeness: for
every target, Σ_s A[t, s] + bias_t = pre_t exactly, where bias_t collects b_enc, the transcoders'
b_dec and any attention/unembedding biases.

The graph keeps at most `max_latents` latents. They are chosen the way Ameisen et al. do it:
rows are computed for the logit first, then, round by round, for the not-yet-expanded latents
with the largest influence on the logit so far (`graph_influence.py`). A latent that is never
chosen is folded into the error node of its (layer, position) — exactly as if its transcoder
lacked it — so completeness still holds. Latents at `skip_positions` (default: position 0, the
attention sink, which the transcoders never saw) are never used: that MLP is all error.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from arena_core.errors import UserError
from arena_core.transformer.norms import RMSNorm


class GraphError(UserError, ValueError):
    """A prompt, target or transcoder set that an attribution graph cannot be built for."""


@dataclass
class LogitTarget:
    """The quantity to explain: Σ_v coeffs[v] · logits[pos, v]."""

    name: str
    coeffs: dict[int, float]
    pos: int = -1
    demean: bool = False  # subtract the mean logit over the vocabulary (Ameisen et al.)


@dataclass
class Frozen:
    """What the real forward pass fixes for one prompt (batch dimension dropped)."""

    tokens: Tensor  # [n]
    embed: Tensor  # [n d]
    ln1: Tensor  # [L n 1] RMSNorm scales before attention
    ln2: Tensor  # [L n 1] before the MLP
    final: Tensor  # [n 1]
    patterns: Tensor  # [L heads n n]
    mlp_in: Tensor  # [L n d] normalised MLP input (what the transcoder reads)
    mlp_out: Tensor  # [L n d]
    logits: Tensor  # [n vocab]


def _check_model(model, transcoders) -> None:
    cfg = model.cfg
    if getattr(cfg, "attn_only", False) or not hasattr(model.blocks[0], "mlp"):
        raise GraphError("attribution graphs need a model with MLPs")
    if not all(isinstance(m, RMSNorm) for b in model.blocks for m in (b.ln1, b.ln2)):
        raise GraphError("only RMSNorm (Llama-family) models are supported")
    if len(transcoders) != cfg.n_layers:
        raise GraphError(f"{len(transcoders)} transcoders for {cfg.n_layers} layers")
    for tc in transcoders:
        if tc.cfg.d_in != cfg.d_model or tc.cfg.out != cfg.d_model:
            raise GraphError("each transcoder must map d_model -> d_model")


@torch.no_grad()
def freeze(model, tokens) -> Frozen:
    """One real forward pass of `tokens` (a list or 1-d tensor), caching what the graph freezes."""
    tokens = torch.as_tensor(tokens, dtype=torch.long).flatten()
    if len(tokens) == 0:
        raise GraphError("the prompt is empty")
    if int(tokens.min()) < 0 or int(tokens.max()) >= model.cfg.d_vocab:
        raise GraphError(f"token ids must be in [0, {model.cfg.d_vocab})")
    L = model.cfg.n_layers
    names = {"hook_embed", "ln_final.hook_scale"}
    for i in range(L):
        names |= {f"blocks.{i}.ln1.hook_scale", f"blocks.{i}.ln2.hook_scale",
                  f"blocks.{i}.attn.hook_pattern", f"blocks.{i}.ln2.hook_normalized",
                  f"blocks.{i}.hook_mlp_out"}  # fmt: skip
    logits, c = model.run_with_cache(tokens[None], names_filter=lambda n: n in names)

    def stack(fmt):
        return torch.stack([c[fmt.format(i)][0] for i in range(L)])

    return Frozen(tokens, c["hook_embed"][0], stack("blocks.{}.ln1.hook_scale"),
                  stack("blocks.{}.ln2.hook_scale"), c["ln_final.hook_scale"][0],
                  stack("blocks.{}.attn.hook_pattern"), stack("blocks.{}.ln2.hook_normalized"),
                  stack("blocks.{}.hook_mlp_out"), logits[0])  # fmt: skip


def frozen_forward(model, fz: Frozen, embed: Tensor, mlp_out: Tensor) -> tuple[Tensor, Tensor]:
    """The frozen model, linear in (`embed` [n d], `mlp_out` [L n d]) apart from biases.

    Returns the normalised MLP inputs [L n d] and the logits [n vocab]."""
    cfg = model.cfg
    group = cfg.n_heads // cfg.kv_heads
    resid, reads = embed, []
    for i, blk in enumerate(model.blocks):
        at = blk.attn
        x = resid / fz.ln1[i] * blk.ln1.w
        v = torch.einsum("pd,kde->kpe", x, at.W_V)
        if at.b_V is not None:
            v = v + at.b_V[:, None]
        v = v.repeat_interleave(group, dim=0)  # query head h reads KV head h // group
        z = fz.patterns[i] @ v  # [heads n e]
        out = torch.einsum("hpe,hed->pd", z, at.W_O)
        resid = resid + (out if at.b_O is None else out + at.b_O)
        reads.append(resid / fz.ln2[i])
        resid = resid + mlp_out[i]
    logits = model.unembed((resid / fz.final * model.ln_final.w)[None])[0]
    return torch.stack(reads), logits


def _target_vector(t: LogitTarget, d_vocab: int, n: int, dtype) -> tuple[int, Tensor]:
    pos = t.pos % n if -n <= t.pos < n else None
    if pos is None:
        raise GraphError(f"target {t.name!r}: position {t.pos} outside a {n}-token prompt")
    if not t.coeffs or any(not 0 <= k < d_vocab for k in t.coeffs):
        raise GraphError(f"target {t.name!r}: coefficients need token ids in [0, {d_vocab})")
    c = torch.zeros(d_vocab, dtype=dtype)
    for k, v in t.coeffs.items():
        c[k] += v
    return pos, (c - c.mean() if t.demean else c)


@dataclass
class Graph:
    """Nodes in the order [latents | errors (layer-major) | tokens | targets]; `adjacency[t, s]`
    is s's contribution to t's pre-activation (rows of sources are zero)."""

    tokens: list[int]
    latents: Tensor  # [F 3] (layer, pos, index)
    activations: Tensor  # [F]
    n_layers: int
    targets: list[LogitTarget]
    adjacency: Tensor  # [N N]
    bias: Tensor  # [N] constant part of each row's pre-activation (0 for sources)
    values: Tensor  # [N] pre-activation of latents and targets (NaN for sources)
    error_vectors: Tensor  # [L n d] error node outputs (incl. folded, unexpanded latents)
    n_active: int  # active latents before the max_latents cut

    @property
    def n_pos(self) -> int:
        return len(self.tokens)

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        return len(self.latents), self.n_layers * self.n_pos, self.n_pos, len(self.targets)

    def kind(self, i: int) -> str:
        f, e, t, _ = self.sizes
        return ("latent" if i < f else "error" if i < f + e else
                "token" if i < f + e + t else "target")  # fmt: skip

    def layer_pos(self, i: int) -> tuple[int, int]:
        """Layer (−1 for tokens, n_layers for targets) and position of node i."""
        f, e, t, _ = self.sizes
        if i < f:
            return int(self.latents[i, 0]), int(self.latents[i, 1])
        if i < f + e:
            return divmod(i - f, self.n_pos)
        if i < f + e + t:
            return -1, i - f - e
        tg = self.targets[i - f - e - t]
        return self.n_layers, tg.pos % self.n_pos

    def target_index(self, k: int = 0) -> int:
        return sum(self.sizes[:3]) + k


def _pre_acts(model, fz, tcs, reads, logits, sel) -> Tensor:
    """The chosen pre-activations: latents (layer, pos, index) and target (pos, c) rows."""
    outs = []
    for kind, payload in sel:
        if kind == "latent":
            lay, pos, idx = payload
            outs.append(reads[lay, pos] @ tcs[lay].W_enc[:, idx] + tcs[lay].b_enc[idx])
        else:
            pos, c = payload
            outs.append(logits[pos] @ c)
    return torch.stack(outs)


def build_graph(
    model,
    transcoders,
    tokens,
    targets: list[LogitTarget],
    max_latents: int = 2048,
    batch: int = 64,
    skip_positions: tuple[int, ...] = (0,),
) -> Graph:
    """The attribution graph of `tokens` for `targets` (see the module docstring)."""
    from arena_core.interp.graph_influence import node_influence

    _check_model(model, transcoders)
    if not targets:
        raise GraphError("give at least one LogitTarget")
    if max_latents < 0 or batch < 1:
        raise GraphError("need max_latents >= 0 and batch >= 1")
    fz = freeze(model, tokens)
    n, L, dt = len(fz.tokens), model.cfg.n_layers, fz.embed.dtype
    tvecs = [_target_vector(t, model.cfg.d_vocab, n, dt) for t in targets]
    with torch.no_grad():
        acts = torch.stack([tc.encode(fz.mlp_in[i]) for i, tc in enumerate(transcoders)])
        acts[:, [p % n for p in skip_positions if -n <= p < n]] = 0.0  # all error there
        recon = torch.stack([acts[i] @ tc.W_dec + tc.b_dec for i, tc in enumerate(transcoders)])
        err = fz.mlp_out - recon
        b_dec = torch.stack([tc.b_dec for tc in transcoders])  # [L d]
        lat = acts.nonzero()  # [F 3] (layer, pos, index), sorted
        a = acts[lat[:, 0], lat[:, 1], lat[:, 2]]
        dec = (
            torch.stack([transcoders[int(l_)].W_dec[int(i)] for l_, _, i in lat])
            if len(lat)
            else torch.zeros(0, fz.embed.shape[1], dtype=dt)
        )
        dec = dec * a[:, None]  # each latent's output vector a_s W_dec[s]
        reads0, logits0 = frozen_forward(model, fz, torch.zeros_like(fz.embed),
                                         torch.zeros_like(fz.mlp_out))  # fmt: skip
    F_all, E = len(lat), L * n
    emb = fz.embed.clone().requires_grad_(True)
    mlp = fz.mlp_out.clone().requires_grad_(True)
    reads, logits = frozen_forward(model, fz, emb, mlp)

    def rows(sel):  # [B, F_all + E + n] contributions and [B] biases
        y = _pre_acts(model, fz, transcoders, reads, logits, sel)
        g_emb, g_mlp = torch.autograd.grad(
            y, (emb, mlp), torch.eye(len(y), dtype=dt), is_grads_batched=True,
            retain_graph=True, allow_unused=True, materialize_grads=True)  # fmt: skip
        with torch.no_grad():
            out = torch.empty(len(y), F_all + E + n, dtype=dt)
            for c0 in range(0, F_all, 2048):
                li, pi = lat[c0 : c0 + 2048, 0], lat[c0 : c0 + 2048, 1]
                out[:, c0 : c0 + len(li)] = torch.einsum("bfd,fd->bf", g_mlp[:, li, pi],
                                                         dec[c0 : c0 + 2048])  # fmt: skip
            out[:, F_all : F_all + E] = (g_mlp * err).sum(-1).reshape(len(y), E)
            out[:, F_all + E :] = (g_emb * fz.embed).sum(-1)
            zero = _pre_acts(model, fz, transcoders, reads0, logits0, sel)
            bias = zero + torch.einsum("bLnd,Ld->b", g_mlp, b_dec)
        return out, bias

    t_sel = [("target", tv) for tv in tvecs]
    t_rows, t_bias = rows(t_sel)
    chosen: list[int] = []
    f_rows = torch.zeros(0, F_all + E + n, dtype=dt)
    f_bias = torch.zeros(0, dtype=dt)
    while len(chosen) < min(max_latents, F_all):
        infl = node_influence(torch.cat([f_rows, t_rows]), chosen, F_all + E + n)[:F_all]
        infl[chosen] = -1.0
        k = min(batch, max_latents - len(chosen))
        cand = infl.argsort(descending=True)[:k]
        cand = cand[infl[cand] > 0]
        if len(cand) == 0:
            break
        sel = [("latent", tuple(int(v) for v in lat[c])) for c in cand]
        r, b = rows(sel)
        f_rows, f_bias = torch.cat([f_rows, r]), torch.cat([f_bias, b])
        chosen += cand.tolist()
    return _assemble(fz, targets, tvecs, transcoders, lat, a, dec, err, chosen,
                     f_rows, f_bias, t_rows, t_bias, L)  # fmt: skip


@torch.no_grad()
def _assemble(fz, targets, tvecs, tcs, lat, a, dec, err, chosen, f_rows, f_bias, t_rows, t_bias, L):
    """Order the expanded latents by (layer, pos, index) and fold the rest into error nodes."""
    n, F_all = len(fz.tokens), len(lat)
    E = L * n
    order = sorted(range(len(chosen)), key=lambda j: chosen[j])  # lat is sorted already
    keep = torch.tensor([chosen[j] for j in order], dtype=torch.long)
    rest = torch.ones(F_all, dtype=torch.bool)
    rest[keep] = False
    folded = lat[rest][:, 0] * n + lat[rest][:, 1]  # error column of each folded latent
    err = err.clone().reshape(E, -1).index_add_(0, folded, dec[rest]).reshape(err.shape)
    src_rows = torch.cat([f_rows[order], t_rows]) if len(order) else t_rows
    err_cols = src_rows[:, F_all : F_all + E].index_add(1, folded, src_rows[:, :F_all][:, rest])
    cols = torch.cat([src_rows[:, keep], err_cols, src_rows[:, F_all + E :]], 1)
    F, T = len(keep), len(targets)
    N = F + E + n + T
    adj = torch.zeros(N, N, dtype=fz.embed.dtype)
    adj[:F, : F + E + n] = cols[:F]
    adj[N - T :, : F + E + n] = cols[F:]
    bias = torch.zeros(N, dtype=adj.dtype)
    bias[:F] = f_bias[order] if F else bias[:0]
    bias[N - T :] = t_bias
    values = torch.full((N,), float("nan"), dtype=adj.dtype)
    latents = lat[keep]
    for j, (l_, p, i) in enumerate(latents.tolist()):
        values[j] = fz.mlp_in[l_, p] @ tcs[l_].W_enc[:, i] + tcs[l_].b_enc[i]
    for k, (pos, c) in enumerate(tvecs):
        values[N - T + k] = fz.logits[pos] @ c
    return Graph(fz.tokens.tolist(), latents, a[keep], L, list(targets), adj, bias, values,
                 err, F_all)  # fmt: skip
