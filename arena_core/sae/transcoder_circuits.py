"""Transcoders vs SAEs around one MLP: training both, splicing them in, virtual weights (day 56).

An SAE on an MLP's output explains *what the MLP wrote*; how its latents depend on anything
upstream still goes through the MLP's non-linearity, so the connection from an upstream latent
(direction u in the MLP's input space) to an output-SAE latent j is a Jacobian that changes with
the token:

    J_sae(x)[i, j] = u_i · ∂ pre_j(SAE(MLP(x))) / ∂x      (x = the MLP's normalised input)

A transcoder (Dunefsky et al. 2024) replaces the MLP by f = ReLU(x W_enc + b_enc), ŷ = f W_dec
+ b_dec. Its latent j reads the input linearly, so the same connection is one number for every
token, a *virtual weight* (Elhage et al. 2021's term for products of weight matrices):

    V[i, j] = u_i · W_enc[:, j]          and, between two transcoders,   V = W_dec^up W_enc^down

(exact on a path that is linear; RMSNorm's per-token scale 1/rms is the one factor a real model
puts back, and it multiplies every pair of a token alike). `through_mlp_jacobian` computes the
token-by-token Jacobian of any read-out of the MLP for a set of input directions, batched with
`torch.func` (vmap over tokens of jacrev); `virtual_weights` is the matrix product.

`mlp_io` collects (MLP input after its norm, MLP output) pairs; `train_mlp_dictionary` trains a
transcoder (input → output) or an SAE (output → output), ReLU + L1 or TopK (equal L0 by
construction), with `training.py` on activations scaled to mean norm √d and folds the scales back
(`fold_scales`), so both act on raw activations;
`mlp_splice_ce` replaces the MLP's output by a dictionary's reconstruction in the forward pass
and reports CE loss recovered against zero- and mean-ablating the MLP.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.func import jacrev, vmap

from arena_core.sae.base import SAE, SAEConfig, SAEError
from arena_core.sae.evaluate import next_token_ce
from arena_core.sae.relu import ReluSAE
from arena_core.sae.store import ActivationStore
from arena_core.sae.topk import TopKSAE
from arena_core.sae.training import History, TrainConfig, train_sae
from arena_core.sae.transcoder import Transcoder


class _Stop(Exception):
    pass


def mlp_hooks(layer: int) -> tuple[str, str]:
    """(the MLP's input after its norm, the MLP's output) of block `layer`."""
    return f"blocks.{layer}.ln2.hook_normalized", f"blocks.{layer}.hook_mlp_out"


@torch.no_grad()
def mlp_io(
    model, rows: list[list[int]], layer: int, batch_size: int = 16, skip_first: int = 1
) -> tuple[Tensor, Tensor]:
    """(inputs, outputs) `[n_rows·(len − skip_first), d]` of block `layer`'s MLP over equal-length
    `rows`; position 0 (the attention sink) dropped as in `store.token_activations`."""
    if not rows or len({len(r) for r in rows}) != 1:
        raise SAEError("rows must be a non-empty list of token lists of one length")
    if not 0 <= layer < model.cfg.n_layers:
        raise SAEError(f"layer {layer} out of range for a {model.cfg.n_layers}-layer model")
    h_in, h_out = mlp_hooks(layer)
    ins, outs = [], []

    def flat(a):
        return a[:, skip_first:].reshape(-1, a.shape[-1]).float().cpu()

    def grab_in(a, hook=None):
        ins.append(flat(a))

    def grab_out(a, hook=None):
        outs.append(flat(a))
        raise _Stop

    for i in range(0, len(rows), batch_size):
        try:
            tokens = torch.tensor(rows[i : i + batch_size])
            model.run_with_hooks(tokens, fwd_hooks=[(h_in, grab_in), (h_out, grab_out)])
        except _Stop:
            pass
    return torch.cat(ins), torch.cat(outs)


@torch.no_grad()
def fold_scales(sae: SAE, c_in: float, c_out: float) -> None:
    """Make a dictionary trained to map c_in·x to c_out·y map x to y: W_enc ← c_in W_enc,
    W_dec ← W_dec / c_out, b_dec ← b_dec / c_out (the code f is unchanged). For an SAE
    (`apply_b_dec_to_input`) c_in must equal c_out: b_dec is also subtracted from the input."""
    if not (c_in > 0 and c_out > 0):
        raise SAEError(f"scales must be positive, got {c_in}, {c_out}")
    if sae.cfg.apply_b_dec_to_input and c_in != c_out:
        raise SAEError("an SAE subtracts b_dec from its input: use one scale for both sides")
    sae.W_enc.mul_(c_in)
    sae.W_dec.div_(c_out)
    sae.b_dec.div_(c_out)


def train_mlp_dictionary(
    kind: str,
    x_in: Float[Tensor, "n_in d_in"],
    y_out: Float[Tensor, "n_out d_out"],
    d_sae: int,
    l1: float,
    cfg: TrainConfig,
    batch: int = 256,
    seed: int = 0,
    k: int | None = None,
) -> tuple[SAE, History]:
    """A transcoder (`kind="transcoder"`: x_in → y_out) or an SAE on the output (`kind="sae"`:
    y_out → y_out), trained on each side scaled to mean norm √d and returned acting on raw
    activations. Same width, L1 coefficient, steps and data order for both. `k`: a TopK
    dictionary instead (L0 = k for both kinds, so the budgets match exactly; `l1` unused, AuxK
    at Gao et al.'s 1/32 keeps latents alive)."""
    if kind not in ("transcoder", "sae"):
        raise SAEError(f"kind must be 'transcoder' or 'sae', got {kind!r}")
    if len(x_in) != len(y_out) or x_in.ndim != 2 or y_out.ndim != 2:
        raise SAEError(
            f"need [n, d] inputs and targets, got {tuple(x_in.shape)}, {tuple(y_out.shape)}"
        )
    c_out = y_out.shape[1] ** 0.5 / y_out.norm(dim=1).mean().item()
    topk = {} if k is None else {"k": k, "aux_coeff": 1 / 32}
    if kind == "transcoder":
        c_in = x_in.shape[1] ** 0.5 / x_in.norm(dim=1).mean().item()
        sae_cfg = SAEConfig(d_in=x_in.shape[1], d_sae=d_sae, d_out=y_out.shape[1], l1_coeff=l1,
                            apply_b_dec_to_input=False, **topk)  # fmt: skip
        sae: SAE = Transcoder(sae_cfg, seed=seed) if k is None else TopKSAE(sae_cfg, seed=seed)
        store = ActivationStore(x_in * c_in, batch, 16384, targets=y_out * c_out, seed=seed)
    else:
        c_in = c_out
        sae_cfg = SAEConfig(d_in=y_out.shape[1], d_sae=d_sae, l1_coeff=l1, **topk)
        sae = ReluSAE(sae_cfg, seed=seed) if k is None else TopKSAE(sae_cfg, seed=seed)
        store = ActivationStore(y_out * c_out, batch, 16384, seed=seed)
    hist = train_sae(sae, iter(store), cfg, desc=kind, seed=seed)
    fold_scales(sae, c_in, c_out)
    return sae, hist


@torch.no_grad()
def mlp_splice_ce(
    model,
    tokens: Int[Tensor, "batch pos"],
    layer: int,
    replace: Callable[[Tensor, Tensor], Tensor],
    mean_out: Float[Tensor, " d"],
    attention_mask: Tensor | None = None,
) -> dict[str, float]:
    """Next-token CE with block `layer`'s MLP output replaced by `replace(mlp_in, mlp_out)`, next to
    the clean run and zero / mean ablation of the MLP output, and the two recovered fractions
    (evaluate.py's definition). Position 0 keeps its clean output in every run (the sink)."""
    h_in, h_out = mlp_hooks(layer)
    mask = torch.ones_like(tokens) if attention_mask is None else attention_mask
    seen: dict[str, Tensor] = {}

    def keep_in(a, hook=None):
        seen["in"] = a

    def run(fn=None) -> float:
        hooks = [(h_in, keep_in)]
        if fn is not None:

            def swap(a, hook=None):
                new = fn(seen["in"], a).to(a.dtype)
                new[:, 0] = a[:, 0]
                return new

            hooks.append((h_out, swap))
        logits = model.run_with_hooks(tokens, fwd_hooks=hooks, attention_mask=mask)
        return next_token_ce(logits, tokens, mask).item()

    clean = run()
    spliced = run(replace)
    zero = run(lambda x, y: torch.zeros_like(y))
    mean = run(lambda x, y: mean_out.to(y.dtype).expand_as(y).clone())

    def frac(num: float, den: float) -> float:
        return num / den if den != 0 else float("nan")

    return {"ce_clean": clean, "ce_spliced": spliced, "ce_zero_ablation": zero,
            "ce_mean_ablation": mean, "recovered_vs_zero": frac(zero - spliced, zero - clean),
            "recovered_vs_mean": frac(mean - spliced, mean - clean)}  # fmt: skip


def virtual_weights(
    w_up: Float[Tensor, "k_up d_up"], w_enc_down: Float[Tensor, "d_down k_down"]
) -> Float[Tensor, "k_up k_down"]:
    """V = W_up W_enc^down: how much a unit of each upstream latent (its row of W_up, e.g. an
    upstream transcoder's W_dec) moves each downstream pre-activation along a linear path."""
    if w_up.shape[1] != w_enc_down.shape[0]:
        raise SAEError(f"widths differ: upstream writes {w_up.shape[1]}, downstream reads "
                       f"{w_enc_down.shape[0]}")  # fmt: skip
    return w_up @ w_enc_down


def through_mlp_jacobian(
    readout: Callable[[Tensor], Tensor],
    x: Float[Tensor, "n d_x"],
    directions: Float[Tensor, "k_up d_dir"],
) -> Float[Tensor, "n k_up k_down"]:
    """J[n, i, j] = directions[i] · ∂ readout(x_n)_j / ∂x_n for every token n: the per-token
    connection from upstream directions to a downstream read-out (one token's vector → [k_down])."""
    if x.ndim != 2 or directions.ndim != 2 or x.shape[1] != directions.shape[1]:
        raise SAEError(f"need x [n, d] and directions [k, d], got {tuple(x.shape)}, "
                       f"{tuple(directions.shape)}")  # fmt: skip
    jac = vmap(jacrev(readout))(x)  # [n k_down d]
    return torch.einsum("njd,id->nij", jac, directions)
