"""LoRA fine-tuning on chosen tokens only: teach a chat model its replies, not the user's turns.

A chat is one token sequence (the tokenizer's chat template), but only some tokens are what the
model should learn to produce, e.g. the assistant's replies. With a 0/1 mask m_t on the tokens to
learn, the loss is the next-token cross-entropy averaged over those tokens alone:

    loss = - sum_t m_{t+1} log p(x_{t+1} | x_0 .. x_t) / sum_t m_{t+1}

`chat_example` finds the reply spans by rendering the chat up to each assistant turn (with the
generation prompt) and up to the end of that turn: the tokens in between are the reply and its
end-of-turn token. Batches are right-padded, so pads come after every real token and a causal
model needs no attention mask; the pads' mask is 0.

`finetune_lora` trains the LoRA matrices of a model prepared with `apply_lora` (the base stays
frozen) with AdamW, linear warm-up, gradient clipping and a progress bar, and writes an atomic
checkpoint (adapters, optimiser, step, batch generator, losses) every `checkpoint_every` steps:
an interrupted run resumes where it stopped and ends with the same adapters as an uninterrupted one.

Used by day 50 (the taboo-game model organism) and the fine-tuning days 87-98.
"""

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from arena_core.alignment.lora import (
    LoRAError,
    load_lora_state_dict,
    lora_config,
    lora_modules,
    lora_parameters,
    lora_state_dict,
)
from arena_core.utils import load_checkpoint, progress, save_checkpoint


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 100  # optimiser steps
    batch_size: int = 8  # chats per step
    lr: float = 1e-3  # peak learning rate (LoRA tolerates larger ones than full fine-tuning)
    warmup_steps: int = 10  # linear warm-up from lr / warmup_steps to lr
    weight_decay: float = 0.0  # AdamW decay on A and B
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0  # max global gradient norm of the adapters (0: no clipping)
    checkpoint_every: int = 25  # steps between checkpoints (when a path is given)
    seed: int = 0  # seeds the batch draws


@dataclass
class ChatExample:
    """One chat as tokens, with `targets[t]` True where token t is to be learned."""

    tokens: list[int]
    targets: list[bool]


@dataclass
class FinetuneHistory:
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=False
    )
    return [int(t) for t in out]


def chat_example(
    tokenizer: Any, messages: list[dict[str, str]], roles: tuple[str, ...] = ("assistant",)
) -> ChatExample:
    """Tokens of `messages` (chat template) and the mask of the turns spoken by `roles`."""
    if not messages or not any(m["role"] in roles for m in messages):
        raise LoRAError(f"the chat has no {roles} turn to learn from")
    tokens = _ids(tokenizer, messages, generation_prompt=False)
    targets = [False] * len(tokens)
    for i, message in enumerate(messages):
        if message["role"] not in roles:
            continue
        start = len(_ids(tokenizer, messages[:i], generation_prompt=True)) if i else 0
        end = len(_ids(tokenizer, messages[: i + 1], generation_prompt=False))
        if _ids(tokenizer, messages[: i + 1], False) != tokens[:end]:
            raise LoRAError("the chat template does not render a chat as a prefix of its sequel")
        targets[start:end] = [True] * (end - start)
    return ChatExample(tokens, targets)


def collate(
    examples: Sequence[ChatExample], pad_id: int
) -> tuple[Int[Tensor, "batch pos"], Bool[Tensor, "batch pos"]]:
    """Right-padded tokens and target mask (pads are never targets)."""
    width = max(len(e.tokens) for e in examples)
    tokens = torch.full((len(examples), width), pad_id, dtype=torch.long)
    targets = torch.zeros((len(examples), width), dtype=torch.bool)
    for i, e in enumerate(examples):
        tokens[i, : len(e.tokens)] = torch.tensor(e.tokens)
        targets[i, : len(e.targets)] = torch.tensor(e.targets)
    return tokens, targets


def masked_lm_loss(
    logits: Float[Tensor, "batch pos d_vocab"],
    tokens: Int[Tensor, "batch pos"],
    targets: Bool[Tensor, "batch pos"],
) -> Float[Tensor, ""]:
    """Mean cross-entropy of predicting token t + 1 at position t, over targets[t + 1] only."""
    mask = targets[:, 1:]
    if not bool(mask.any()):
        raise LoRAError("no target tokens in this batch")
    nll = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten(), reduction="none"
    )
    mask = mask.flatten().to(nll.dtype)
    return (nll * mask).sum() / mask.sum()


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, examples: Sequence[ChatExample], pad_id: int, batch_size: int = 8
) -> float:
    """Target-token loss over `examples` (token-weighted mean over all batches)."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for b0 in range(0, len(examples), batch_size):
        tokens, targets = collate(examples[b0 : b0 + batch_size], pad_id)
        tokens, targets = tokens.to(device), targets.to(device)
        n = int(targets[:, 1:].sum())
        total += float(masked_lm_loss(model(tokens), tokens, targets)) * n
        count += n
    return total / count


def finetune_lora(
    model: nn.Module,
    examples: Sequence[ChatExample],
    cfg: FinetuneConfig,
    pad_id: int,
    checkpoint: str | Path | None = None,
    desc: str = "LoRA fine-tuning",
) -> FinetuneHistory:
    """Train the model's LoRA adapters on `examples`; resume from `checkpoint` when it exists."""
    params = lora_parameters(model)
    if not params:
        raise LoRAError("the model has no LoRA adapters: call apply_lora(model, ...) first")
    if any(m.merged or not m.enabled for _, m in lora_modules(model)):
        raise LoRAError("adapters are merged or disabled: unmerge_lora / set_lora_enabled first")
    if not examples:
        raise LoRAError("no training examples")
    if cfg.steps < 1 or cfg.batch_size < 1:
        raise LoRAError(f"steps and batch_size must be >= 1, got {cfg.steps}, {cfg.batch_size}")
    device = params[0].device
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    history, start = FinetuneHistory(), 0
    state = load_checkpoint(checkpoint) if checkpoint is not None else None
    if state is not None:
        if state["lora_config"] != lora_config(model) or state["cfg"] != asdict(cfg):
            raise LoRAError(f"checkpoint {checkpoint} was written for other settings")
        load_lora_state_dict(model, state["adapters"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        history, start = FinetuneHistory(**state["history"]), state["step"]
    model.train()
    t0 = time.perf_counter() - history.seconds
    for step in progress(range(start, cfg.steps), desc=desc, total=cfg.steps, initial=start):
        for group in opt.param_groups:  # linear warm-up, then constant
            group["lr"] = cfg.lr * min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
        idx = torch.randint(0, len(examples), (cfg.batch_size,), generator=gen).tolist()
        tokens, targets = collate([examples[i] for i in idx], pad_id)
        tokens, targets = tokens.to(device), targets.to(device)
        loss = masked_lm_loss(model(tokens), tokens, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        history.steps.append(step)
        history.loss.append(float(loss.detach()))
        history.seconds = time.perf_counter() - t0
        done = step + 1
        if checkpoint is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(
                {
                    "adapters": lora_state_dict(model),
                    "optimizer": opt.state_dict(),
                    "generator": gen.get_state(),
                    "history": asdict(history),
                    "step": done,
                    "lora_config": lora_config(model),
                    "cfg": asdict(cfg),
                },
                checkpoint,
            )
    model.eval()
    return history
