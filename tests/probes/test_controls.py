"""Control tasks (Hewitt & Liang 2019) on a toy "model" whose answer is known: every word type
has a random embedding (a lookup table: memorisable, but nothing shared between types) plus a
planted low-dimensional feature that carries the real label. The real task then survives a
held-out-type split, the control task does not; with types shared between train and test, the
control task rises with probe capacity. The capacity sweep is checked against scikit-learn's
`PCA` + `LogisticRegression` pipeline."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from arena_core.probes.controls import (
    ControlTaskError,
    capacity_sweep,
    control_labels,
    selectivity,
    type_split,
)
from arena_core.probes.sweeps import train_test_split


def toy(n_types=100, per_type=4, d=160, seed=0):
    g = torch.Generator().manual_seed(seed)
    real_per_type = (torch.rand(n_types, generator=g) < 0.5).long()
    emb = torch.randn(n_types, d, generator=g, dtype=torch.float64)
    emb[:, 0] = 0.0
    types = torch.arange(n_types).repeat_interleave(per_type)
    x = emb[types] + 0.3 * torch.randn(len(types), d, generator=g, dtype=torch.float64)
    x[:, 0] += 3.0 * (2 * real_per_type[types] - 1)  # the planted, shared feature
    return x, real_per_type[types], [f"w{t}" for t in types.tolist()]


def test_control_labels_are_fixed_per_type_and_balanced():
    types = ["a", "b", "a", "c", "d", "b", "e", "f"]
    lab = control_labels(types, seed=1)
    per = {}
    for t, v in zip(types, lab.tolist(), strict=True):
        assert per.setdefault(t, v) == v
    assert sum(per.values()) == 3  # 6 types, half of them
    assert torch.equal(lab, control_labels(types, seed=1))
    many = [f"t{i}" for i in range(40)]
    assert not torch.equal(control_labels(many, seed=0), control_labels(many, seed=1))


@pytest.mark.parametrize("seed", range(4))
def test_control_labels_independent_of_type_split_with_same_seed(seed):
    # both draw a permutation of the types; with the same generator state every held-out type
    # would share one label
    types = [f"t{i}" for i in range(200)]
    _, te = type_split(types, 0.25, seed=seed)
    held_out = control_labels(types, seed=seed)[te].double().mean().item()
    assert 0.3 < held_out < 0.7  # 50 types: sd 0.07 around one half


def test_type_split_is_disjoint_and_complete():
    _, _, types = toy()
    tr, te = type_split(types, 0.25, seed=2)
    assert sorted(tr.tolist() + te.tolist()) == list(range(len(types)))
    assert not {types[i] for i in tr} & {types[i] for i in te}
    assert len({types[i] for i in te}) == 25


def test_capacity_sweep_matches_sklearn_pipeline():
    x, y, types = toy(n_types=60, d=64)
    tr, te = train_test_split(len(y), seed=0)
    ks = [1, 3, 10]
    rows = capacity_sweep(x, y, tr, te, ks, C=0.5)
    for r in rows:
        pca = PCA(n_components=r.k, svd_solver="full").fit(x[tr].numpy())
        lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000)
        lr.fit(pca.transform(x[tr].numpy()), y[tr].numpy())
        # same objective, same data: predictions may only differ on points within rounding of the
        # boundary, which these well-separated toys do not have
        assert r.train_accuracy == pytest.approx(lr.score(pca.transform(x[tr].numpy()), y[tr]))
        assert r.test_accuracy == pytest.approx(lr.score(pca.transform(x[te].numpy()), y[te]))


def test_control_task_memorises_seen_types_only():
    x, y, types = toy()
    ctrl = control_labels(types, seed=0)
    seen_tr, seen_te = train_test_split(len(y), seed=0)
    new_tr, new_te = type_split(types, seed=0)
    ks = [2, 160]
    real_seen = capacity_sweep(x, y, seen_tr, seen_te, ks)
    ctrl_seen = capacity_sweep(x, ctrl, seen_tr, seen_te, ks)
    real_new = capacity_sweep(x, y, new_tr, new_te, ks)
    # the planted feature is the top component: two components already solve the real task
    assert real_seen[0].test_accuracy > 0.95 and real_new[0].test_accuracy > 0.95
    # with all 160 dims the probe memorises the table of 75 training types: control accuracy
    # far above chance
    assert ctrl_seen[1].test_accuracy > 0.85
    # on unseen types there is nothing to memorise: chance, averaged over five control tasks
    # (25 test types each: sd ≈ 0.1 per task, ≈ 0.045 for the mean of five)
    new = [capacity_sweep(x, control_labels(types, seed=s), new_tr, new_te, ks[1:])[0]
           for s in range(5)]  # fmt: skip
    assert abs(np.mean([r.test_accuracy for r in new]) - 0.5) < 0.15
    sel = selectivity(real_seen, ctrl_seen)
    assert sel[0] > 0.3 and sel[1] < sel[0]
    assert np.isclose(sel[1], real_seen[1].test_accuracy - ctrl_seen[1].test_accuracy)


def test_bad_inputs_raise_user_errors():
    x, y, types = toy(n_types=10, d=16)
    tr, te = train_test_split(len(y), seed=0)
    with pytest.raises(ControlTaskError, match="two types"):
        control_labels(["a", "a"])
    with pytest.raises(ControlTaskError, match="test_fraction"):
        type_split(types, 1.5)
    with pytest.raises(ControlTaskError, match="k must be"):
        capacity_sweep(x, y, tr, te, [0, 5])
    with pytest.raises(ControlTaskError, match="non-empty"):
        capacity_sweep(x, y, tr, te[:0], [2])
    a = capacity_sweep(x, y, tr, te, [1, 2])
    with pytest.raises(ControlTaskError, match="same ks"):
        selectivity(a, a[:1])
