"""From per-head evidence to a table of IOI roles: the circuit of days 54 and 55, in one place.

Day 54 derives the circuit and publishes it; day 55 evaluates it. Both call `derive_ioi_circuit`
with the same `RoleRules`, so the rules that turn evidence into roles exist once (day 55 reads
the published table when it exists, and runs this function itself when it does not).

Rules (Wang et al. 2022 name the classes; the thresholds are ours, chosen for a 30-layer model
where attention to one name token above 0.3 is far above chance (~0.07 over 15 tokens)):
- *direct heads*: |DLA on W_U[IO] − W_U[S] at END| >= `dla_min` logits. By where they look at END:
  mostly to IO and DLA > 0 -> "name mover"; to IO and DLA < 0 -> "negative name mover"; mostly to
  S1 + S2 and DLA > 0 -> "S suppressor" (attends to the subject and writes against it: a role
  GPT-2's circuit has no class for); neither name above `att_min` -> "other direct";
- "S-inhibition": earlier than the first name mover, END -> S2 attention >= `sinh_att_min`, and
  path patching its output (abc prompts) into the queries of the name movers and S suppressors
  changes the logit difference by >= `path_min` of the clean value;
- "induction" S2 -> S1+1 >= `induction_min`; "duplicate-token" S2 -> S1 >= `duplicate_min`;
  "previous-token" S1+1 -> S1 >= `prev_min`; all three earlier than the first S-inhibition head
  (or name mover), at most `max_per_role` per class, strongest first. These three are chosen by
  their patterns; their causal weight is what day 55's knock-outs and minimality measure.
Each role acts at a position class (`ROLE_POSITIONS`), as in the paper's (head, position) pairs.
"""

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from arena_core.interp.head_roles import HeadEvidence, copy_scores, head_evidence
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.patching import logit_diff
from arena_core.interp.path_patching import path_patch_sweep

Head = tuple[int, int]
DIRECT = ("name mover", "negative name mover", "S suppressor", "other direct")
ROLES = (*DIRECT, "S-inhibition", "induction", "duplicate-token", "previous-token")
ROLE_POSITIONS = {
    **{role: ("end",) for role in DIRECT},
    "S-inhibition": ("end",),
    "induction": ("S2",),
    "duplicate-token": ("S2",),
    "previous-token": ("S1+1",),
}


@dataclass(frozen=True)
class RoleRules:
    dla_min: float = 0.2  # |DLA| (logits) for a direct head
    att_min: float = 0.3  # END attention to a name for a (negative) name mover / S suppressor
    sinh_att_min: float = 0.2  # END -> S2 attention of an S-inhibition candidate
    path_min: float = 0.03  # |path-patching change| / clean LD for S-inhibition
    induction_min: float = 0.3
    duplicate_min: float = 0.4
    prev_min: float = 0.5
    max_per_role: int = 4


def _heads(mask: Tensor, score: Tensor, limit: int | None = None) -> list[Head]:
    idx = torch.nonzero(mask)
    found = sorted(((int(a), int(b)) for a, b in idx), key=lambda h: -float(score[h]))
    return found[:limit] if limit is not None else found


def direct_roles(ev: HeadEvidence, rules: RoleRules) -> dict[str, list[Head]]:
    """Direct heads split by sign of DLA and by which name they attend to from END."""
    big = ev.dla.abs() >= rules.dla_min
    to_io, to_s = ev.end_to_io, ev.end_to_s1 + ev.end_to_s2
    looks_io = (to_io >= rules.att_min) & (to_io > to_s)
    looks_s = (to_s >= rules.att_min) & (to_s > to_io)
    mag = ev.dla.abs()
    return {
        "name mover": _heads(big & looks_io & (ev.dla > 0), mag),
        "negative name mover": _heads(big & looks_io & (ev.dla < 0), mag),
        "S suppressor": _heads(big & looks_s & (ev.dla > 0), mag),
        "other direct": _heads(big & ~looks_io & ~(looks_s & (ev.dla > 0)), mag),
    }


def sinh_candidates(ev: HeadEvidence, before: int, rules: RoleRules) -> list[Head]:
    mask = ev.end_to_s2 >= rules.sinh_att_min
    mask[before:] = False
    return _heads(mask, ev.end_to_s2)


def assign_roles(
    ev: HeadEvidence, path_effect: Tensor | None, clean_ld: float, rules: RoleRules
) -> dict[str, list[Head]]:
    """The role table (module docstring). `path_effect[l, h]`: LD change when head (l, h) is
    path-patched into the movers' queries (NaN/None: not measured -> not S-inhibition)."""
    roles = direct_roles(ev, rules)
    movers = roles["name mover"] + roles["S suppressor"]
    first = min((layer for layer, _ in movers), default=ev.dla.shape[0])
    sinh = []
    if path_effect is not None:
        rel = (path_effect / abs(clean_ld)).abs().nan_to_num(0.0)
        sinh = [h for h in sinh_candidates(ev, first, rules) if rel[h] >= rules.path_min]
    roles["S-inhibition"] = sinh
    early = min((layer for layer, _ in sinh), default=first)
    for role, grid, t in (("induction", ev.s2_to_s1p1, rules.induction_min),
                          ("duplicate-token", ev.s2_to_s1, rules.duplicate_min),
                          ("previous-token", ev.s1p1_to_s1, rules.prev_min)):  # fmt: skip
        mask = grid >= t
        mask[early:] = False
        roles[role] = _heads(mask, grid, rules.max_per_role)
    return roles


def mean_ld(model, batches: list[TemplateBatch]) -> float:
    """Prompt-weighted mean logit difference over the batches (no hooks)."""
    with torch.no_grad():
        vals = [logit_diff(model(b.tokens, last_only=True), b.answers).item() * len(b.idx)
                for b in batches]  # fmt: skip
    return sum(vals) / sum(len(b.idx) for b in batches)


def path_sweep(
    model,
    batches: list[TemplateBatch],
    abc: list[TemplateBatch],
    receivers: list[Head],
    show_progress: bool = False,
) -> Tensor:
    """`[layers heads]` prompt-weighted LD change (patched − clean) when each earlier head is
    path-patched from the abc prompts into the receivers' queries (NaN from the first receiver's
    layer on)."""
    total, n = None, 0
    for b, a in zip(batches, abc, strict=True):
        ld = mean_ld(model, [b])
        grid = path_patch_sweep(
            model, b.tokens, a.tokens, receivers, lambda lg, b=b: logit_diff(lg, b.answers),
            inputs="q", show_progress=show_progress, last_only=True,
        )  # fmt: skip
        part = (grid - ld) * len(b.idx)
        total = part if total is None else total + part
        n += len(b.idx)
    return total / n


def derive_ioi_circuit(
    model,
    batches: list[TemplateBatch],
    abc: list[TemplateBatch],
    name_ids: Tensor,
    path_batches: tuple[list[TemplateBatch], list[TemplateBatch]] | None = None,
    rules: RoleRules = RoleRules(),
    show_progress: bool = False,
) -> tuple[dict[str, list[Head]], dict]:
    """Evidence on `batches` (copy scores on `name_ids`), path patching on `path_batches`
    (clean, abc; default the same batches), then `assign_roles`. Returns (roles, evidence)."""
    ev = head_evidence(model, batches)
    evidence = {**ev.as_dict(), "copy": copy_scores(model, name_ids),
                "neg_copy": copy_scores(model, name_ids, negative=True)}  # fmt: skip
    clean_ld = mean_ld(model, batches)
    direct = direct_roles(ev, rules)
    receivers = direct["name mover"] + direct["S suppressor"]
    path = None
    if receivers and min(layer for layer, _ in receivers) > 0:  # else no earlier sender
        pb, pa = path_batches or (batches, abc)
        path = path_sweep(model, pb, pa, receivers, show_progress)
        evidence["path_to_mover_q"] = path
        clean_ld = mean_ld(model, pb)
    roles = assign_roles(ev, path, clean_ld, rules)
    evidence["rules"] = asdict(rules)
    return roles, evidence


__all__ = [
    "DIRECT",
    "ROLES",
    "ROLE_POSITIONS",
    "RoleRules",
    "assign_roles",
    "derive_ioi_circuit",
    "direct_roles",
    "mean_ld",
    "path_sweep",
]
