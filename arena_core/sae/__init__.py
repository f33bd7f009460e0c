"""Sparse autoencoders trained here (days 45–50; circuits and transcoders for 56–58).

- `base.py` — the shared encode / sparse code / decode module and config;
- `relu.py` — ReLU + decoder-norm-weighted L1 (Anthropic 2023/24);
- `topk.py` — TopK (Gao et al. 2024);
- `jumprelu.py` — JumpReLU with straight-through threshold gradients (Rajamanoharan et al. 2024);
- `transcoder.py` — MLP input → MLP output (Dunefsky et al. 2024);
- `training.py` — Adam loop, LR warm-up/decay, dead-latent tracking and resampling;
- `store.py` — shuffled, buffered activation batches; resumable on-disk activation files;
- `evaluate.py` — L0, explained variance, densities, CE loss recovered;
- `synthetic.py` — planted sparse features and the mean-max-cosine recovery score;
- `saelens.py` — SAELens's `cfg.json` + `sae_weights.safetensors` format, both ways;
- `saelens_train.py` — the same ReLU SAE trained by SAELens's own `SAETrainer` on our batches;
- `corpus.py` — the offline training text (Shakespeare, stdlib Python, templated facts, the
  model's own chat replies), each row labelled with its source;
- `pretrained.py` — a residual SAE trained once per model and recipe, then loaded from the cache
  (the stand-in for SAELens's `from_pretrained`);
- `features.py`, `dashboard.py`, `autointerp.py` — latent statistics, self-contained HTML
  dashboards, explanations and the detection score (day 47);
- `monitor.py`, `interventions.py` — latents as concept monitors, decoder-row steering and
  latent ablation (day 48);
- `latent_gradients.py` — Jacobians between SAE latents at two layers, latent → logit and
  token → latent, and linear-vs-measured perturbation effects (day 56);
- `transcoder_circuits.py` — transcoders vs SAEs on one MLP: training, MLP splice CE, virtual
  weights and per-token Jacobians through the MLP (day 56);
- `transcoders.py` — a cached bank of transcoders, one per MLP, for attribution graphs (day 57);
- `splice.py`, `attribution.py` — the SAE spliced in with its error term, exact latent patches
  and mean ablations, and latent attribution patching (day 58).
"""

from arena_core.sae.base import SAE, SAEConfig, SAEError
from arena_core.sae.jumprelu import JumpReluSAE
from arena_core.sae.relu import ReluSAE
from arena_core.sae.topk import TopKSAE
from arena_core.sae.transcoder import Transcoder

__all__ = ["SAE", "JumpReluSAE", "ReluSAE", "SAEConfig", "SAEError", "TopKSAE", "Transcoder"]
