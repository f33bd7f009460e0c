"""The balanced-bracket classifier trained here (day 59; day 60 studies how it works).

ARENA 1.5.1 loads a ready model; we train our own with the same shape: a bidirectional GPT-2-style
transformer (LayerNorm, learned positions, GELU MLP), 3 layers, d_model 56, 2 heads of width 28,
d_mlp 56, context 42, 5 input tokens (`arena_core.data.brackets`). The answer is read at the
[start] position (position 0) from an untied unembedding with 2 outputs (`d_vocab_out=2`, TL's
name; class 0 = unbalanced, 1 = balanced, ARENA's convention). Bidirectional attention lets
[start] read the whole string in every layer.

Training: Adam on cross-entropy at position 0, fresh batches of generated strings (never one of
the 5,000 held-out strings), the held-out accuracy measured every `eval_every` steps; training
stops at 100% or after `max_steps`. A training checkpoint (model, optimiser, data generator,
history) is written after each evaluation, so `resume=True` continues an interrupted run.

    from arena_core.models.bracket_classifier import load_bracket_classifier
    model = load_bracket_classifier()     # the committed checkpoint (< 1 MB)

Reproduce the committed checkpoint (seeded, one thread):

    python -m arena_core.models.bracket_classifier      # writes the committed checkpoint's path
"""

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from arena_core.data.brackets import N_CTX, VOCAB, BracketData, attention_mask
from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.gpt2 import GPT2
from arena_core.utils.checkpoint import load_checkpoint, save_checkpoint
from arena_core.utils.progress import progress

NAME = "bracket-classifier"
CHECKPOINT = Path(__file__).parent / "checkpoints" / "bracket_classifier.safetensors"


@dataclass(frozen=True)
class BracketRecipe:
    """Everything that determines the checkpoint (stored in its metadata)."""

    d_model: int = 56
    n_layers: int = 3
    n_heads: int = 2
    d_mlp: int = 56
    max_steps: int = 6000  # the budget; training stops earlier at 100% held-out accuracy
    batch_size: int = 128
    lr: float = 3e-3  # peak learning rate
    warmup_steps: int = 100  # linear warm-up, then a cosine decay to 0 at max_steps
    eval_every: int = 500  # steps between held-out evaluations (and checkpoints)
    n_test: int = 5000  # held-out strings
    seed: int = 0

    def model_config(self) -> TransformerConfig:
        return TransformerConfig(
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_head=self.d_model // self.n_heads,
            d_mlp=self.d_mlp,
            d_vocab=len(VOCAB),
            d_vocab_out=2,
            n_ctx=N_CTX,
            tie_embeddings=False,
            attention_dir="bidirectional",
            name=NAME,
        )


@dataclass
class BracketHistory:
    step: list[int] = field(default_factory=list)  # every training step
    train_loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0


def lr_at(step: int, recipe: BracketRecipe) -> float:
    """Linear warm-up to `lr`, then half a cosine down to 0 at `max_steps`."""
    warm = min(1.0, (step + 1) / max(1, recipe.warmup_steps))
    return recipe.lr * warm * 0.5 * (1 + math.cos(math.pi * step / recipe.max_steps))


def class_logits(model: GPT2, tokens: Int[Tensor, "batch n_ctx"]) -> Float[Tensor, "batch 2"]:
    """Logits (unbalanced, balanced) read at the [start] position, pad keys masked."""
    return model(tokens, attention_mask=attention_mask(tokens))[:, 0]


@torch.no_grad()
def evaluate(
    model: GPT2, tokens: Tensor, labels: Tensor, batch_size: int = 1000
) -> tuple[float, Tensor]:
    """Mean cross-entropy and the predicted classes over a token set (batched)."""
    was_training = model.training
    model.eval()
    logits = torch.cat([class_logits(model, t) for t in tokens.split(batch_size)])
    model.train(was_training)
    loss = torch.nn.functional.cross_entropy(logits, labels).item()
    return loss, logits.argmax(dim=-1)


def train_classifier(
    recipe: BracketRecipe = BracketRecipe(),
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    on_eval: Callable[[int, float], None] | None = None,
) -> tuple[GPT2, BracketHistory, BracketData]:
    """Train from scratch (seeded) or resume from `checkpoint_path`; stop at 100% held-out."""
    data = BracketData(seed=recipe.seed, n_test=recipe.n_test)
    torch.manual_seed(recipe.seed)
    model = GPT2(recipe.model_config())
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    history, start_step = BracketHistory(), 0
    state = load_checkpoint(checkpoint_path) if (resume and checkpoint_path) else None
    if state is not None:
        # the budget may grow between runs; everything else must match
        saved = {k: v for k, v in state["recipe"].items() if k != "max_steps"}
        if saved != {k: v for k, v in asdict(recipe).items() if k != "max_steps"}:
            raise ValueError("the checkpoint was written with another recipe; drop --resume")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        data.set_generator_state(state["data_generator"])
        history, start_step = BracketHistory(**state["history"]), state["step"]
    done = bool(history.test_accuracy) and history.test_accuracy[-1] == 1.0
    t0 = time.perf_counter() - history.seconds
    model.train()
    steps = range(start_step, recipe.max_steps)
    bar = progress(steps, desc="brackets", disable=not show_progress or None)
    for step in bar:
        if done:
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step, recipe)
        batch = data.train_batch(recipe.batch_size)
        loss = torch.nn.functional.cross_entropy(class_logits(model, batch.tokens), batch.labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history.step.append(step + 1)
        history.train_loss.append(loss.item())
        if (step + 1) % recipe.eval_every == 0 or step + 1 == recipe.max_steps:
            test_loss, pred = evaluate(model, data.test.tokens, data.test.labels)
            acc = (pred == data.test.labels).float().mean().item()
            history.eval_step.append(step + 1)
            history.test_loss.append(test_loss)
            history.test_accuracy.append(acc)
            history.seconds = time.perf_counter() - t0
            done = acc == 1.0
            if checkpoint_path is not None:
                save_checkpoint(
                    {
                        "recipe": asdict(recipe),
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "data_generator": data.generator_state(),
                        "history": asdict(history),
                        "step": step + 1,
                    },
                    checkpoint_path,
                )
            if on_eval is not None:  # after the checkpoint: a callback may stop the run
                on_eval(step + 1, acc)
    history.seconds = time.perf_counter() - t0
    return model.eval(), history, data


def save_bracket_classifier(
    model: GPT2, history: BracketHistory, recipe: BracketRecipe, out: str | Path = CHECKPOINT
) -> Path:
    """The weights as safetensors, with the config, recipe and final numbers as metadata."""
    from safetensors.torch import save_file

    info = {
        "recipe": asdict(recipe),
        "steps": history.step[-1] if history.step else 0,
        "test_accuracy": history.test_accuracy[-1] if history.test_accuracy else None,
        "train_seconds": history.seconds,
        "torch_threads": torch.get_num_threads(),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    metadata = {"config": json.dumps(asdict(model.cfg)), "info": json.dumps(info)}
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata)
    tmp.replace(out)
    return out


def load_bracket_classifier(path: str | Path | None = None) -> GPT2:
    """The committed (or a given) checkpoint as our bidirectional `GPT2`, in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"no bracket-classifier checkpoint at {path}; train one with "
            "`python -m arena_core.models.bracket_classifier --out PATH`"
        )
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = GPT2(TransformerConfig(**json.loads(meta["config"])), init=False)
    model.load_state_dict(load_file(str(path)))
    model.info = json.loads(meta["info"])
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--threads", type=int, default=1)
    for name, value in asdict(BracketRecipe()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = vars(parser.parse_args())
    out = args.pop("out")
    torch.set_num_threads(args.pop("threads"))
    recipe = BracketRecipe(**args)
    model, history, _ = train_classifier(recipe)
    save_bracket_classifier(model, history, recipe, out)
    print(json.dumps({"steps": history.step[-1], "test_accuracy": history.test_accuracy[-1],
                      "seconds": round(history.seconds, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
