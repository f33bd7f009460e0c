"""A transcoder on every MLP of a model, trained once and cached: the parts of a replacement model.

Circuit tracing (Ameisen et al. 2025) replaces each MLP by a sparse, interpretable stand-in. Here
the stand-in is a per-layer transcoder (Dunefsky et al. 2024, `transcoder.py`): latent layer l reads
what MLP l reads — the RMS-normalised residual `blocks.{l}.ln2.hook_normalized` (before the norm's
gain, which the encoder absorbs) — and writes a prediction of `blocks.{l}.hook_mlp_out`:

    f = ReLU(x̂_l W_enc + b_enc),    mlp_out_l ≈ f W_dec + b_dec.

`transcoder_bank` trains all of them on the mixed offline corpus (`corpus.py`) and caches them
under `<ARENA_CACHE>/transcoders/<model>-<key>/layer_XX/` (SAELens format), with the same cache
key, lock and resume machinery as `pretrained.py`. The expensive part, running the model, happens
ONCE: a single pass over the corpus hooks every layer's input and output and appends them, chunk by
chunk, to one float16 memory map per layer (resumable); each layer is then trained from its own
file (a few hundred MB in RAM at a time) and saved before the next, so an interrupted run resumes
at the first unsaved layer. As in `pretrained.py`, position 0 (the attention sink) is dropped, and
so are rows whose output norm is above 10× the median; each layer trains on outputs scaled to mean
norm √d_model and the scale is folded back into the decoder, so the saved transcoders read the raw
normalised input and predict the raw MLP output. `meta.json` holds per-layer held-out FVE and L0.
"""

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from arena_core.models.paths import cache_root
from arena_core.sae.base import SAEConfig, SAEError
from arena_core.sae.corpus import Corpus, build_corpus, split_corpus
from arena_core.sae.evaluate import sae_stats
from arena_core.sae.pretrained import MASSIVE, cache_key, check_recipe, load_or_train
from arena_core.sae.saelens import load_saelens, save_saelens
from arena_core.sae.store import ActivationFile, ActivationStore
from arena_core.sae.training import TrainConfig, train_sae
from arena_core.sae.transcoder import Transcoder
from arena_core.sae.transcoder_circuits import mlp_hooks


@dataclass(frozen=True)
class TranscoderRecipe:
    expansion: int = 4  # d_sae = expansion x d_model (2304 for SmolLM2-135M)
    l1: float = 1.0  # L1 coefficient, on outputs scaled to mean norm sqrt(d_model)
    n_tokens: int = 40_000  # training tokens per layer (position 0 of each row dropped)
    held_rows: int = 8  # held-out rows for the per-layer metrics
    seq_len: int = 128
    epochs: int = 2
    batch: int = 256
    lr: float = 2e-3
    with_chat: bool = True
    seed: int = 0

    def __post_init__(self):
        check_recipe(self)


SMOKE_TRANSCODER_RECIPE = TranscoderRecipe(
    expansion=1, n_tokens=1500, held_rows=2, seq_len=64, epochs=1, with_chat=False
)


@dataclass
class TranscoderBank:
    transcoders: list[Transcoder]  # transcoders[l]: mlp_hooks(l) input (raw) -> output (raw)
    folder: Path
    meta: dict  # per-layer held-out fve / l0 / dead fraction, corpus, seconds, loaded_from_cache
    corpus: Corpus

    def __len__(self) -> int:
        return len(self.transcoders)

    def __getitem__(self, layer: int) -> Transcoder:
        return self.transcoders[layer]


@torch.no_grad()
def all_mlp_io(model, rows: list[list[int]], skip_first: int = 1) -> Tensor:
    """`[n_layers, n_tokens, 2 d_model]`: every MLP's normalised input and its output, side by
    side, for all tokens of equal-length `rows` (first `skip_first` positions dropped), in ONE
    forward pass."""
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    if not rows or len({len(r) for r in rows}) != 1:
        raise SAEError("rows must be a non-empty list of token lists of one length")
    got: dict[str, Tensor] = {}

    def grab(act, hook):
        got[hook.name] = act[:, skip_first:].reshape(-1, d).float()

    names = [mlp_hooks(lay) for lay in range(n_layers)]
    model.run_with_hooks(torch.tensor(rows), fwd_hooks=[(h, grab) for pair in names for h in pair])
    return torch.stack([torch.cat([got[h_in], got[h_out]], 1) for h_in, h_out in names])


def transcoder_bank(
    model, tokenizer, model_name: str, recipe: TranscoderRecipe = TranscoderRecipe(), log=print
) -> TranscoderBank:
    """Load the cached transcoders for (`model`, `recipe`), or train and cache them first."""
    if getattr(model.cfg, "attn_only", False) or "blocks.0.hook_mlp_out" not in model.hook_dict:
        raise SAEError("transcoders need a model with MLPs")
    key = cache_key(model, model_name, asdict(recipe) | {"kind": "mlp transcoders"})
    folder = cache_root() / "transcoders" / f"{model_name}-{key}"
    return load_or_train(
        folder,
        lambda: _load(folder, model.cfg.n_layers),
        lambda: _train(model, tokenizer, model_name, recipe, folder, log),
    )


def _load(folder: Path, n_layers: int) -> TranscoderBank:
    meta = json.loads((folder / "meta.json").read_text()) | {"loaded_from_cache": True}
    rows = json.loads((folder / "rows.json").read_text())
    corpus = Corpus(rows["rows"], rows["source"], rows["description"])
    tcs = [_load_layer(folder / f"layer_{i:02d}") for i in range(n_layers)]
    return TranscoderBank(tcs, folder, meta, corpus)


def _load_layer(path: Path) -> Transcoder:
    tc = load_saelens(path)
    if not isinstance(tc, Transcoder):
        raise SAEError(f"{path} does not hold a transcoder")
    return tc.eval()


def _collect(model, train: Corpus, folder: Path, log) -> list[ActivationFile]:
    """One pass over `train`, appending every layer's (input | output) to its float16 file."""
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    per_row = len(train.rows[0]) - 1
    files = [ActivationFile(folder / "acts" / f"layer_{i:02d}", len(train) * per_row, 2 * d,
                            folder.name, dtype=np.float16) for i in range(n_layers)]  # fmt: skip
    done = min(f.done for f in files) // per_row * per_row  # files resume together
    for f in files:
        f.rewind(done)
    if done < files[0].n_total:
        log(f"collecting MLP inputs/outputs of {n_layers} layers from row {done // per_row}")
    for r0 in range(done // per_row, len(train), 16):
        io = all_mlp_io(model, train.rows[r0 : r0 + 16])
        for f, x in zip(files, io, strict=True):
            f.append(x)
    return files


def _train(model, tokenizer, model_name, recipe, folder: Path, log) -> TranscoderBank:
    t0 = time.perf_counter()
    n_layers, d = model.cfg.n_layers, model.cfg.d_model
    n_train = -(-recipe.n_tokens // (recipe.seq_len - 1))
    corpus = build_corpus(tokenizer, n_train + recipe.held_rows, recipe.seq_len,
                          model=model if recipe.with_chat else None, seed=recipe.seed)  # fmt: skip
    if len(corpus) <= recipe.held_rows:
        raise SAEError(f"corpus has only {len(corpus)} rows; ask for fewer tokens")
    train, held = split_corpus(corpus, recipe.held_rows)
    log(f"training {n_layers} MLP transcoders for {model_name} on {corpus.description} (cached)")
    files = _collect(model, train, folder, log)
    held_io = all_mlp_io(model, held.rows)
    t_collect = time.perf_counter() - t0
    per_layer = []
    for i in range(n_layers):
        path = folder / f"layer_{i:02d}"
        if (path / "stats.json").exists():  # trained before an interruption
            per_layer.append(json.loads((path / "stats.json").read_text()))
            continue
        xy = torch.from_numpy(files[i].read()[:].astype(np.float32))
        stats = _train_layer(i, xy, held_io[i], recipe, d, path)
        per_layer.append(stats)
        log(f"layer {i}: held-out FVE {stats['fve']:.3f}, L0 {stats['l0']:.1f}")
    meta = {
        "model": model_name, "recipe": asdict(recipe), "corpus": corpus.description,
        "corpus_counts": corpus.counts(), "hooks": list(mlp_hooks(0)),
        "per_layer": per_layer, "collect_seconds": round(t_collect, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    (folder / "rows.json").write_text(json.dumps({"rows": corpus.rows, "source": corpus.source,
                                                  "description": corpus.description}))  # fmt: skip
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))  # written last: marks it done
    shutil.rmtree(folder / "acts", ignore_errors=True)
    log(f"{n_layers} transcoders trained in {meta['seconds']} s")
    bank = _load(folder, n_layers)
    bank.meta["loaded_from_cache"] = False
    return bank


def _train_layer(layer: int, xy: Tensor, held: Tensor, recipe, d: int, path: Path) -> dict:
    x, y = xy[:, :d], xy[:, d:]
    median = held[:, d:].norm(dim=1).median().item()
    keep = y.norm(dim=1) <= MASSIVE * median
    x, y = x[keep], y[keep]
    held = held[held[:, d:].norm(dim=1) <= MASSIVE * median]
    scale = d**0.5 / y.norm(dim=1).mean().clamp_min(1e-8).item()
    steps = max(1, recipe.epochs * len(x) // recipe.batch)
    cfg = SAEConfig(d_in=d, d_sae=recipe.expansion * d, d_out=d, l1_coeff=recipe.l1,
                    apply_b_dec_to_input=False)  # fmt: skip
    tc = Transcoder(cfg, seed=recipe.seed + layer)
    path.mkdir(parents=True, exist_ok=True)
    tcfg = TrainConfig(n_steps=steps, lr=recipe.lr, dead_window=10 * recipe.batch,
                       log_every=max(1, steps // 10), checkpoint=path / "train.pt",
                       checkpoint_every=max(1, steps // 3))  # fmt: skip
    store = ActivationStore(x, recipe.batch, 16384, targets=y * scale, seed=recipe.seed)
    train_sae(tc, iter(store), tcfg, desc=f"transcoder L{layer}", seed=recipe.seed)
    with torch.no_grad():  # fold the output scale into the decoder: predict raw outputs
        tc.W_dec.div_(scale)
        tc.b_dec.div_(scale)
    s = sae_stats(tc, held[:, :d], target=held[:, d:])
    stats = {"layer": layer, "fve": s.fve, "l0": s.l0, "dead_fraction": s.dead_fraction,
             "held_tokens": len(held), "train_tokens": len(x), "output_scale": scale,
             "steps": steps}  # fmt: skip
    save_saelens(tc, path, hook_name=mlp_hooks(layer)[1], model_name="")
    (path / "train.pt").unlink(missing_ok=True)
    (path / "stats.json").write_text(json.dumps(stats))
    return stats
