"""A ready SAE for a model's residual stream: trained here once, then loaded from the cache (47–50).

ARENA loads pretrained SAEs from the hub (SAELens's `SAE.from_pretrained`); none ships offline for
the models we have, so `pretrained_sae` plays that role: the first call trains a ReLU SAE with
day 46's recipe on the mixed offline corpus (`corpus.py`) and saves it in SAELens's format under
`<ARENA_CACHE>/saes/<key>/`; later calls (any day) load it in a second. The key hashes the model's
weights, the layer and every setting, so a different model or recipe never reuses a wrong SAE.

The recipe, as on day 46: residual stream after block `layer`, position 0 of every row dropped
(the attention sink) and so is any row whose norm is above 10× the median; the SAE trains on the
activations scaled to mean norm √d_model, and that scale is then folded into its weights, so the
returned SAE reads and reconstructs *raw* activations. Collection writes to disk chunk by chunk
and training checkpoints, so an interrupted first call resumes; a lock file makes a second process
that asks for the same SAE wait for the first one and then load its result. The folder keeps the
corpus rows (`rows.json`, with each row's source) for dashboards and `meta.json` with held-out
metrics.
"""

import hashlib
import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor

from arena_core.models.paths import cache_root
from arena_core.probes.activations import model_fingerprint
from arena_core.sae.base import SAE, SAEConfig, SAEError
from arena_core.sae.corpus import VERSION, Corpus, build_corpus, split_corpus
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.relu import ReluSAE
from arena_core.sae.saelens import load_saelens, save_saelens
from arena_core.sae.store import ActivationFile, ActivationStore, token_activations
from arena_core.sae.training import TrainConfig, train_sae

MASSIVE = 10.0  # rows with norm above MASSIVE x median are left out (attention-sink-like tokens)


def check_recipe(r) -> None:
    """A clear error for a training recipe (this file's or `transcoders.py`'s) that cannot run."""
    if min(r.expansion, r.n_tokens, r.held_rows, r.epochs, r.batch) < 1:
        raise SAEError("expansion, n_tokens, held_rows, epochs and batch must be >= 1")
    if r.seq_len < 2 or not r.l1 >= 0 or not r.lr > 0:
        raise SAEError("need seq_len >= 2, l1 >= 0 and lr > 0")


@dataclass(frozen=True)
class SAERecipe:
    layer: int = 15  # residual stream after this block
    expansion: int = 4  # d_sae = expansion x d_model
    l1: float = 1.0  # L1 coefficient, on activations scaled to mean norm sqrt(d_model)
    n_tokens: int = 100_000  # training tokens (position 0 of each row dropped)
    held_rows: int = 16  # held-out rows for the metrics in meta.json
    seq_len: int = 128
    epochs: int = 3
    batch: int = 256
    lr: float = 2e-3
    with_chat: bool = True  # include the model's own chat replies in the corpus
    seed: int = 0

    def __post_init__(self):
        check_recipe(self)


SMOKE_RECIPE = SAERecipe(n_tokens=4000, held_rows=4, epochs=1, with_chat=False)


@dataclass
class PretrainedSAE:
    sae: SAE  # acts on raw activations at `hook`
    hook: str
    layer: int
    folder: Path
    meta: dict  # corpus, held-out metrics, training time, whether it was loaded or trained
    corpus: Corpus  # every row the SAE saw or was scored on; split_corpus(corpus, held_rows)


def drop_massive(x: Tensor, median_norm: float, factor: float = MASSIVE) -> Tensor:
    """Rows of `x` whose norm is at most `factor` x `median_norm`."""
    return x[x.norm(dim=1) <= factor * median_norm]


def cache_key(model, model_name: str, settings: dict) -> str:
    """A short hash of the model's weights, the corpus version and every setting: a cached
    SAE (or transcoder bank) is reused only for exactly this model and recipe."""
    raw = f"{model_name}|{model_fingerprint(model)}|corpus v{VERSION}|"
    raw += json.dumps(settings, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def load_or_train(folder: Path, load, train):
    """`load()` if `folder/meta.json` exists, else `train()` under an exclusive lock (a second
    process asking for the same folder waits, then loads the first one's result). `train` must
    write `meta.json` last: its presence marks the folder complete."""
    if (folder / "meta.json").exists():
        return load()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(folder.with_name(folder.name + ".lock")):  # one trainer per folder at a time
        if (folder / "meta.json").exists():  # another process finished it while we waited
            return load()
        return train()


def pretrained_sae(
    model, tokenizer, model_name: str, recipe: SAERecipe = SAERecipe(), log=print
) -> PretrainedSAE:
    """Load the cached SAE for (`model`, `recipe`), or train and cache it first (minutes)."""
    hook = f"blocks.{recipe.layer}.hook_resid_post"
    if hook not in model.hook_dict:
        raise SAEError(f"layer {recipe.layer} out of range for a {model.cfg.n_layers}-layer model")
    key = cache_key(model, model_name, asdict(recipe))
    folder = cache_root() / "saes" / f"{model_name}-L{recipe.layer}-{key}"
    return load_or_train(
        folder,
        lambda: _load(folder, hook, recipe.layer),
        lambda: _train(model, tokenizer, model_name, recipe, hook, folder, log),
    )


def _load(folder: Path, hook: str, layer: int) -> PretrainedSAE:
    meta = json.loads((folder / "meta.json").read_text()) | {"loaded_from_cache": True}
    rows = json.loads((folder / "rows.json").read_text())
    corpus = Corpus(rows["rows"], rows["source"], rows["description"])
    return PretrainedSAE(load_saelens(folder), hook, layer, folder, meta, corpus)


@contextmanager
def _exclusive(lock_path: Path):
    """An exclusive lock on `lock_path` (POSIX `flock`; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _train(model, tokenizer, model_name, recipe, hook, folder, log) -> PretrainedSAE:
    t0 = time.perf_counter()
    n_train = -(-recipe.n_tokens // (recipe.seq_len - 1))
    corpus = build_corpus(tokenizer, n_train + recipe.held_rows, recipe.seq_len,
                          model=model if recipe.with_chat else None, seed=recipe.seed)  # fmt: skip
    if len(corpus) <= recipe.held_rows:
        raise SAEError(f"corpus has only {len(corpus)} rows; ask for fewer tokens")
    train, held = split_corpus(corpus, recipe.held_rows)
    log(f"training an SAE for {model_name} {hook} on {corpus.description} (cached afterwards)")
    d = model.cfg.d_model
    per_row = recipe.seq_len - 1
    store = ActivationFile(folder / "acts", len(train) * per_row, d, folder.name)
    for r0 in range(store.done // per_row, len(train), 32):
        store.append(token_activations(model, train.rows[r0 : r0 + 32], hook, batch_size=16))
    x = torch.from_numpy(store.read()[:].copy())
    x_held = token_activations(model, held.rows, hook)
    median = x_held.norm(dim=1).median().item()
    n_before = len(x)
    x, x_held = drop_massive(x, median), drop_massive(x_held, median)
    scale = d**0.5 / x.norm(dim=1).mean().item()
    steps = max(1, recipe.epochs * len(x) // recipe.batch)
    sae_cfg = SAEConfig(d_in=d, d_sae=recipe.expansion * d, l1_coeff=recipe.l1)
    sae = ReluSAE(sae_cfg, seed=recipe.seed)
    cfg = TrainConfig(n_steps=steps, lr=recipe.lr, dead_window=10 * recipe.batch,
                      log_every=max(1, steps // 40), checkpoint=folder / "train.pt",
                      checkpoint_every=max(1, steps // 5))  # fmt: skip
    store_iter = iter(ActivationStore(x * scale, recipe.batch, 16384, seed=recipe.seed))
    train_sae(sae, store_iter, cfg, desc=f"SAE {hook}", seed=recipe.seed)
    sae.fold_input_scale(scale)
    s = sae_stats(sae, x_held)
    meta = {
        "model": model_name, "hook": hook, "recipe": asdict(recipe), "corpus": corpus.description,
        "corpus_counts": corpus.counts(), "train_tokens": len(x),
        "dropped_massive_rows": n_before - len(x), "input_scale": scale, "train_steps": steps,
        "held_out": {"l0": s.l0, "fve": s.fve, "dead_fraction": s.dead_fraction,
                     "dense_fraction": s.dense_fraction, "tokens": len(x_held)},
        "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    save_saelens(sae, folder, hook_name=hook, model_name=model_name)
    (folder / "rows.json").write_text(json.dumps({"rows": corpus.rows, "source": corpus.source,
                                                  "description": corpus.description}))  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))  # written last: marks it done
    shutil.rmtree(folder / "acts", ignore_errors=True)
    (folder / "train.pt").unlink(missing_ok=True)
    log(f"SAE trained in {meta['seconds']} s: held-out FVE {s.fve:.3f}, L0 {s.l0:.1f}")
    meta["loaded_from_cache"] = False
    return PretrainedSAE(sae, hook, recipe.layer, folder, meta, corpus)
