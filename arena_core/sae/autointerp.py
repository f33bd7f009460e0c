"""Auto-interpretation: a language model explains a latent, another context tests it (day 47).

Bills et al. (2023, "Language models can explain neurons in language models") let a model read a
neuron's top-activating texts and write an explanation, then scored it by *simulation*. Paulo et
al. (2024, "Automatically interpreting millions of features in LLMs") use cheaper scores; the
one here is their **detection** score: show the scorer the explanation and a held-out context
and ask whether the latent fires on it. A good explanation separates held-out activating
contexts from silent ones; a bad one does no better than chance.

1. `explainer_prompt`: the top contexts, the tokens where the latent is strongest marked
   `<<like this>>`, and a request for a short phrase; `explain` answers it greedily with a local
   model through `arena_core.transformer.generate` (batched, left-padded), or `api_explain` asks
   an API model — used only when `OPENAI_API_KEY` or `ANTHROPIC_API_KEY` is set.
2. `detection_prompt` + `yes_no_scores`: the scorer's answer is not sampled; one forward pass per
   batch reads the next-token logits, and the score of a context is

       s = logit("Yes") − logit("No") = log P(Yes) / P(No).

3. `detection_metrics`: accuracy of s > 0 (the scorer's own yes/no), balanced accuracy, and the
   AUROC of s, which does not depend on the scorer's bias towards one answer.

Baselines (the day script): each latent scored with another latent's explanation (a
derangement) and with one generic explanation. Real explanations should beat both.
"""

import json
import os
import urllib.request
from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.probes.activations import pad_batch
from arena_core.probes.metrics import auroc
from arena_core.sae.base import SAEError
from arena_core.transformer.generate import generate

SYSTEM = "You describe what features of a language model respond to."
EXPLAIN_ASK = (
    "Below are short texts. In each, the tokens where one hidden feature is most active are "
    "marked like <<this>>.\n\n{examples}\n\nWhat do the marked tokens have in common? Answer "
    "with one short phrase."
)
EXPLAIN_PREFILL = "The marked tokens are"
DETECT_ASK = (
    "A feature of a language model fires on: {explanation}.\nDoes it fire somewhere in the "
    'text below? Answer Yes or No.\nText: "{context}"'
)
GENERIC_EXPLANATION = "common words in ordinary text"


def mark_tokens(tokens: Sequence[str], acts: Sequence[float], threshold: float) -> str:
    """Concatenate `tokens`, wrapping each with activation >= `threshold` (> 0) in << >>."""
    if len(tokens) != len(acts):
        raise SAEError(f"{len(tokens)} tokens but {len(acts)} activations")
    if not threshold > 0:
        raise SAEError("the marking threshold must be positive")
    return "".join(f"<<{t}>>" if a >= threshold else t for t, a in zip(tokens, acts, strict=True))


def _chat(tokenizer, user: str, prefill: str = "") -> str:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return text + prefill


def explainer_prompt(examples: Sequence[str]) -> str:
    """The explainer's request for the marked example texts (a plain string, no template)."""
    if not examples:
        raise SAEError("the explainer needs at least one example")
    lines = "\n".join(f"{i + 1}. {e.strip()}" for i, e in enumerate(examples))
    return EXPLAIN_ASK.format(examples=lines)


def clean_explanation(text: str) -> str:
    """The generated phrase up to the first line break or full stop, without quotes."""
    line = text.strip().split("\n")[0].split(". ")[0].strip().rstrip(".").strip("\"' ")
    return line or "nothing in particular"


def explain(
    model,
    tokenizer,
    example_sets: Sequence[Sequence[str]],
    max_new_tokens: int = 24,
    batch_size: int = 16,
) -> list[str]:
    """One explanation per example set, greedy decoding by a local chat model."""
    prompts = [
        tokenizer(_chat(tokenizer, explainer_prompt(ex), EXPLAIN_PREFILL)).input_ids
        for ex in example_sets
    ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    stops = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    out: list[str] = []
    for i in range(0, len(prompts), batch_size):
        gen = generate(model, prompts[i : i + batch_size], max_new_tokens, stop_tokens=stops,
                       pad_token_id=pad)  # fmt: skip
        texts = tokenizer.batch_decode(gen.new_tokens, skip_special_tokens=True)
        out += [clean_explanation(t) for t in texts]
    return out


def api_source() -> str | None:
    """Which API explainer an environment key enables ("openai" / "anthropic"), or None."""
    if os.environ.get("OPENAI_API_KEY"):
        return "openai"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    return None


def _post(url: str, body: dict, headers: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def api_explain(example_sets: Sequence[Sequence[str]], model: str | None = None) -> list[str]:
    """Explanations from an API model (needs a key, see `api_source`, and the network)."""
    source = api_source()
    if source is None:
        raise SAEError("no API key set: export OPENAI_API_KEY or ANTHROPIC_API_KEY")
    out = []
    for ex in example_sets:
        ask = explainer_prompt(ex) + f' Start with "{EXPLAIN_PREFILL}".'
        if source == "openai":
            key = os.environ["OPENAI_API_KEY"]
            body = {"model": model or "gpt-4o-mini", "max_tokens": 60,
                    "messages": [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": ask}]}  # fmt: skip
            head = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            r = _post("https://api.openai.com/v1/chat/completions", body, head)
            text = r["choices"][0]["message"]["content"]
        else:
            key = os.environ["ANTHROPIC_API_KEY"]
            body = {"model": model or "claude-3-5-haiku-latest", "max_tokens": 60, "system": SYSTEM,
                    "messages": [{"role": "user", "content": ask}]}  # fmt: skip
            r = _post("https://api.anthropic.com/v1/messages", body,
                      {"x-api-key": key, "anthropic-version": "2023-06-01",
                       "content-type": "application/json"})  # fmt: skip
            text = r["content"][0]["text"]
        out.append(clean_explanation(text.replace(EXPLAIN_PREFILL, "", 1)))
    return out


def detection_prompt(tokenizer, explanation: str, context: str) -> tuple[list[int], list[int]]:
    """Token ids of the scorer's question as (prefix, suffix); the next token answers it.

    The prefix (template, explanation, question) is the same for every context scored against
    one explanation, so `yes_no_scores` can run it once and reuse its keys and values."""
    mark = "\x00"
    ask = DETECT_ASK.format(explanation=explanation.strip(), context=mark)
    head, tail = _chat(tokenizer, ask).split(mark)
    return tokenizer(head).input_ids, tokenizer(context.strip() + tail).input_ids


def answer_ids(tokenizer, yes: str = "Yes", no: str = "No") -> tuple[int, int]:
    """The single-token ids of the two answers (as the first token of a reply)."""
    ids = [tokenizer(w).input_ids for w in (yes, no)]
    if any(len(i) != 1 for i in ids):
        raise SAEError(f"answers {yes!r}/{no!r} are not single tokens for this tokenizer: {ids}")
    return ids[0][0], ids[1][0]


@torch.inference_mode()
def yes_no_scores(
    model, prefix: Sequence[int], suffixes: Sequence[Sequence[int]], yes_id: int, no_id: int,
    pad_id: int, batch_size: int = 32,
) -> Float[Tensor, " n"]:  # fmt: skip
    """logit(yes) − logit(no) after `prefix + suffix` for each suffix, not sampled.

    The shared prefix runs once (batch 1) into a `KVCache`; each batch of suffixes then runs on
    a copy of that cache, left-padded (the padding sits between prefix and suffix and is masked;
    positions count real tokens only), so each row's last token is in the last column and
    `last_only=True` gives the answer logits: one forward pass per batch."""
    from arena_core.transformer.kv_cache import KVCache

    if not prefix or not suffixes or any(len(p) == 0 for p in suffixes):
        raise SAEError("need a non-empty prefix and a non-empty list of non-empty suffixes")
    param = next(model.parameters())
    cache = KVCache.empty(model.cfg, batch=1, device=param.device, dtype=param.dtype)
    model(torch.tensor([list(prefix)], device=param.device), kv_cache=cache)
    order = sorted(range(len(suffixes)), key=lambda i: len(suffixes[i]))
    scores = torch.empty(len(suffixes))
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        tokens, mask = pad_batch([suffixes[j] for j in idx], pad_id, side="left")
        rows = cache.select(torch.zeros(len(idx), dtype=torch.long, device=param.device))
        logits = model(tokens.to(param.device), attention_mask=mask.to(param.device),
                       kv_cache=rows, last_only=True)[:, -1]  # fmt: skip
        scores[idx] = (logits[:, yes_id] - logits[:, no_id]).float().cpu()
    return scores


def detection_metrics(scores: Tensor, labels: Tensor) -> dict[str, float]:
    """Accuracy and balanced accuracy of `scores > 0`, and the AUROC of `scores`."""
    if scores.shape != labels.shape or scores.dim() != 1:
        raise SAEError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} differ")
    y = labels.bool()
    if y.all() or not y.any():
        raise SAEError("detection needs both activating and silent contexts")
    pred = scores > 0
    tpr = (pred & y).sum().item() / y.sum().item()
    tnr = (~pred & ~y).sum().item() / (~y).sum().item()
    return {
        "accuracy": float((pred == y).double().mean()),
        "balanced_accuracy": (tpr + tnr) / 2,
        "auroc": auroc(scores, y.long()),
        "yes_rate": float(pred.double().mean()),
    }
