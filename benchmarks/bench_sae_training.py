"""SAE training throughput: ours (`train_sae`) vs SAELens's `SAETrainer` (day 46).

Run:  python benchmarks/bench_sae_training.py [--threads N] [--rounds R] [--tiny]
Tokens/s of training a ReLU SAE (width 4 x d_model, L1 0.3 on activations scaled to unit mean
norm) on SmolLM2-135M-Instruct's residual stream at `blocks.15.hook_resid_post` (position 0
dropped), fp32, Adam at lr 1e-3, batch 1024:
- ours: `arena_core.sae.training.train_sae` (unit-norm decoder, dead-latent counters, logging);
- ours with SAELens's recipe (free decoder rows, gradient clipped at norm 1): the same
  arithmetic as SAELens's step, so the like-for-like comparison of the two loops;
- SAELens 6.x: `SAETrainer.fit()` with a `StandardTrainingSAE` that starts from the same weights
  (`arena_core.sae.saelens_train`), fed through its `data_provider` seam, W&B off.
Both train from scratch (fresh optimiser) for the same steps on the same pre-built list of
batches, in interleaved rounds (`arena_core.utils.compare`), medians; the goal is ours >= 1.0x.
`--tiny` uses random data and a toy width (a smoke check that the script runs; no model load).
"""

import argparse
import os
import sys
from dataclasses import replace

os.environ.setdefault("TQDM_DISABLE", "1")  # SAELens's bar, read when tqdm is imported

import torch  # noqa: E402

from arena_core.sae import ReluSAE, SAEConfig
from arena_core.sae.saelens_train import saelens_relu_twin, saelens_trainer
from arena_core.sae.training import TrainConfig, train_sae
from arena_core.utils import compare

HOOK, LAYER = "blocks.15.hook_resid_post", 15
SEQ_LEN, N_SEQ = 64, 128


def smollm2_activations() -> torch.Tensor:
    """~8k residual-stream rows at layer 15 from fact-dataset prompts joined into 64-token rows."""
    from arena_core.data.facts import load_dataset
    from arena_core.models import load_model
    from arena_core.sae.store import token_activations

    lm = load_model("smollm2-135m")
    text = " ".join(p for name in ("cities", "capitals", "larger_than", "antonyms")
                    for p in load_dataset(name, seed=0).prompts)  # fmt: skip
    ids = lm.tokenizer(text)["input_ids"]
    rows = [ids[i : i + SEQ_LEN] for i in range(0, N_SEQ * SEQ_LEN, SEQ_LEN)]
    rows = [r for r in rows if len(r) == SEQ_LEN]
    return token_activations(lm.model, rows, HOOK, batch_size=16, skip_first=1)


def main(argv: list[str]) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="training steps per timed call")
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.tiny:
        x, batch, mult, a.steps, a.rounds = torch.randn(512, 32), 64, 2, 3, 1
    else:
        x, batch, mult = smollm2_activations(), 1024, 4
    x = x / x.norm(dim=1).mean()  # unit mean norm, as the day's script trains
    d = x.shape[1]
    gen = torch.Generator().manual_seed(0)
    batches = [x[torch.randint(len(x), (batch,), generator=gen)] for _ in range(a.steps)]
    cfg = TrainConfig(n_steps=a.steps, lr=1e-3, log_every=a.steps)
    init = ReluSAE(SAEConfig(d_in=d, d_sae=mult * d, l1_coeff=0.3), seed=0)

    def ours():
        sae = ReluSAE(init.cfg, seed=0)
        train_sae(sae, iter(batches), cfg, desc="ours")

    def ours_saelens_recipe():
        sae = ReluSAE(init.cfg, seed=0)
        twin_cfg = replace(cfg, unit_norm_decoder=False, grad_clip=1.0)
        train_sae(sae, iter(batches), twin_cfg, desc="ours, SAELens recipe")

    def saelens():
        twin = saelens_relu_twin(init, warmup_steps=max(1, round(0.05 * a.steps)))
        saelens_trainer(twin, iter(batches), cfg, batch).fit()

    fns = {"ours": ours, "ours (SAELens recipe)": ours_saelens_recipe, "SAELens": saelens}
    res = compare(fns, reference="ours", rounds=a.rounds)
    tok = {n: a.steps * batch / t for n, t in res.medians.items()}
    print(f"\n== SAE training, {len(x)} activation rows of width {d}, SAE width {mult * d}, "
          f"batch {batch}, {a.steps} steps per call, {a.threads} thread(s), "
          f"{a.rounds} interleaved rounds, torch {torch.__version__} ==")  # fmt: skip
    print(res.table())
    print(f"{'':22s} {'tokens/s':>10s}")
    for n, v in tok.items():
        print(f"{n:22s} {v:10.0f}")
    ratio = tok["ours"] / tok["SAELens"]
    same_recipe = tok["ours (SAELens recipe)"] / tok["SAELens"]
    print(f"ours / SAELens (goal >= 1.0x): {ratio:.2f}x")
    print(f"ours with SAELens's recipe / SAELens: {same_recipe:.2f}x")
    return {"tokens_per_s": tok, "ratio": ratio, "ratio_same_recipe": same_recipe}


if __name__ == "__main__":
    main(sys.argv[1:])
