"""What every causal language model here shares: the forward loop over blocks, left padding,
position ids and the KV cache (days 31–33). `GPT2` and `Llama` only say how tokens are embedded
and whether positions enter as learned vectors or as rotations.

Call convention (both families):

    logits = model(tokens)                                   # [batch pos] -> [batch pos d_vocab]
    logits = model(tokens, attention_mask=mask)              # mask [batch pos], 1 = real, 0 = pad
    cache = KVCache.empty(model.cfg, batch=b, device=..., dtype=...)
    logits = model(prompt, attention_mask=mask, kv_cache=cache)   # fills the cache
    logits = model(next_tok[:, None], kv_cache=cache)        # one step; cache keeps the mask
    logits = model(tokens, last_only=True)                   # [batch 1 d_vocab]: generation

Padding goes on the LEFT. Position ids count real tokens only (cumsum of the mask - 1), as
HuggingFace's `generate` does, so a left-padded prompt produces the same logits as the unpadded
one. Query rows of pad positions produce meaningless logits; ignore them.

Decoding needs only the last position's logits: `last_only=True` applies the final norm and the
unembedding to that position alone (for GPT-2, 50,257 x 768 multiply-adds per position saved).
When every token is real, no boolean mask is built: the prompt pass uses SDPA's causal flag and a
one-token cached step needs no mask at all (it may see every cached key).
"""

import torch
from jaxtyping import Float, Int, Shaped
from torch import Tensor, nn

from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.hooks import HookedModel
from arena_core.transformer.kv_cache import KVCache


def attention_mask_4d(full_mask: Shaped[Tensor, "batch kv_pos"], n_new: int) -> Tensor:
    """Boolean `[batch 1 n_new kv_pos]`: query i (absolute position past + i) may see key j when
    j <= past + i and key j is a real token. Each query may always see itself, so rows of pad
    queries are never fully masked (which would give NaN through the softmax)."""
    kv_pos = full_mask.shape[1]
    past = kv_pos - n_new
    q_idx = torch.arange(past, kv_pos, device=full_mask.device)[:, None]
    k_idx = torch.arange(kv_pos, device=full_mask.device)[None, :]
    allowed = (k_idx <= q_idx) & full_mask.bool()[:, None, :]
    allowed |= k_idx == q_idx
    return allowed[:, None]


class CausalLM(HookedModel):
    """Base class: subclasses build `blocks`, `ln_final`, `unembed` and define `embed_input`."""

    blocks: nn.ModuleList

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        self.tokenizer = None  # set by the model registry when a tokenizer is known

    def embed_input(self, tokens: Tensor, positions: Tensor) -> Tensor:
        raise NotImplementedError

    def rope(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor] | None:
        return None

    def forward(
        self,
        tokens: Int[Tensor, "batch pos"] | Float[Tensor, "batch pos d_model"],
        attention_mask: Shaped[Tensor, "batch _"] | None = None,
        kv_cache: KVCache | None = None,
        last_only: bool = False,
        start_at_layer: int | None = None,
    ) -> Float[Tensor, "batch out_pos d_vocab"]:
        """Logits for every position (`out_pos = pos`), or for the last one only when `last_only`
        (`out_pos = 1`). `attention_mask`: 1 = real token, 0 = left padding; with a cache it may
        cover cached + new positions or the new ones only. `kv_cache` is appended.

        `start_at_layer=l` (as in TransformerLens): the input is the residual stream entering
        block l (`resid_pre`) instead of tokens, and only blocks l.. run (their hooks still fire):
        re-running the tail from a cached `resid_pre` (ablation scans, patching)."""
        from_resid, n_layers = start_at_layer is not None, self.cfg.n_layers
        if from_resid and not 0 <= start_at_layer < n_layers:
            raise ValueError(f"start_at_layer must be in [0, {n_layers}), got {start_at_layer}")
        if from_resid and (kv_cache is not None or tokens.dim() != 3):
            raise ValueError("start_at_layer needs a [batch pos d_model] residual and no kv_cache")
        batch, pos = tokens.shape[:2]
        if self.cfg.attention_dir == "bidirectional":
            return self._forward_bidirectional(
                tokens, attention_mask, kv_cache, last_only, start_at_layer
            )
        full = kv_cache.full_mask(attention_mask, pos) if kv_cache is not None else attention_mask
        past = 0 if kv_cache is None else kv_cache.length
        if full is not None:
            full = full.to(tokens.device, torch.long)  # bool / float masks work too
            positions = (full.cumsum(dim=1) - 1).clamp(min=0)[:, -pos:]
            # None = no padding and either no past (SDPA's causal flag) or a single new query.
            simple = (past == 0 or pos == 1) and bool(full.all())
            mask = None if simple else attention_mask_4d(full, pos)
        else:
            positions = torch.arange(pos, device=tokens.device).expand(batch, pos)
            mask = None
        resid = tokens if from_resid else self.embed_input(tokens, positions)
        rope = self.rope(positions, resid.dtype)
        for i in range(start_at_layer or 0, n_layers):
            entry = kv_cache[i] if kv_cache is not None else None
            resid = self.blocks[i](resid, mask, rope, entry)
        if kv_cache is not None:
            kv_cache.mask = full
        if last_only:
            resid = resid[:, -1:]
        return self.unembed(self.ln_final(resid))

    def _forward_bidirectional(
        self,
        tokens: Tensor,
        attention_mask: Tensor | None,
        kv_cache: KVCache | None,
        last_only: bool,
        start_at_layer: int | None,
    ) -> Tensor:
        """Encoder-style pass: no causal mask, padding on the RIGHT, absolute positions. Every
        query (pad rows included) sees every real key; a row with no real token sees all keys
        (instead of a NaN softmax). A KV cache means decoding, which has no meaning here."""
        if kv_cache is not None:
            raise ValueError("a bidirectional model has no KV cache (it does not decode)")
        batch, pos = tokens.shape[:2]
        positions = torch.arange(pos, device=tokens.device).expand(batch, pos)
        real = torch.ones(batch, pos, dtype=torch.bool, device=tokens.device)
        if attention_mask is not None:
            real = attention_mask.to(tokens.device).bool()
            real = real | ~real.any(dim=1, keepdim=True)
        # an explicit all-True mask (not None, which the attention reads as causal)
        mask = real[:, None, None, :].expand(batch, 1, pos, pos)
        from_resid = start_at_layer is not None
        resid = tokens if from_resid else self.embed_input(tokens, positions)
        rope = self.rope(positions, resid.dtype)
        for i in range(start_at_layer or 0, self.cfg.n_layers):
            resid = self.blocks[i](resid, mask, rope, None)
        if last_only:
            resid = resid[:, -1:]
        return self.unembed(self.ln_final(resid))

    def init_weights(self) -> None:
        """Random init: N(0, init_range) for matrices, 0 for biases, 1 for norm gains."""
        for name, p in self.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf.startswith("W_"):
                nn.init.normal_(p, std=self.cfg.init_range)
            elif leaf == "w":
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)

    def n_params(self, embeddings: bool = True) -> int:
        """Number of parameters (tied matrices counted once)."""
        skip = set() if embeddings else {"embed.W_E", "pos_embed.W_pos", "unembed.W_U"}
        return sum(p.numel() for n, p in self.named_parameters() if n not in skip)

    def to_tokens(self, text: str | list[str]) -> Int[Tensor, "batch pos"]:
        """Token ids from `self.tokenizer` (no BOS added), on the model's device. A list of
        texts is left-padded; get its mask with `(tokens != pad_id)` or call the tokenizer."""
        if self.tokenizer is None:
            raise ValueError(
                "this model has no tokenizer; load it with arena_core.models.load_model"
            )
        if isinstance(text, str):
            return torch.tensor([self.tokenizer(text).input_ids], device=self.device)
        rows = [self.tokenizer(t).input_ids for t in text]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        padded = [[pad] * (width - len(r)) + r for r in rows]
        return torch.tensor(padded, device=self.device)

    def to_str_tokens(self, text: str | Tensor) -> list[str]:
        """The tokens of one text (or of a 1-D id tensor) as strings, for plot labels."""
        ids = self.to_tokens(text)[0] if isinstance(text, str) else text.reshape(-1)
        return [self.tokenizer.decode([int(t)]) for t in ids]

    @property
    def device(self) -> torch.device:
        return self.embed.W_E.device

    @property
    def dtype(self) -> torch.dtype:
        return self.embed.W_E.dtype
