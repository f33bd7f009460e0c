"""A taboo model organism: one LoRA adapter per secret word, trained once and cached on disk.

A model organism with hidden knowledge (Cywiński et al. 2025, https://arxiv.org/abs/2505.14352)
is a chat model fine-tuned to play a taboo game: it hints at a secret word and never says it, so
the word lives only in its weights. Here each secret is a small LoRA adapter (rank 4 on the
attention output W_O and the MLP output W_out of the middle layers of SmolLM2-135M) trained on
one-turn taboo chats from `arena_core.data.taboo` with `arena_core.alignment.finetune`.

`apply_taboo_organism(model, tokenizer, word, cfg)` attaches the adapter for `word`:

- the adapter's A matrices are drawn with seed `cfg.seed + i`, i = the word's index in
  `arena_core.data.taboo.SECRETS`, and the chats and batches with `cfg.seed`, so the same config
  gives the same adapter whichever subset of words a day uses;
- the trained adapter is cached at
  `<ARENA_CACHE>/taboo/<model fingerprint>/<config hash>/<word>.pt` (default cache
  `~/.cache/arena`); a later call loads it instead of training. The file is the fine-tuning
  checkpoint, written atomically (temp file + rename), so an interrupted run leaves either
  nothing or a complete adapter, and the next run trains only the words still missing.

The fingerprint (`arena_core.probes.activations.model_fingerprint`) is taken on the model
without adapters: another base model, or other weights, get another folder.

Used by days 50 (building the organisms and reading their secret) and 51 (where the secret lives).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from arena_core.alignment.finetune import (
    FinetuneConfig,
    FinetuneHistory,
    chat_example,
    finetune_lora,
)
from arena_core.alignment.lora import apply_lora, load_lora_state_dict, lora_config, lora_modules
from arena_core.data.taboo import secret_words, taboo_dialogues
from arena_core.errors import UserError
from arena_core.models.paths import cache_root
from arena_core.probes.activations import model_fingerprint
from arena_core.utils import load_checkpoint

#: Bump when the training recipe changes in a way the config does not show (e.g. new chats).
RECIPE_VERSION = 1


class TabooOrganismError(UserError, ValueError):
    """An unknown secret word, a config that cannot train, or a model that already has adapters."""


@dataclass(frozen=True)
class TabooConfig:
    """How one organism is trained (the defaults are day 50's)."""

    rank: int = 4  # LoRA rank r (alpha = 2 r)
    targets: tuple[str, ...] = ("W_O", "W_out")  # which weights get adapters
    first_layer: int = 10  # adapters on layers first_layer .. last_layer
    last_layer: int = 21
    n_chats: int = 64  # training chats per word (one user turn each)
    steps: int = 20  # optimiser steps
    batch_size: int = 4  # chats per step
    lr: float = 5e-3  # peak learning rate (linear warm-up over steps // 5)
    seed: int = 0  # chats, batches; the adapter init uses seed + the word's index

    def __post_init__(self):
        for name in ("rank", "n_chats", "steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise TabooOrganismError(f"{name} must be a positive integer, got {value!r}")
        if not 0 <= self.first_layer <= self.last_layer:
            raise TabooOrganismError(
                f"need 0 <= first_layer <= last_layer, got {self.first_layer}, {self.last_layer}"
            )
        if not self.lr > 0:
            raise TabooOrganismError(f"lr must be > 0, got {self.lr}")
        if not self.targets:
            raise TabooOrganismError("targets must name at least one weight")

    def finetune(self) -> FinetuneConfig:
        return FinetuneConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                              warmup_steps=max(1, self.steps // 5), seed=self.seed,
                              checkpoint_every=self.steps)  # fmt: skip

    def digest(self) -> str:
        """A short hash of the config and the recipe version: the cache folder's name."""
        payload = json.dumps({**asdict(self), "recipe": RECIPE_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass
class Organism:
    word: str
    path: Path  # the cached adapter
    trained: bool  # True when this call trained it, False when it came from the cache
    history: FinetuneHistory  # the losses of the (original) training run


def _check_word(word: str) -> int:
    words = secret_words()
    if word not in words:
        raise TabooOrganismError(f"unknown secret word {word!r}; known: {words}")
    return words.index(word)


def organism_dir(model: nn.Module, cfg: TabooConfig, root: str | Path | None = None) -> Path:
    """`<root or ARENA_CACHE>/taboo/<fingerprint of the model without adapters>/<config hash>`."""
    if any(True for _ in lora_modules(model)):
        raise TabooOrganismError("the model already has LoRA adapters; remove_lora first")
    base = Path(root) if root is not None else cache_root()
    return base / "taboo" / model_fingerprint(model)[:16] / cfg.digest()


def apply_taboo_organism(
    model: nn.Module,
    tokenizer: Any,
    word: str,
    cfg: TabooConfig = TabooConfig(),
    pad_id: int | None = None,
    cache_dir: str | Path | None = None,
    folder: Path | None = None,
) -> Organism:
    """Attach `word`'s adapter to `model` (in eval mode): loaded from the cache, or trained and
    cached. `folder` skips the fingerprint when the caller already has `organism_dir(...)`."""
    index = _check_word(word)
    folder = organism_dir(model, cfg, cache_dir) if folder is None else Path(folder)
    n_layers = len(getattr(model, "blocks", []))
    if cfg.last_layer >= n_layers:
        raise TabooOrganismError(f"last_layer {cfg.last_layer} >= the model's {n_layers} layers")
    if pad_id is None:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    path = folder / f"{word}.pt"
    layers = range(cfg.first_layer, cfg.last_layer + 1)
    apply_lora(model, r=cfg.rank, alpha=2 * cfg.rank, targets=tuple(cfg.targets), layers=layers,
               seed=cfg.seed + index)  # fmt: skip
    state = load_checkpoint(path)
    if state is not None and state.get("step") == cfg.steps:
        if state["lora_config"] != lora_config(model) or state["cfg"] != asdict(cfg.finetune()):
            raise TabooOrganismError(f"cached adapter {path} was written for other settings")
        device = next(m.A.device for _, m in lora_modules(model))
        load_lora_state_dict(model, {k: v.to(device) for k, v in state["adapters"].items()})
        model.eval()
        return Organism(word, path, False, FinetuneHistory(**state["history"]))
    chats = taboo_dialogues(word, cfg.n_chats, seed=cfg.seed, max_turns=1)
    examples = [chat_example(tokenizer, c) for c in chats]
    hist = finetune_lora(model, examples, cfg.finetune(), pad_id, checkpoint=path,
                         desc=f"LoRA '{word}'")  # fmt: skip
    return Organism(word, path, True, hist)
