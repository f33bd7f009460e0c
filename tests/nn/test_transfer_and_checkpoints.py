"""Transfer helpers (day 14) and the day-12 classifier checkpoint round trip."""

import pytest
import torch

from arena_core.nn import ConvNet, load_day12_classifier, save_classifier, small_resnet
from arena_core.nn.classifiers import day12_checkpoint_name
from arena_core.nn.transfer import as_rgb32, extract_features, replace_head


def test_as_rgb32_pads_and_replicates():
    x = torch.rand(3, 1, 28, 28)
    y = as_rgb32(x)
    assert y.shape == (3, 3, 32, 32)
    for c in range(3):  # the original image sits in the centre of every channel
        torch.testing.assert_close(y[:, c : c + 1, 2:30, 2:30], x)
    assert y[:, :, :2].abs().sum() == 0 and y[:, :, :, 30:].abs().sum() == 0


def test_extract_features_is_eval_mode_features_and_head_replacement():
    model = small_resnet(in_channels=1, n_classes=10, widths=(4, 8))
    model.train()(torch.randn(8, 1, 16, 16))  # move BN running stats away from their init
    x = torch.randn(5, 1, 16, 16)
    feats = extract_features(model, x, batch_size=2)
    assert model.training  # restored
    with torch.no_grad():
        torch.testing.assert_close(feats, model.eval().features(x))
    replace_head(model, 3)
    assert model(x).shape == (5, 3)


def test_day12_classifier_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_MODELS", str(tmp_path))
    model = ConvNet()
    save_classifier(model, tmp_path / day12_checkpoint_name("mnist"), {"test_acc": 0.5})
    loaded, meta = load_day12_classifier("mnist")
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model(x))
    assert meta == {"test_acc": 0.5} and not loaded.training
    with pytest.raises(FileNotFoundError, match="arena run 12"):
        load_day12_classifier("no_such_dataset")
