"""Linear probes, directions and interventions on our models (days 39–44).

One concept per file; import from the submodule (`from arena_core.probes.logistic import ...`):

- `activations` — batched extraction at chosen hooks/positions; resumable on-disk cache
- `directions`  — mass-mean directions, plain and covariance-corrected (Marks & Tegmark 2023)
- `logistic`    — L2 logistic-regression probe, Newton in float64 (scikit-learn's objective)
- `metrics`     — AUROC with ties, accuracy at a threshold
- `pca`         — principal components of activations
- `sweeps`      — layer sweeps, generalisation matrices and their plots
- `steering`    — activation addition at a hook point (Turner et al. 2023)
- `confounds`   — confounded training sets, feature directions with the label balanced out
- `controls`    — control tasks and selectivity (Hewitt & Liang 2019), splits by word type
- `shift`       — accuracy vs AUROC vs calibration under a distribution shift
- `spans`       — activations averaged over a span of each prompt (a chat reply)
- `bag_of_words` — word-count logistic regression, the black-box baseline of day 40
- `icl`         — few-shot / shuffled-label / zero-shot prompts, first-token accuracy
- `function_vectors` — head outputs, causal indirect effect, function vectors (Todd et al. 2023)
- `head_maps`   — layer × head heat maps and the agreement of two head rankings
- `activation_addition` — contrast vectors, steered generation and its fluency cost (day 44)

Nothing heavy is imported here.
"""
