"""QK and OV circuits of attention heads and the composition scores between them (days 37–38).

Elhage et al. (2021, "A Mathematical Framework for Transformer Circuits") split a head into two
low-rank bilinear maps of the residual stream (row-vector convention, as in TransformerLens):
- QK circuit `W_QK = W_Q W_K^T` (d_model x d_model, rank <= d_head): attention score of a query
  vector x_q on a key vector x_k is `x_q W_QK x_k^T / sqrt(d_head)`;
- OV circuit `W_OV = W_V W_O`: what the head writes when it attends to x is `x W_OV`.
Reading them with the embedding and unembedding gives the "full" circuits of a 1-layer path:
`W_E W_OV W_U` (which output token does attending to token s promote?) and `W_E W_QK W_E^T`
or `W_pos W_QK W_pos^T` (which token / position does a query attend to?).

Composition of head A (earlier layer) into head B (later layer), as in the paper and TL's
`all_composition_scores`: `||X Y||_F / (||X||_F ||Y||_F)` with X = W_OV^A and
Q-composition Y = W_QK^B, K-composition Y = (W_QK^B)^T (A's output read as B's key),
V-composition Y = W_OV^B. Products are never formed at d_model x d_model: with X = L R and
Y = L' R' (factors d_model x d_head, d_head x d_model) and QR decompositions L = Q1 R1,
R'^T = Q2 R2, ||X Y||_F = ||R1 (R L') R2^T||_F — three d_head x d_head factors.

Normalisation. The circuits ignore the normalisation *division* and the biases (as ARENA and the
paper do). With `fold_ln=True` (default) the normalisation *gain* is folded into the weights that
read the stream (ln1.w into W_Q/W_K/W_V, ln_final.w into W_U) and, for LayerNorm models, the
reading weights are centred along d_model (the stream is centred before they see it) and the
writing weights W_E, W_pos, W_O are centred too — exactly TL's `fold_ln` +
`center_writing_weights`, which ARENA's models come with. RMSNorm models only get the gain.
Grouped-query attention: query head h uses K/V head h // (n_heads / n_kv_heads); K/V weights are
repeated per query head. RoPE models have no W_pos, and their token QK circuit ignores the
rotation (it is the score at relative distance 0).
Works on our `GPT2`/`Llama` and on a TransformerLens `HookedTransformer`.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

Heads = list[tuple[int, int]]


def _is_rotary(model) -> bool:
    cfg = model.cfg
    return getattr(cfg, "positional_embedding_type", None) == "rotary" or (
        not hasattr(model, "W_pos") and not hasattr(model, "pos_embed")
    )


def _norm_gain_centre(ln) -> tuple[Tensor | None, bool]:
    """(gain or None, whether the norm centres its input): LayerNorm has a bias, RMSNorm not."""
    return getattr(ln, "w", None), hasattr(ln, "b") and getattr(ln, "b", None) is not None


def _fold_read(W: Tensor, ln, fold_ln: bool, d_axis: int) -> Tensor:
    if not fold_ln:
        return W
    gain, centre = _norm_gain_centre(ln)
    if gain is not None:
        shape = [1] * W.ndim
        shape[d_axis] = -1
        W = W * gain.detach().reshape(shape)
    return W - W.mean(d_axis, keepdim=True) if centre else W


def _centres(model) -> bool:
    return _norm_gain_centre(model.blocks[0].ln1)[1]


def _centre_write(W: Tensor, model, fold_ln: bool) -> Tensor:
    return W - W.mean(-1, keepdim=True) if fold_ln and _centres(model) else W


def attn_weights(model, layer: int, fold_ln: bool = True) -> dict[str, Tensor]:
    """`W_Q, W_K, W_V [n_heads d_model d_head]` (GQA repeated), `W_O [n_heads d_head d_model]`."""
    block = model.blocks[layer]
    attn, n_heads = block.attn, model.cfg.n_heads
    out = {}
    for name in ("W_Q", "W_K", "W_V"):
        W = attn.W_Q if name == "W_Q" else getattr(attn, name)
        W = W.detach()
        if W.shape[0] != n_heads:  # grouped K/V: head h reads group h // (n_heads / n_kv)
            W = W.repeat_interleave(n_heads // W.shape[0], dim=0)
        out[name] = _fold_read(W, block.ln1, fold_ln, d_axis=1)
    out["W_O"] = _centre_write(attn.W_O.detach(), model, fold_ln)
    return out


def embedding(model, fold_ln: bool = True) -> Float[Tensor, "d_vocab d_model"]:
    return _centre_write(model.embed.W_E.detach(), model, fold_ln)


def positional(model, fold_ln: bool = True) -> Float[Tensor, "n_ctx d_model"]:
    if _is_rotary(model):
        raise ValueError(
            "this model uses rotary position embeddings (RoPE): positions rotate q and k inside "
            "attention, there is no W_pos to read a positional QK circuit from"
        )
    W_pos = model.W_pos if not hasattr(model, "pos_embed") else model.pos_embed.W_pos
    return _centre_write(W_pos.detach(), model, fold_ln)


def unembedding(model, fold_ln: bool = True) -> Float[Tensor, "d_model d_vocab"]:
    return _fold_read(model.unembed.W_U.detach(), model.ln_final, fold_ln, d_axis=0)


def ov_circuit(model, layer: int, head: int, fold_ln: bool = True) -> Float[Tensor, "d d"]:
    """`W_V[h] W_O[h]`, the head's OV circuit (dense d_model x d_model)."""
    w = attn_weights(model, layer, fold_ln)
    return w["W_V"][head] @ w["W_O"][head]


def qk_circuit(model, layer: int, head: int, fold_ln: bool = True) -> Float[Tensor, "d d"]:
    """`W_Q[h] W_K[h]^T`, the head's QK circuit (queries along rows, keys along columns)."""
    w = attn_weights(model, layer, fold_ln)
    return w["W_Q"][head] @ w["W_K"][head].T


def full_ov_circuit(
    model,
    heads: Heads,
    token_ids: Int[Tensor, " n"] | None = None,
    fold_ln: bool = True,
) -> Float[Tensor, "n d_vocab"]:
    """Rows `W_E[token_ids] (sum over heads of W_V W_O) W_U`: logits each source token promotes
    when the heads attend to it. Only the sampled rows are formed (never vocab x vocab)."""
    W_E = embedding(model, fold_ln)
    x = W_E if token_ids is None else W_E[token_ids]
    out = torch.zeros_like(x)
    for layer, head in heads:  # factored: n x d_head x d_model per head
        w = attn_weights(model, layer, fold_ln)
        out = out + (x @ w["W_V"][head]) @ w["W_O"][head]
    return out @ unembedding(model, fold_ln)


def ov_self_ranks(
    model,
    heads: Heads,
    token_ids: Int[Tensor, " n"] | None = None,
    fold_ln: bool = True,
    chunk: int = 256,
) -> Int[Tensor, " n"]:
    """For each source token, how many output tokens its full-OV row ranks above itself
    (0 = the head copies it best). Rows are formed `chunk` at a time (bounded memory)."""
    ids = torch.arange(model.cfg.d_vocab) if token_ids is None else token_ids.cpu()
    ranks = []
    for part in ids.split(chunk):
        rows = full_ov_circuit(model, heads, part.to(model.embed.W_E.device), fold_ln).cpu()
        own = rows.gather(-1, part[:, None])
        ranks.append((rows > own).sum(-1))
    return torch.cat(ranks)


def ov_copying_score(
    model,
    heads: Heads,
    token_ids: Int[Tensor, " n"] | None = None,
    fold_ln: bool = True,
    chunk: int = 256,
) -> float:
    """Fraction of source tokens whose full-OV row has its maximum on the token itself (top-1),
    the copying metric of ARENA; several heads are scored on the sum of their OV circuits.
    (Ties count as hits; with float logits they do not happen in practice.)"""
    ranks = ov_self_ranks(model, heads, token_ids, fold_ln, chunk)
    return int((ranks == 0).sum()) / len(ranks)


def full_qk_circuit(
    model,
    layer: int,
    head: int,
    source: str = "token",
    ids: Int[Tensor, " n"] | None = None,
    fold_ln: bool = True,
) -> Float[Tensor, "n n"]:
    """Attention scores (before scaling and softmax) between embeddings: `X W_Q W_K^T X^T` with
    X = `W_E[ids]` (source="token") or `W_pos[ids]` (source="pos", positions; GPT-2 family only).
    Rows are queries, columns keys."""
    if source == "token":
        X = embedding(model, fold_ln)
    elif source == "pos":
        X = positional(model, fold_ln)
    else:
        raise ValueError(f"source must be 'token' or 'pos', not {source!r}")
    if ids is not None:
        X = X[ids]
    w = attn_weights(model, layer, fold_ln)
    return (X @ w["W_Q"][head]) @ (X @ w["W_K"][head]).T


def _r(M: Tensor) -> Tensor:
    """R of the reduced QR decomposition of the last two axes (M = Q R, Q orthonormal columns)."""
    return torch.linalg.qr(M, mode="r")[1]


def composition_from_factors(
    left_a: Float[Tensor, "ha d e"],
    right_a: Float[Tensor, "ha e d"],
    left_b: Float[Tensor, "hb d f"],
    right_b: Float[Tensor, "hb f d"],
) -> Float[Tensor, "ha hb"]:
    """`||X_a Y_b||_F / (||X_a||_F ||Y_b||_F)` for X_a = left_a right_a, Y_b = left_b right_b,
    for every pair (a, b), through d_head-sized factors only (see the module docstring)."""
    r1 = _r(left_a)  # [ha e e], left_a = Q1 r1
    r2 = _r(right_b.transpose(-1, -2))  # [hb f f], right_b^T = Q2 r2
    middle = torch.einsum("aed,bdf->abef", right_a, left_b)  # R L' per pair
    core = r1[:, None] @ middle @ r2[None].transpose(-1, -2)
    norm_a = torch.linalg.matrix_norm(r1 @ right_a)  # ||X_a|| = ||r1 right_a||
    norm_b = torch.linalg.matrix_norm(left_b @ r2.transpose(-1, -2))
    return torch.linalg.matrix_norm(core) / (norm_a[:, None] * norm_b[None, :])


def composition_scores(model, mode: str, fold_ln: bool = True) -> Float[Tensor, "l1 h1 l2 h2"]:
    """Composition of every head (l1, h1) into every head (l2, h2), zero unless l1 < l2 (the
    layout of TL's `all_composition_scores`). mode: "Q", "K" or "V"."""
    if mode not in ("Q", "K", "V"):
        raise ValueError(f"mode must be 'Q', 'K' or 'V', not {mode!r}")
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    w = [attn_weights(model, layer, fold_ln) for layer in range(n_layers)]
    dtype = w[0]["W_Q"].dtype
    out = torch.zeros(n_layers, n_heads, n_layers, n_heads, dtype=dtype)
    for l1 in range(n_layers):
        for l2 in range(l1 + 1, n_layers):
            a, b = w[l1], w[l2]
            if mode == "Q":  # A's output read by B's queries: W_OV^A W_Q^B W_K^B^T
                lb, rb = b["W_Q"], b["W_K"].transpose(-1, -2)
            elif mode == "K":  # read by B's keys: W_OV^A (W_QK^B)^T = W_OV^A W_K^B W_Q^B^T
                lb, rb = b["W_K"], b["W_Q"].transpose(-1, -2)
            else:  # read by B's values: W_OV^A W_V^B W_O^B
                lb, rb = b["W_V"], b["W_O"]
            out[l1, :, l2, :] = composition_from_factors(a["W_V"], a["W_O"], lb, rb).cpu()
    return out


def random_composition_baseline(
    d_model: int, d_head: int, samples: int = 200, generator: torch.Generator | None = None
) -> float:
    """Mean composition score of two independent random rank-d_head products (Gaussian factors):
    what a score looks like when two heads share no subspace on purpose. (The score is scale-
    invariant, so the factors' variance does not matter.)"""
    la, lb = torch.randn(2, samples, d_model, d_head, generator=generator)
    ra, rb = torch.randn(2, samples, d_head, d_model, generator=generator)
    # pairwise diagonal: sample i of A with sample i of B
    r1, r2 = _r(la), _r(rb.transpose(-1, -2))
    core = r1 @ (ra @ lb) @ r2.transpose(-1, -2)
    norm_a = torch.linalg.matrix_norm(r1 @ ra)
    norm_b = torch.linalg.matrix_norm(lb @ r2.transpose(-1, -2))
    return float((torch.linalg.matrix_norm(core) / (norm_a * norm_b)).mean())


__all__ = [
    "attn_weights",
    "composition_from_factors",
    "composition_scores",
    "embedding",
    "full_ov_circuit",
    "full_qk_circuit",
    "ov_circuit",
    "ov_copying_score",
    "ov_self_ranks",
    "positional",
    "qk_circuit",
    "random_composition_baseline",
    "unembedding",
]
