"""Gradients between SAE latents across layers: which upstream latent drives which one downstream.

Day 56. Put an SAE at the residual stream after block L1 ("up") and another after block L2 > L1
("down"). Hold a prompt fixed and look at the map from the up latents' activations f to the down
latents:

    x_L1(f)  = f W_dec^up + b_dec^up + ε          ε = x_L1 − x̂_L1, the up SAE's error, kept fixed
    x_L2(f)  = blocks L1+1 … L2 (x_L1(f))          the model's own layers, attention and MLPs
    g(f)     = (x_L2(f) − b_dec^down) W_enc^down + b_enc^down     (pre-activations; ReLU → codes)

At the real f this reproduces the real forward pass exactly (ε closes the gap), so the Jacobian
J = ∂g/∂f is the first-order answer to "if up latent i at position p moved by Δ, how much would
down latent j at position q move": Δg_j ≈ J[j, p, i] Δ. It is input-dependent (attention patterns,
MLP gates and RMSNorm scales all depend on the prompt), which is what day 56's transcoder part
contrasts with input-independent virtual weights (`transcoder_circuits.py`).

Three variants, as in ARENA 1.4.2: latent → latent (`latent_jacobian`), latent → logit
(`latent_logit_jacobian`, the tail of the model after L1 instead of the down SAE) and token →
latent (`token_latent_jacobian`, the gradient with respect to the token embeddings; gradient ×
embedding gives one attribution number per input token). All are computed with
`torch.func.jacrev` on a function whose output is summed over the prompts of the batch: prompts
do not interact, so one reverse pass per output latent gives every prompt's Jacobian at once.
`perturbation_effects` measures what the linearisation promises: it really scales (or ablates)
each chosen up latent — one batched forward pass holds every (prompt, latent) copy — and returns
the measured change next to the prediction J·Δf.
"""

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor
from torch.func import jacrev

from arena_core.sae.base import SAE, SAEError
from arena_core.sae.monitor import check_latents
from arena_core.transformer.model import attention_mask_4d


class _Stop(Exception):
    pass


def _check_layer(model, layer: int, what: str) -> None:
    if not 0 <= layer < model.cfg.n_layers:
        raise SAEError(f"{what} layer {layer} out of range for a {model.cfg.n_layers}-layer model")


def _check_sae(model, sae: SAE, what: str) -> None:
    if sae.cfg.d_in != model.cfg.d_model or sae.cfg.out != model.cfg.d_model:
        raise SAEError(
            f"the {what} SAE has widths {sae.cfg.d_in} -> {sae.cfg.out}; the residual stream "
            f"has d_model = {model.cfg.d_model}"
        )


def _mask_and_rope(model, resid: Tensor, attention_mask: Tensor | None):
    """The 4-D mask and rotary tables the blocks need (as in `CausalLM.forward`)."""
    batch, pos = resid.shape[:2]
    if attention_mask is None or bool(attention_mask.all()):
        positions = torch.arange(pos, device=resid.device).expand(batch, pos)
        mask = None
    else:
        full = attention_mask.to(resid.device, torch.long)
        positions = (full.cumsum(dim=1) - 1).clamp(min=0)
        mask = attention_mask_4d(full, pos)
    return mask, model.rope(positions, resid.dtype)


def run_blocks(
    model,
    resid: Float[Tensor, "batch pos d_model"],
    start: int,
    stop: int | None,
    attention_mask: Tensor | None = None,
) -> Tensor:
    """Blocks `start` … `stop − 1` on `resid` (the stream entering block `start`); the residual
    stream after block `stop − 1`, or the logits when `stop` is None. Differentiable."""
    mask, rope = _mask_and_rope(model, resid, attention_mask)
    for i in range(start, model.cfg.n_layers if stop is None else stop):
        resid = model.blocks[i](resid, mask, rope, None)
    return resid if stop is not None else model.unembed(model.ln_final(resid))


@torch.no_grad()
def activation_at(model, tokens: Tensor, hook: str, attention_mask: Tensor | None = None) -> Tensor:
    """The activation at `hook` (the forward pass stops there)."""
    if hook not in model.hook_dict:
        raise SAEError(f"unknown hook {hook!r}; see model.hook_dict")
    out: list[Tensor] = []

    def grab(act, hook=None):
        out.append(act.detach().clone())
        raise _Stop

    kw = {} if attention_mask is None else {"attention_mask": attention_mask}
    try:
        model.run_with_hooks(tokens, fwd_hooks=[(hook, grab)], **kw)
    except _Stop:
        pass
    return out[0]


def _down_positions(tokens: Tensor, down_pos) -> Tensor:
    batch, pos = tokens.shape
    q = torch.full((batch,), pos - 1) if down_pos is None else torch.as_tensor(down_pos).long()
    q = q.expand(batch) if q.ndim == 0 else q
    if q.shape != (batch,) or not bool(((q >= 0) & (q < pos)).all()):
        raise SAEError(
            f"down_pos must be one position in 0..{pos - 1} per prompt, got {q.tolist()}"
        )
    return q


def _encode_at(sae: SAE, x: Tensor, q: Tensor, idx: Tensor, pre: bool) -> Tensor:
    """The chosen latents (pre-activations or codes) of `sae` at position q[b] of each prompt."""
    x_q = x[torch.arange(len(q)), q]  # [batch d]
    z = sae.pre_acts(x_q)
    return (z if pre else sae.activation(z))[:, idx]


@dataclass
class UpState:
    """The up SAE's view of a batch: codes, error term and the residual stream itself."""

    resid: Tensor  # [batch pos d] after block `layer`
    codes: Tensor  # [batch pos d_sae]
    error: Tensor  # [batch pos d] resid − decode(codes), held fixed
    layer: int


@torch.no_grad()
def up_state(model, tokens, sae_up: SAE, layer_up: int, attention_mask=None) -> UpState:
    _check_layer(model, layer_up, "up")
    _check_sae(model, sae_up, "up")
    x = activation_at(model, tokens, f"blocks.{layer_up}.hook_resid_post", attention_mask)
    x = x.to(sae_up.W_enc.dtype)
    f = sae_up.encode(x)
    return UpState(x, f, x - sae_up.decode(f), layer_up)


def _with_selected(state: UpState, sae_up: SAE, up_idx: Tensor, sel: Tensor) -> Tensor:
    """x_L1 rebuilt from the codes with the chosen latents' activations replaced by `sel`."""
    f = state.codes.index_copy(-1, up_idx, sel)
    return sae_up.decode(f) + state.error


@dataclass
class LatentJacobian:
    jac: Tensor  # [batch k_out pos k_up]: ∂ out[b, j] / ∂ f_up[b, p, i]
    up_acts: Tensor  # [batch pos k_up] the chosen up latents' activations
    out: Tensor  # [batch k_out] the outputs at the clean point
    down_pos: Tensor  # [batch]


def _jacobian(fn: Callable[[Tensor], Tensor], inp: Tensor) -> tuple[Tensor, Tensor]:
    """(Jacobian [batch k_out *inp.shape[1:]], outputs [batch k_out]) of a per-prompt `fn`."""
    out = fn(inp).detach()
    with warnings.catch_warnings():  # CPU SDPA's backward has no vmap rule yet: torch loops
        warnings.filterwarnings("ignore", message=".*batching rule.*")
        jac = jacrev(lambda z: fn(z).sum(0))(inp)  # [k_out batch ...]: prompts are independent
    return jac.movedim(0, 1), out


def latent_jacobian(
    model,
    tokens: Int[Tensor, "batch pos"],
    sae_up: SAE,
    layer_up: int,
    sae_down: SAE,
    layer_down: int,
    up_latents: Sequence[int],
    down_latents: Sequence[int],
    down_pos=None,
    attention_mask: Tensor | None = None,
    pre: bool = True,
) -> LatentJacobian:
    """∂ (down latents at `down_pos`) / ∂ (up latents at every position); `pre`: pre-activations
    (smooth, what ARENA's gradients read) or the ReLU codes (zero where the latent is off).
    `down_pos`: one position per prompt (int or [batch]); the last one when None."""
    if layer_down <= layer_up:
        raise SAEError(f"layer_down ({layer_down}) must come after layer_up ({layer_up})")
    _check_layer(model, layer_down, "down")
    _check_sae(model, sae_down, "down")
    check_latents(sae_up.cfg.d_sae, up_latents)
    check_latents(sae_down.cfg.d_sae, down_latents)
    q = _down_positions(tokens, down_pos)
    st = up_state(model, tokens, sae_up, layer_up, attention_mask)
    up_idx, down_idx = torch.as_tensor(list(up_latents)), torch.as_tensor(list(down_latents))

    def fn(sel):
        x = _with_selected(st, sae_up, up_idx, sel)
        x_down = run_blocks(model, x, layer_up + 1, layer_down + 1, attention_mask)
        return _encode_at(sae_down, x_down.to(sae_down.W_enc.dtype), q, down_idx, pre)

    sel = st.codes[..., up_idx]
    jac, out = _jacobian(fn, sel)
    return LatentJacobian(jac, sel, out, q)


def latent_logit_jacobian(
    model,
    tokens: Int[Tensor, "batch pos"],
    sae_up: SAE,
    layer_up: int,
    up_latents: Sequence[int],
    token_ids: Sequence[int],
    down_pos=None,
    attention_mask: Tensor | None = None,
) -> LatentJacobian:
    """∂ logits[token_ids] at `down_pos` / ∂ (up latents at every position)."""
    check_latents(sae_up.cfg.d_sae, up_latents)
    ids = torch.as_tensor(list(token_ids)).long()
    if len(ids) == 0 or not bool(((ids >= 0) & (ids < model.cfg.d_vocab)).all()):
        raise SAEError(f"token ids must be in 0..{model.cfg.d_vocab - 1}, got {ids.tolist()}")
    q = _down_positions(tokens, down_pos)
    st = up_state(model, tokens, sae_up, layer_up, attention_mask)
    up_idx = torch.as_tensor(list(up_latents))

    def fn(sel):
        x = _with_selected(st, sae_up, up_idx, sel)
        logits = run_blocks(model, x, layer_up + 1, None, attention_mask)
        return logits[torch.arange(len(q)), q][:, ids]

    sel = st.codes[..., up_idx]
    jac, out = _jacobian(fn, sel)
    return LatentJacobian(jac, sel, out, q)


@dataclass
class TokenJacobian:
    jac: Tensor  # [batch k_down pos d_model]: ∂ latent / ∂ token embedding
    attribution: Tensor  # [batch k_down pos]: gradient · embedding, one number per input token
    out: Tensor  # [batch k_down]
    down_pos: Tensor


def token_latent_jacobian(
    model,
    tokens: Int[Tensor, "batch pos"],
    sae_down: SAE,
    layer_down: int,
    down_latents: Sequence[int],
    down_pos=None,
    attention_mask: Tensor | None = None,
    pre: bool = True,
) -> TokenJacobian:
    """∂ (down latents at `down_pos`) / ∂ (token embeddings at every position)."""
    _check_layer(model, layer_down, "down")
    _check_sae(model, sae_down, "down")
    check_latents(sae_down.cfg.d_sae, down_latents)
    q = _down_positions(tokens, down_pos)
    down_idx = torch.as_tensor(list(down_latents))
    emb = activation_at(model, tokens, "hook_embed", attention_mask).to(sae_down.W_enc.dtype)

    def fn(e):
        x_down = run_blocks(model, e, 0, layer_down + 1, attention_mask)
        return _encode_at(sae_down, x_down, q, down_idx, pre)

    jac, out = _jacobian(fn, emb)
    return TokenJacobian(jac, (jac * emb[:, None]).sum(-1), out, q)


@dataclass
class PerturbationEffects:
    predicted: Tensor  # [batch k_up k_down]: J[b, j, p_b, i] · Δf_i
    measured: Tensor  # [batch k_up k_down]: g(f with f_i changed) − g(f)
    delta_up: Tensor  # [batch k_up]: Δf_i = (factor − 1) f_i at position p_b


@torch.no_grad()
def perturbation_effects(
    model,
    tokens: Int[Tensor, "batch pos"],
    sae_up: SAE,
    layer_up: int,
    sae_down: SAE,
    layer_down: int,
    up_latents: Sequence[int],
    down_latents: Sequence[int],
    factor: float = 0.0,
    at_pos=None,
    attention_mask: Tensor | None = None,
    pre: bool = True,
    jacobian: LatentJacobian | None = None,
) -> PerturbationEffects:
    """Scale each up latent by `factor` (0 = ablate) at position `at_pos` of each prompt (the
    down latents are read there too) and compare the measured change of the down latents with
    the linear prediction. Every (prompt, up latent) copy runs in one batched forward pass."""
    if jacobian is None:
        with torch.enable_grad():
            jacobian = latent_jacobian(
                model, tokens, sae_up, layer_up, sae_down, layer_down,
                up_latents, down_latents, at_pos, attention_mask, pre,
            )  # fmt: skip
    q = jacobian.down_pos
    batch, k_up = len(q), len(up_latents)
    rows = torch.arange(batch)
    f_q = jacobian.up_acts[rows, q]  # [batch k_up]
    delta = (factor - 1.0) * f_q
    j_q = jacobian.jac[rows, :, q]  # [batch k_down k_up]
    predicted = j_q.transpose(1, 2) * delta[..., None]
    st = up_state(model, tokens, sae_up, layer_up, attention_mask)
    up_idx, down_idx = torch.as_tensor(list(up_latents)), torch.as_tensor(list(down_latents))
    # copy c = b·k_up + i changes latent up_idx[i] at (b, q[b]) only
    codes = st.codes.repeat_interleave(k_up, 0)
    b_ix, i_ix = torch.arange(batch).repeat_interleave(k_up), torch.arange(k_up).repeat(batch)
    codes[torch.arange(batch * k_up), q[b_ix], up_idx[i_ix]] *= factor
    x = sae_up.decode(codes) + st.error.repeat_interleave(k_up, 0)
    mask = None if attention_mask is None else attention_mask.repeat_interleave(k_up, 0)
    x_down = run_blocks(model, x, layer_up + 1, layer_down + 1, mask).to(sae_down.W_enc.dtype)
    new = _encode_at(sae_down, x_down, q[b_ix], down_idx, pre).reshape(batch, k_up, -1)
    measured = new - jacobian.out[:, None]
    return PerturbationEffects(predicted, measured, delta)


def pearson(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two flattened tensors."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))
