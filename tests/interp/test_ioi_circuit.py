"""The IOI role rules on hand-made evidence where every head's role is known by construction,
and `derive_ioi_circuit` end to end on a tiny random model (shapes, and that every head it names
satisfies the rule of its role when the evidence is read back)."""

import pytest
import torch

from arena_core.interp.head_roles import HeadEvidence
from arena_core.interp.ioi import TemplateBatch
from arena_core.interp.ioi_circuit import (
    ROLE_POSITIONS,
    ROLES,
    RoleRules,
    assign_roles,
    derive_ioi_circuit,
)
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

L, H = 6, 3


def toy_evidence() -> HeadEvidence:
    z = {name: torch.zeros(L, H, dtype=torch.float64) for name in HeadEvidence.__dataclass_fields__}
    z["dla"][4, 0], z["end_to_io"][4, 0] = 1.0, 0.6  # name mover
    z["dla"][4, 1], z["end_to_io"][4, 1] = -0.5, 0.5  # negative name mover
    z["dla"][4, 2], z["end_to_s2"][4, 2] = 0.8, 0.5  # S suppressor
    z["dla"][5, 0] = 0.3  # direct, looks at no name
    z["dla"][5, 1], z["end_to_io"][5, 1] = 0.1, 0.9  # too small a DLA: nothing
    z["end_to_s2"][3, 0] = z["end_to_s2"][3, 1] = 0.4  # S-inhibition candidates
    z["end_to_s2"][5, 2] = 0.9  # after the first mover: never a candidate
    z["s2_to_s1p1"][2, 0], z["s2_to_s1p1"][2, 1] = 0.5, 0.2  # induction (2,0) only
    z["s2_to_s1"][1, 2] = 0.7  # duplicate-token
    z["s2_to_s1"][4, 2] = 0.9  # too late for duplicate-token
    z["s1p1_to_s1"][0, 1] = 0.8  # previous-token
    return HeadEvidence(**z)


def test_rules_on_known_evidence():
    path = torch.full((L, H), float("nan"), dtype=torch.float64)
    path[:4] = 0.0
    path[3, 0], path[3, 1] = -0.5, -0.01  # only (3, 0) moves the LD (clean LD 2: 25% vs 0.5%)
    roles = assign_roles(toy_evidence(), path, clean_ld=2.0, rules=RoleRules())
    assert roles == {
        "name mover": [(4, 0)],
        "negative name mover": [(4, 1)],
        "S suppressor": [(4, 2)],
        "other direct": [(5, 0)],
        "S-inhibition": [(3, 0)],
        "induction": [(2, 0)],
        "duplicate-token": [(1, 2)],
        "previous-token": [(0, 1)],
    }
    assert set(ROLE_POSITIONS) == set(ROLES) == set(roles)
    no_path = assign_roles(toy_evidence(), None, 2.0, RoleRules())
    assert no_path["S-inhibition"] == [] and no_path["induction"] == [(2, 0)]


def test_derive_on_a_small_model():
    cfg = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61,
                            n_ctx=32)  # fmt: skip
    model, _ = scaled_tl_pair("llama-gqa", cfg, seed=8, scale=2.0)
    g = torch.Generator().manual_seed(2)
    pos = {"IO": 1, "S1": 3, "S1+1": 4, "S2": 6, "end": 8}

    def batch(n):
        t = torch.randint(0, 61, (n, 9), generator=g)
        return TemplateBatch(list(range(n)), t, dict(pos), t[:, 1], t[:, 3])

    clean, abc = [batch(4)], [batch(4)]
    rules = RoleRules(dla_min=0.05, att_min=0.15, sinh_att_min=0.05, path_min=0.0)
    roles, ev = derive_ioi_circuit(model, clean, abc, torch.tensor([2, 5, 9]), rules=rules)
    assert set(roles) == set(ROLES)
    assert ev["copy"].shape == (3, 4) and ev["dla"].shape == (3, 4)
    for layer, head in roles["name mover"]:
        assert ev["dla"][layer, head] >= 0.05 and ev["end_to_io"][layer, head] >= 0.15
    for layer, head in roles["duplicate-token"]:
        assert ev["s2_to_s1"][layer, head] >= rules.duplicate_min
    movers = roles["name mover"] + roles["S suppressor"]
    assert ("path_to_mover_q" in ev) == bool(movers and min(h[0] for h in movers) > 0)
    assert sum(map(len, roles.values())) > 0
    with pytest.raises(TypeError):
        RoleRules(bogus=1)
