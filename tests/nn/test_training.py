"""The training loop: a step lowers the loss, evaluation is right, resume continues identically."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.nn import ConvNet, SimpleMLP, evaluate, train_classifier, train_step


def _toy_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + 2 * (x[:, 0, 0, 0] > 0).long()
    return x, y


def test_train_step_reduces_loss_on_fixed_batch():
    model = ConvNet(image_size=8, n_classes=4)
    x, y = _toy_data(16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first, _ = train_step(model, opt, x, y)
    for _ in range(8):
        train_step(model, opt, x, y)
    assert F.cross_entropy(model(x), y).item() < 0.8 * first


def test_evaluate_matches_direct_computation():
    model = SimpleMLP(in_features=64, hidden=16, n_classes=4)
    x, y = _toy_data(50)
    loss, acc = evaluate(model, (x, y), batch_size=7)
    with torch.no_grad():
        logits = model(x)
    # float32 batch sums vs one mean: agree to float32 rounding (~1e-7 relative)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y).item(), rtol=1e-5, atol=1e-6)
    assert acc == pytest.approx((logits.argmax(-1) == y).double().mean().item())


def test_resume_continues_identically(tmp_path):
    data, test = _toy_data(96), _toy_data(40, seed=1)
    kwargs = dict(epochs=3, batch_size=16, lr=3e-3, seed=5)

    torch.manual_seed(0)
    straight = SimpleMLP(in_features=64, hidden=16, n_classes=4)
    full = train_classifier(straight, data, test, checkpoint_path=tmp_path / "a.pt", **kwargs)

    torch.manual_seed(0)
    model = SimpleMLP(in_features=64, hidden=16, n_classes=4)
    # "interrupted" after the first epoch ...
    train_classifier(model, data, test, checkpoint_path=tmp_path / "b.pt", **dict(kwargs, epochs=1))
    # ... and resumed into a fresh model object: it must pick up the checkpoint, not restart
    torch.manual_seed(123)
    resumed_model = SimpleMLP(in_features=64, hidden=16, n_classes=4)
    resumed = train_classifier(
        resumed_model, data, test, checkpoint_path=tmp_path / "b.pt", **kwargs
    )

    assert resumed["epoch"] == [1, 2, 3]
    assert resumed["step_loss"] == full["step_loss"]
    assert resumed["test_acc"] == full["test_acc"]
    for a, b in zip(straight.parameters(), resumed_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert full["train_loss"][-1] < full["train_loss"][0]
