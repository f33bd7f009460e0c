"""A two-layer attention-only transformer trained here on Shakespeare characters (day 37 onwards).

Elhage et al. (2021, "A Mathematical Framework for Transformer Circuits") and Olsson et al. (2022,
"In-context Learning and Induction Heads") study attention-only models because their circuits can
be read off the weights: a previous-token head in layer 0 writes "the token before me was A" into
the residual stream; an induction head in layer 1 uses it (K-composition) to attend from the
current token B to whatever followed B last time, and copies it (its OV circuit). ARENA loads such
a model from the hub; offline we train our own, in a few minutes on a laptop CPU.

The model: GPT-2 style (LayerNorm, learned positions, untied unembedding), `attn_only=True`,
2 layers x 8 heads, d_model 128, context 128, one token per character (79 characters).

The data: windows of Shakespeare (`arena_core.data.shakespeare`, offline). In a fraction
`copy_prob` of the windows a span of 8–48 characters is copied to a later place in the same
window, and in `random_fraction` of those the span is first overwritten with random characters.
Natural text has repeats (speaker names, refrains) but few long ones, and bigram statistics
already predict most of a repeated word. Two first attempts formed no induction head at all:
natural copies only (context 256, 3,000 steps), and half the windows with a copy, half of those
random (context 256, 1,500 steps). With a copy in every window and context 128 (the recipe
below), one formed. A repeated random span can only be predicted by looking back, so it makes
"continue what was said before" worth learning. The induction score is then measured on
sequences made *only* of repeated random characters (40+40, no text around them), which the
model never saw in training.

    from arena_core.models import load_model
    lm = load_model("attn-only-2l")      # the committed checkpoint (<1 MB), no training needed

Reproduce the checkpoint (4,000 steps, seeded: 379 s on one core here, val loss 1.805):

    python -m arena_core.models.attn_only            # writes the committed checkpoint's path
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from jaxtyping import Int
from torch import Tensor

from arena_core.data.shakespeare import CharTokenizer, load_shakespeare
from arena_core.models.registry import LoadedModel
from arena_core.transformer.config import TransformerConfig
from arena_core.transformer.gpt2 import GPT2
from arena_core.transformer.training import TrainConfig, random_windows, train_lm

NAME = "attn-only-2l"
CHECKPOINT = Path(__file__).parent / "checkpoints" / "attn_only_2l.safetensors"


@dataclass(frozen=True)
class AttnOnlyRecipe:
    """Everything that determines the checkpoint (stored in its metadata)."""

    d_model: int = 128
    n_heads: int = 8
    n_ctx: int = 128
    steps: int = 4000
    batch_size: int = 32
    lr: float = 3e-3
    copy_prob: float = 1.0  # fraction of training windows that get a copied span
    random_fraction: float = 0.5  # of the copied spans, the fraction filled with random characters
    min_span: int = 8
    max_span: int = 48
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min_span <= self.max_span:
            raise ValueError(f"need 1 <= min_span <= max_span: {self.min_span}, {self.max_span}")
        if 2 * self.max_span > self.n_ctx:
            raise ValueError(
                f"a span and its copy must fit in one window: 2 * max_span ({2 * self.max_span}) "
                f"> n_ctx ({self.n_ctx})"
            )

    def model_config(self, d_vocab: int) -> TransformerConfig:
        return TransformerConfig(
            d_model=self.d_model,
            n_layers=2,
            n_heads=self.n_heads,
            d_head=self.d_model // self.n_heads,
            d_mlp=0,
            d_vocab=d_vocab,
            n_ctx=self.n_ctx,
            attn_only=True,
            tie_embeddings=False,
            name=NAME,
        )

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            seq_len=self.n_ctx,
            lr=self.lr,
            warmup_steps=100,
            eval_every=max(1, self.steps // 10),
            checkpoint_every=max(1, self.steps // 10),
            seed=self.seed,
        )


def windows_with_copies(
    data: Int[Tensor, " n"], recipe: AttnOnlyRecipe, generator: torch.Generator
) -> Int[Tensor, "batch pos"]:
    """Random windows; in a `copy_prob` fraction, a span [s, s+L) is pasted again at d >= s+L."""
    batch = random_windows(data, recipe.batch_size, recipe.n_ctx, generator)
    b, n = batch.shape
    copy = torch.rand(b, generator=generator) < recipe.copy_prob
    span = torch.randint(recipe.min_span, recipe.max_span + 1, (b,), generator=generator)
    # source start s in [0, n - 2L], destination d in [s + L, n - L]: uniform fractions keep it
    # vectorised and inside the window for every row.
    u, v = torch.rand(b, generator=generator), torch.rand(b, generator=generator)
    src = (u * (n - 2 * span + 1)).long()
    dst = src + span + (v * (n - src - 2 * span + 1)).long()
    offs = torch.arange(n)
    rel = offs[None, :] - dst[:, None]  # position inside the pasted span, if 0 <= rel < L
    inside = (rel >= 0) & (rel < span[:, None]) & copy[:, None]
    # some source spans are first overwritten with random characters: a repeat that only
    # induction can predict (no bigram statistics help), embedded in ordinary text
    rand = (torch.rand(b, generator=generator) < recipe.random_fraction)[:, None]
    noise = torch.randint(0, int(data.max()) + 1, (b, n), generator=generator)
    rel_src = offs[None, :] - src[:, None]
    in_src = (rel_src >= 0) & (rel_src < span[:, None]) & copy[:, None] & rand
    batch = torch.where(in_src, noise, batch)
    source_idx = torch.where(inside, src[:, None] + rel, offs[None, :])
    return batch.gather(1, source_idx)


def train_attn_only(
    recipe: AttnOnlyRecipe = AttnOnlyRecipe(),
    out: str | Path = CHECKPOINT,
    resume_path: str | Path | None = None,
    show_progress: bool = True,
) -> dict:
    """Train the model from scratch (seeded) and write the safetensors checkpoint to `out`."""
    from safetensors.torch import save_file

    train_text, val_text = load_shakespeare("train"), load_shakespeare("val")
    tokenizer = CharTokenizer.from_text(train_text.text)
    train = torch.tensor(tokenizer.encode(train_text.text))
    val = torch.tensor(tokenizer.encode(val_text.text))
    torch.manual_seed(recipe.seed)
    model = GPT2(recipe.model_config(tokenizer.vocab_size))
    start = time.perf_counter()
    history = train_lm(
        model,
        train,
        val,
        recipe.train_config(),
        checkpoint_path=resume_path,
        show_progress=show_progress,
        make_batch=lambda data, gen: windows_with_copies(data, recipe, gen),
    )
    info = {
        "recipe": asdict(recipe),
        "val_loss": history.val_loss[-1],
        "train_loss_last100": sum(history.train_loss[-100:]) / len(history.train_loss[-100:]),
        "train_seconds": time.perf_counter() - start,
        "torch_threads": torch.get_num_threads(),
        "data": f"Shakespeare characters ({train_text.source})",
    }
    metadata = {
        "config": json.dumps(asdict(model.cfg)),
        "chars": tokenizer.chars,
        "info": json.dumps(info),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata)
    tmp.replace(out)
    return info


def load_attn_only(
    path: str | Path | None = None, device: torch.device | str = "cpu"
) -> LoadedModel:
    """The committed (or a given) checkpoint as our `GPT2` with its character tokenizer."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"no attention-only checkpoint at {path}; train one with "
            "`python -m arena_core.models.attn_only --out PATH`"
        )
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = GPT2(TransformerConfig(**json.loads(meta["config"])), init=False)
    model.load_state_dict(load_file(str(path)))
    tokenizer = CharTokenizer(meta["chars"])
    model.tokenizer = tokenizer
    info = json.loads(meta["info"])
    source = (
        f"{NAME} trained by this project ({info['data']}; "
        f"val loss {info['val_loss']:.3f}; {path.name})"
    )
    return LoadedModel(model.to(device).eval(), tokenizer, source, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=CHECKPOINT)
    parser.add_argument("--resume", type=Path, default=None, help="training checkpoint to resume")
    parser.add_argument("--threads", type=int, default=1)
    for field, value in asdict(AttnOnlyRecipe()).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    args = vars(parser.parse_args())
    out, resume = args.pop("out"), args.pop("resume")
    torch.set_num_threads(args.pop("threads"))
    info = train_attn_only(AttnOnlyRecipe(**args), out, resume)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
