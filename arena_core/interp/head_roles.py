"""Evidence for the roles heads play in the IOI circuit, for every head at once (days 54–55).

Wang et al. (2022, "Interpretability in the Wild: a Circuit for Indirect Object Identification
in GPT-2 small") name heads by what they do on "When Mary and John went to the store, John gave
a drink to" (positions IO = Mary, S1 = first John, S1+1 = the token after it, S2 = second John,
END = "to"), and back each name with a pattern and a causal test:

- **name movers** attend from END to IO and copy the name they attend to into the logits:
  high END->IO attention, a high *copy score*, positive direct logit attribution (DLA) on
  `W_U[IO] - W_U[S]`; **negative name movers** attend the same way but write the opposite
  (negative copy score, negative DLA);
- **S-inhibition** heads attend from END to S2 and move "S is repeated" into END, which steers
  the name movers' *queries* away from S (path patching into the name movers' queries);
- **induction** heads attend from S2 to S1+1 (the token after the earlier copy of S2);
- **duplicate-token** heads attend from S2 to S1 (an earlier copy of the current token);
- **previous-token** heads attend from each token to the one before (S1+1 -> S1 here).

Copy score (their appendix): take a name's embedding, pass it through the first MLP (the state a
name has after layer 0), then through the head's OV circuit (norm, W_V, W_O), the final norm and
the unembedding; the score is the fraction of names whose own token is among the top 5 logits
(negative copy score: the same with the OV output negated). DLA reuses
`arena_core.interp.attribution.apply_final_norm_to_stack` (final norm frozen at its cached scale).

`head_evidence` computes all of it from ONE cached forward per (template, order) batch, for all
heads at once; every grid is `[layers heads]`, averaged over prompts.
"""

from dataclasses import dataclass, fields

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.errors import UserError
from arena_core.interp.attribution import apply_final_norm_to_stack
from arena_core.interp.circuits import attn_weights
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.logit_lens import apply_final_norm_recomputed, unembed_params
from arena_core.transformer.hooks import ActivationCache

Grid = Float[Tensor, "layers heads"]


class HeadRolesError(UserError, ValueError):
    """Inputs the head-role evidence cannot use (no batches, no names, bad k)."""


@dataclass
class HeadEvidence:
    """Per-head IOI evidence, each `[layers heads]`, prompt-weighted means over the batches."""

    end_to_io: Tensor  # attention END -> IO
    end_to_s1: Tensor  # attention END -> S1
    end_to_s2: Tensor  # attention END -> S2
    s2_to_s1: Tensor  # attention S2 -> S1 (duplicate-token)
    s2_to_s1p1: Tensor  # attention S2 -> S1+1 (induction)
    s1p1_to_s1: Tensor  # attention S1+1 -> S1 (previous-token, at the IOI position)
    prev_token: Tensor  # mean attention i -> i-1 over every position i >= 1 of the prompts
    dla: Tensor  # direct logit attribution on W_U[IO] - W_U[S] at END (logits)

    def as_dict(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _attention(pattern: Tensor, q: int, k: int) -> Tensor:
    """Mean over the batch of pattern[:, :, q, k] -> [heads]."""
    return pattern[:, :, q, k].mean(0)


@torch.no_grad()
def head_evidence(model, batches: list[TemplateBatch]) -> HeadEvidence:
    """Attention-pattern and DLA evidence for every head (see the module docstring)."""
    if not batches:
        raise HeadRolesError("no IOI batches given")
    cfg = model.cfg
    W_U, _ = unembed_params(model)
    wanted = ("hook_pattern", "hook_z", "ln_final.hook_scale")
    sums = {f.name: torch.zeros(cfg.n_layers, cfg.n_heads, dtype=torch.float64)
            for f in fields(HeadEvidence)}  # fmt: skip
    total = 0
    for b in batches:
        _, cache = model.run_with_cache(b.tokens, names_filter=lambda n: n.endswith(wanted))
        p, n = b.positions, len(b.idx)
        end = p["end"]
        per_head = []
        for layer in range(cfg.n_layers):
            pat = cache[f"blocks.{layer}.attn.hook_pattern"]  # [batch head q k]
            rows = {
                "end_to_io": _attention(pat, end, p["IO"]),
                "end_to_s1": _attention(pat, end, p["S1"]),
                "end_to_s2": _attention(pat, end, p["S2"]),
                "s2_to_s1": _attention(pat, p["S2"], p["S1"]),
                "s2_to_s1p1": _attention(pat, p["S2"], p["S1+1"]),
                "s1p1_to_s1": _attention(pat, p["S1+1"], p["S1"]),
                "prev_token": pat.diagonal(offset=-1, dim1=2, dim2=3).mean((0, 2)),
            }
            for key, value in rows.items():
                sums[key][layer] += n * value.double().cpu()
            z = cache[f"blocks.{layer}.attn.hook_z"][:, end]  # [batch head d_head]
            per_head.append(torch.einsum("bhe,hed->hbd", z, model.blocks[layer].attn.W_O))
        stack = torch.cat(per_head)[:, :, None]  # [layers*heads batch 1 d_model]
        scale = ActivationCache(
            {"ln_final.hook_scale": cache["ln_final.hook_scale"][:, end : end + 1]}
        )
        labels = [f"L{i}H{h}" for i in range(cfg.n_layers) for h in range(cfg.n_heads)]
        normed, _ = apply_final_norm_to_stack(model, scale, stack, labels)
        direction = (W_U[:, b.io_ids] - W_U[:, b.s_ids]).T  # [batch d_model]
        dla = torch.einsum("cbd,bd->cb", normed[: len(labels), :, 0], direction)
        sums["dla"] += dla.sum(-1).double().cpu().reshape(cfg.n_layers, cfg.n_heads)
        total += n
    return HeadEvidence(**{k: v / total for k, v in sums.items()})


def _embed(model) -> Tensor:
    return model.W_E if hasattr(model, "W_E") else model.embed.W_E


@torch.no_grad()
def copy_scores(model, name_ids: Int[Tensor, " names"], k: int = 5, negative: bool = False) -> Grid:
    """Fraction of names whose own token is in the top-k logits of `OV(MLP0(embed(name)))`
    (module docstring); `negative=True` negates the head's output first."""
    if name_ids.numel() == 0:
        raise HeadRolesError("no name tokens given for the copy score")
    if k < 1:
        raise HeadRolesError(f"k must be positive, got {k}")
    cfg = model.cfg
    W_U, b_U = unembed_params(model)
    block0 = model.blocks[0]
    x = _embed(model)[name_ids]  # [names d_model]
    x = x + block0.mlp(block0.ln2(x[None]))[0]  # the name's state after the first MLP
    sign = -1.0 if negative else 1.0
    out = torch.zeros(cfg.n_layers, cfg.n_heads, dtype=torch.float64)
    for layer in range(cfg.n_layers):
        attn = model.blocks[layer].attn
        W = attn_weights(model, layer, fold_ln=False)
        v = torch.einsum("nd,hde->hne", model.blocks[layer].ln1(x[None])[0], W["W_V"])
        b_V = getattr(attn, "b_V", None)
        if b_V is not None:
            v = v + b_V.repeat_interleave(cfg.n_heads // b_V.shape[0], dim=0)[:, None]
        written = sign * torch.einsum("hne,hed->hnd", v, W["W_O"])
        logits = apply_final_norm_recomputed(model, written) @ W_U
        if b_U is not None:
            logits = logits + b_U
        top = logits.topk(min(k, logits.shape[-1]), dim=-1).indices  # [heads names k]
        out[layer] = (top == name_ids[None, :, None].to(top.device)).any(-1).double().mean(-1)
    return out


__all__ = ["HeadEvidence", "HeadRolesError", "copy_scores", "head_evidence"]
