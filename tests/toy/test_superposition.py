"""The toy model of superposition against plain per-instance torch models and hand-made geometry.

References: one `torch.nn.functional.relu(x @ W.T @ W + b)` per instance (the vectorised einsum
must equal that loop and keep instances independent); training n instances in one Adam loop must
give the losses of n separate single-instance trainings on the same data (float64, 1e-6); the
dimensionality formula on shapes whose answer is known from geometry (regular pentagon 2/5,
antipodal pair 1/2, an orthogonal feature 1) and on a random W against an explicit double loop.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from arena_core.errors import UserError
from arena_core.toy import (
    SuperpositionInputError,
    ToyModel,
    best_replicas,
    dimensionality,
    evaluate_loss,
    generate_batch,
    importance_weighted_loss,
    train_toy_model,
    two_feature_regime,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_forward_equals_one_relu_model_per_instance(device):
    g = torch.Generator().manual_seed(0)
    model = ToyModel(4, 6, 3, generator=g).to(device)
    with torch.no_grad():
        model.b.copy_(torch.randn(4, 6, generator=g))
    x = torch.rand(8, 4, 6, generator=g).to(device)
    out = model(x)
    for i in range(4):
        W, b = model.W[i], model.b[i]
        ref = F.relu(x[:, i] @ W.T @ W + b)
        torch.testing.assert_close(out[:, i], ref, rtol=1e-5, atol=1e-6)
    # independence: changing instance 0 leaves the others' outputs untouched
    with torch.no_grad():
        model.W[0] += 1.0
    out2 = model(x)
    assert torch.equal(out2[:, 1:], out[:, 1:])
    assert not torch.allclose(out2[:, 0], out[:, 0])


def test_training_together_equals_training_each_alone():
    g = torch.Generator().manual_seed(1)
    n_inst, n, d, steps = 3, 5, 2, 6
    p = torch.tensor([[1.0] * n, [0.3] * n, [0.05] * n])
    data = [generate_batch(64, p, generator=g).double() for _ in range(steps)]
    importance = 0.9 ** torch.arange(n, dtype=torch.float64)
    together = ToyModel(n_inst, n, d, generator=g).double()
    with torch.no_grad():
        together.b.copy_(0.1 * torch.randn(n_inst, n, generator=g))
    alone = [ToyModel.from_weights(together.W[i : i + 1], together.b[i : i + 1]) for i in range(3)]
    losses = train_toy_model(together, p, importance, steps=steps, lr=1e-2,
                             sample=lambda t: data[t])  # fmt: skip
    for i, model in enumerate(alone):
        li = train_toy_model(model, p[i : i + 1], importance, steps=steps, lr=1e-2,
                             sample=lambda t, i=i: data[t][:, i : i + 1])  # fmt: skip
        torch.testing.assert_close(li[:, 0], losses[:, i], rtol=0, atol=1e-6)
        torch.testing.assert_close(model.W[0], together.W[i], rtol=0, atol=1e-9)
    assert losses[0].ne(losses[-1]).all(), "the weights should have moved"


def _regular_polygon(k: int) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * 2 * math.pi / k
    return torch.stack([angles.cos(), angles.sin()])  # [2, k]


def test_dimensionality_on_known_shapes():
    torch.testing.assert_close(dimensionality(_regular_polygon(5)), torch.full((5,), 0.4,
                               dtype=torch.float64))  # fmt: skip
    # in 3-D: an antipodal pair (1/2 each), one feature alone on the third axis (1), one unused (0)
    W = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    torch.testing.assert_close(dimensionality(W), torch.tensor([0.5, 0.5, 1.0, 0.0]))
    # an unequal antipodal pair, lengths 1 and 2: D = 1/(1 + 2²) and 4/(4 + 1²)
    W = torch.tensor([[1.0, -2.0]])
    torch.testing.assert_close(dimensionality(W), torch.tensor([0.2, 0.8]))
    # batched over instances; D does not change when W is scaled
    both = torch.stack([_regular_polygon(5), 3 * _regular_polygon(5)])
    torch.testing.assert_close(dimensionality(both), torch.full((2, 5), 0.4, dtype=torch.float64))
    # a triangle in 2-D: 1 / (1 + 2 cos²120°) = 2/3
    torch.testing.assert_close(dimensionality(_regular_polygon(3)), torch.full((3,), 2 / 3,
                               dtype=torch.float64))  # fmt: skip


def test_dimensionality_matches_a_double_loop():
    W = torch.randn(4, 7, dtype=torch.float64)
    expected = []
    for i in range(7):
        wi = W[:, i]
        unit = wi / wi.norm()
        denom = sum(float(unit @ W[:, j]) ** 2 for j in range(7))
        expected.append(float(wi @ wi) / denom)
    torch.testing.assert_close(dimensionality(W), torch.tensor(expected, dtype=torch.float64))


def test_independent_feature_statistics():
    g = torch.Generator().manual_seed(2)
    p = torch.tensor([[0.1] * 4, [0.6] * 4])
    x = generate_batch(40_000, p, generator=g)
    present = x > 0
    freq = present.float().mean(0)
    torch.testing.assert_close(freq, p, rtol=0, atol=0.01)  # binomial sd ≤ 0.0025
    both = (present[:, :, 0] & present[:, :, 1]).float().mean(0)
    torch.testing.assert_close(both, p[:, 0] ** 2, rtol=0, atol=0.01)
    values = x[present]
    assert abs(values.mean().item() - 0.5) < 0.01 and values.min() >= 0 and values.max() < 1


def test_correlated_and_anticorrelated_pairs():
    g = torch.Generator().manual_seed(3)
    p = torch.full((2, 6), 0.3)
    x = generate_batch(40_000, p, n_correlated_pairs=1, n_anticorrelated_pairs=1, generator=g)
    on = x > 0
    freq = on.float().mean(0)
    torch.testing.assert_close(freq, p, rtol=0, atol=0.01)  # every marginal stays p
    # correlated pair (0, 1): always together; anti-correlated (2, 3): never together
    assert torch.equal(on[..., 0], on[..., 1])
    assert not (on[..., 2] & on[..., 3]).any()
    p_one_of = (on[..., 2] | on[..., 3]).float().mean()
    assert abs(p_one_of.item() - 0.6) < 0.01
    # the values inside a correlated pair are still independent uniforms
    both = on[..., 0]
    corr = torch.corrcoef(torch.stack([x[..., 0][both], x[..., 1][both]]))[0, 1]
    assert abs(corr.item()) < 0.03
    # features 4, 5 are independent of each other
    both45 = (on[..., 4] & on[..., 5]).float().mean()
    assert abs(both45.item() - 0.09) < 0.01


def test_loss_by_hand_and_evaluate_loss():
    x = torch.tensor([[[1.0, 0.5]]])
    out = torch.tensor([[[0.0, 1.0]]])
    imp = torch.tensor([[2.0, 1.0]])
    # 2·1² + 1·0.5² = 2.25
    torch.testing.assert_close(importance_weighted_loss(out, x, imp), torch.tensor([2.25]))
    model = ToyModel(2, 3, 3)
    with torch.no_grad():
        model.W.copy_(torch.eye(3).expand(2, 3, 3))  # identity: perfect reconstruction
        model.W[1] = 0.0  # instance 1 outputs ReLU(0) = 0: loss = E Σ x² = 3 · p · 1/3
    loss = evaluate_loss(model, 0.5, 1.0, n_samples=40_000, generator=torch.Generator())
    assert loss[0].item() < 1e-10 and abs(loss[1].item() - 0.5) < 0.02


def test_dense_keeps_the_two_most_important_sparse_keeps_all_five():
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([1.0, 1.0, 0.03, 0.03])
    model = ToyModel(4, 5, 2, generator=g)
    train_toy_model(model, probs, 0.9 ** torch.arange(5.0), steps=1500, batch_size=512, lr=1e-2,
                    generator=g)  # fmt: skip
    loss = evaluate_loss(model, probs, 0.9 ** torch.arange(5.0), generator=g)
    best = best_replicas(loss, 2)
    norms = model.W.detach().norm(dim=1)[best]
    assert (norms[0, :2] > 0.9).all() and (norms[0, 2:] < 0.2).all()  # top-2 orthogonal
    assert (norms[1] > 0.8).all()  # all five in superposition
    torch.testing.assert_close(dimensionality(model.W.detach()[best[1]]),
                               torch.full((5,), 0.4), rtol=0, atol=0.03)  # fmt: skip


def test_two_feature_regime_and_best_replicas():
    W = torch.tensor([[[0.1, 0.2]], [[0.05, 1.0]], [[1.0, -1.0]], [[1.0, 0.0]]])
    assert two_feature_regime(W).tolist() == [0, 1, 2, 0]
    assert best_replicas(torch.tensor([3.0, 1.0, 2.0, 0.5, 0.7, 4.0]), 3).tolist() == [1, 3]


@pytest.mark.parametrize(
    "call",
    [
        lambda: ToyModel(0, 5, 2),
        lambda: ToyModel(2, 5, 2)(torch.rand(4, 3, 5)),
        lambda: ToyModel.from_weights(torch.rand(2, 2, 5), torch.rand(2, 4)),
        lambda: generate_batch(4, torch.full((2, 4), 1.5)),
        lambda: generate_batch(4, torch.full((4,), 0.5)),
        lambda: generate_batch(0, torch.full((2, 4), 0.5)),
        lambda: generate_batch(4, torch.full((2, 4), 0.5), n_correlated_pairs=3),
        lambda: generate_batch(4, torch.full((2, 4), 0.7), n_anticorrelated_pairs=1),
        lambda: generate_batch(4, torch.tensor([[0.1, 0.2, 0.3]]), n_correlated_pairs=1),
        lambda: importance_weighted_loss(
            torch.rand(2, 3, 4), torch.rand(2, 3, 4), torch.rand(3, 5)
        ),
        lambda: train_toy_model(ToyModel(2, 4, 2), torch.full((3,), 0.5), steps=1),
        lambda: train_toy_model(ToyModel(2, 4, 2), 0.5, steps=0),
        lambda: dimensionality(torch.rand(5)),
        lambda: two_feature_regime(torch.rand(3, 2, 2)),
        lambda: best_replicas(torch.rand(5), 2),
    ],
)
def test_bad_input_raises_a_user_error(call):
    with pytest.raises(SuperpositionInputError) as info:
        call()
    assert isinstance(info.value, UserError)
