"""Mechanistic-interpretability tools that work on our models and on TransformerLens (days 34–62).

One concept per file; import from the submodule (`from arena_core.interp.logit_lens import ...`):

- `cache`       — run with a cache on our `CausalLM` or a TL `HookedTransformer`, same names;
                  TransformerLens loaded offline from a local HuggingFace directory
- `logit_lens`  — per-layer next-token predictions through the final norm
- `attribution` — residual-stream decomposition and direct logit attribution
- `ablation`    — zero- and mean-ablation of heads and neurons
- `patching`    — activation patching with hooks
- `patching_heads` — per head (z by position; q, k, v, pattern) and every-block sweeps, batched
- `patch_batch` — many patching cells in one forward pass (the engine under the sweeps)
- `path_patching` — path patching, sender heads -> receivers' q/k/v or the logits (day 53)
- `attribution_patching` — every activation patch estimated from one backward pass (day 54)
- `ioi_patching` — exact and attribution patching maps over IOI template batches (days 54–55)
- `head_roles`  — per-head IOI evidence: attention to IO/S, copy scores, DLA (day 54)
- `ioi_circuit` — the rules that turn that evidence into a role table (days 54–55)
- `circuit_eval` — faithfulness, completeness, minimality by mean-ablation (day 55)
- `suffix_patching` — patching the last positions of left-padded prompts, prefix KV-cached once
- `nnsight_ref` — the same interventions written with nnsight on the HF model (a reference)
- `detectors`   — previous-, current- and first-token head scores over a whole model
- `induction`   — repeated random tokens, induction scores, loss on the repeated half
- `circuits`    — QK and OV circuits, composition scores
- `neurons`     — max-activating examples and logit effects of MLP neurons
- `patchscopes` — a hidden state patched into an inspection prompt and decoded (day 49)
- `ioi`         — the IOI metric: logit[IO] − logit[S] at the last token, P(IO), accuracy,
                  summaries by template and order (days 52–58)

Nothing heavy is imported here (TransformerLens takes ~4 s to import).
"""
