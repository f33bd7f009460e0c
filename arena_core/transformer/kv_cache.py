"""Key/value cache for incremental decoding (days 31–33 and every sampling day after).

For each layer the cache holds the keys and values of all positions seen so far, laid out
`[batch n_kv_heads kv_pos d_head]` (the layout `scaled_dot_product_attention` wants). The model's
forward appends to it in place, so after `model(tokens, kv_cache=cache)` the cache is `pos`
longer. It also keeps the attention mask of the cached positions (1 = real token, 0 = left
padding), so later calls may pass the mask of their new tokens only.

Keys are stored *after* rotary embedding (Llama), so a cached key never has to be rotated again.
"""

from dataclasses import dataclass

import torch
from jaxtyping import Int, Shaped
from torch import Tensor

from arena_core.transformer.config import TransformerConfig


class KVCacheEntry:
    """One layer's keys and values: `k`, `v` are `[batch n_kv_heads kv_pos d_head]` views.

    They live in preallocated buffers with room for more positions; `append` writes the new
    positions in place (no `torch.cat` re-copying the whole history every decode step). When the
    room runs out the buffers grow by doubling, so appending n positions costs O(n) copies overall.
    """

    def __init__(self, k: Tensor, v: Tensor, capacity: int = 0):
        self.length = k.shape[2]
        capacity = max(capacity, self.length)
        self._k = k.new_empty(*k.shape[:2], capacity, k.shape[3])
        self._v = v.new_empty(*v.shape[:2], capacity, v.shape[3])
        self._k[:, :, : self.length] = k
        self._v[:, :, : self.length] = v

    @property
    def k(self) -> Tensor:
        return self._k[:, :, : self.length]

    @property
    def v(self) -> Tensor:
        return self._v[:, :, : self.length]

    @property
    def capacity(self) -> int:
        return self._k.shape[2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add new positions (along dim 2) and return the full keys and values (views)."""
        end = self.length + k.shape[2]
        if end > self.capacity:
            grown = max(end, 2 * self.capacity)
            old_k, old_v = self.k, self.v
            self._k = old_k.new_empty(*old_k.shape[:2], grown, old_k.shape[3])
            self._v = old_v.new_empty(*old_v.shape[:2], grown, old_v.shape[3])
            self._k[:, :, : self.length] = old_k
            self._v[:, :, : self.length] = old_v
        self._k[:, :, self.length : end] = k
        self._v[:, :, self.length : end] = v
        self.length = end
        return self.k, self.v


@dataclass
class KVCache:
    """All layers' `KVCacheEntry`s plus the mask of cached positions. Build with `KVCache.empty`."""

    entries: list[KVCacheEntry]
    mask: Tensor  # [batch kv_pos] int64, 1 = real token

    @classmethod
    def empty(
        cls,
        cfg: TransformerConfig,
        batch: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        capacity: int = 0,
    ) -> "KVCache":
        """No cached positions yet; `capacity` preallocates room for that many (e.g. prompt +
        max_new_tokens in `generate`), beyond which the buffers grow by doubling."""
        shape = (batch, cfg.kv_heads, 0, cfg.d_head)
        entries = [
            KVCacheEntry(
                torch.empty(shape, device=device, dtype=dtype),
                torch.empty(shape, device=device, dtype=dtype),
                capacity,
            )
            for _ in range(cfg.n_layers)
        ]
        return cls(entries, torch.empty(batch, 0, dtype=torch.long, device=device))

    @property
    def length(self) -> int:
        """Number of cached positions (including left padding)."""
        return self.mask.shape[1]

    @property
    def batch(self) -> int:
        return self.mask.shape[0]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, layer: int) -> KVCacheEntry:
        return self.entries[layer]

    def full_mask(self, attention_mask: Shaped[Tensor, "batch _"] | None, n_new: int) -> Tensor:
        """The mask over cached + new positions. `attention_mask` may cover either all of them
        (`[batch, length + n_new]`, as HF expects) or only the new tokens (`[batch, n_new]`)."""
        if attention_mask is None:
            new = torch.ones(self.batch, n_new, dtype=torch.long, device=self.mask.device)
            return torch.cat([self.mask, new], dim=1)
        attention_mask = attention_mask.to(self.mask.device, torch.long)
        if attention_mask.shape[1] == self.length + n_new:
            return attention_mask
        if attention_mask.shape[1] == n_new:
            return torch.cat([self.mask, attention_mask], dim=1)
        raise ValueError(
            f"attention_mask has {attention_mask.shape[1]} columns; expected {n_new} (new tokens)"
            f" or {self.length + n_new} (cached + new)"
        )

    def select(self, index: Int[Tensor, " new_batch"]) -> "KVCache":
        """A cache whose batch rows are `index` (beam search reorders / repeats rows)."""
        entries = [KVCacheEntry(e.k[index], e.v[index]) for e in self.entries]
        return KVCache(entries, self.mask[index])

    def clone(self) -> "KVCache":
        return KVCache(
            [KVCacheEntry(e.k.clone(), e.v.clone()) for e in self.entries], self.mask.clone()
        )
