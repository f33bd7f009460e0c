"""SAELens interop: our save format loads in SAELens and gives the same encodings, and a SAE
saved by SAELens loads into ours with the same encodings and reconstructions."""

import json

import pytest
import torch

from arena_core.sae import JumpReluSAE, ReluSAE, SAEConfig, SAEError, TopKSAE
from arena_core.sae.saelens import load_saelens, save_saelens

sae_lens = pytest.importorskip("sae_lens", reason="sae-lens is in the dev extra")


def _randomise(sae):
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in sae.named_parameters():
            if name != "log_threshold":
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return sae


@pytest.mark.parametrize(
    "sae",
    [
        ReluSAE(SAEConfig(d_in=12, d_sae=20)),
        TopKSAE(SAEConfig(d_in=12, d_sae=20, k=4)),
        JumpReluSAE(SAEConfig(d_in=12, d_sae=20, threshold=0.2)),
    ],  # fmt: skip
    ids=["standard", "topk", "jumprelu"],
)
def test_ours_to_saelens_and_back(sae, tmp_path):
    sae = _randomise(sae)
    save_saelens(sae, tmp_path, hook_name="blocks.3.hook_resid_post", model_name="toy")
    theirs = sae_lens.SAE.load_from_disk(tmp_path)
    assert theirs.cfg.architecture() == sae.architecture
    x = torch.randn(50, 12)
    with torch.no_grad():
        torch.testing.assert_close(theirs.encode(x), sae.encode(x), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(theirs(x), sae(x), atol=1e-6, rtol=1e-5)
        assert (sae.encode(x) > 0).any() and (sae.encode(x) == 0).any()  # sparse, not trivial
        # SAELens's own save -> our loader
        out = tmp_path / "theirs"
        theirs.save_model(out)
        back = load_saelens(out)
        assert type(back) is type(sae)
        torch.testing.assert_close(back.encode(x), theirs.encode(x), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(back(x), theirs(x), atol=1e-6, rtol=1e-5)


def test_saelens_trained_sae_loads_into_ours(tmp_path):
    from sae_lens.saes.standard_sae import StandardSAE, StandardSAEConfig

    theirs = StandardSAE(StandardSAEConfig(d_in=10, d_sae=16))  # SAELens's own initialisation
    with torch.no_grad():
        theirs.b_enc.normal_()
        theirs.b_dec.normal_()
    theirs.save_model(tmp_path)
    ours = load_saelens(tmp_path)
    x = torch.randn(30, 10)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode(x), theirs.encode(x), atol=1e-6, rtol=1e-5)


def test_bad_folders_raise(tmp_path):
    with pytest.raises(SAEError, match="not a SAELens folder"):
        load_saelens(tmp_path)
    save_saelens(ReluSAE(SAEConfig(d_in=4, d_sae=6)), tmp_path)
    cfg = json.loads((tmp_path / "cfg.json").read_text())
    (tmp_path / "cfg.json").write_text(json.dumps(cfg | {"architecture": "gated"}))
    with pytest.raises(SAEError, match="not supported"):
        load_saelens(tmp_path)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg | {"d_sae": 7}))
    with pytest.raises(SAEError, match="shape"):
        load_saelens(tmp_path)


def test_transcoder_both_ways(tmp_path):
    """A transcoder (d_in != d_out) saved by us loads as SAELens's `Transcoder` with the same
    codes and outputs, and SAELens's own save of it loads back into ours."""
    from sae_lens.saes.transcoder import Transcoder as TheirTranscoder

    from arena_core.sae import Transcoder

    ours = _randomise(Transcoder(SAEConfig(d_in=9, d_sae=15, d_out=5, apply_b_dec_to_input=False)))
    save_saelens(ours, tmp_path / "ours", hook_name="blocks.2.ln2.hook_normalized")
    theirs = sae_lens.SAE.load_from_disk(tmp_path / "ours")
    assert isinstance(theirs, TheirTranscoder) and theirs.cfg.d_out == 5
    x = torch.randn(40, 9)
    with torch.no_grad():
        torch.testing.assert_close(theirs.encode(x), ours.encode(x), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(theirs.decode(theirs.encode(x)), ours.decode(ours.encode(x)),
                                   atol=1e-6, rtol=1e-5)  # fmt: skip
        assert (ours.encode(x) > 0).any() and (ours.encode(x) == 0).any()
        theirs.save_model(tmp_path / "theirs")
        back = load_saelens(tmp_path / "theirs")
        assert type(back) is Transcoder and back.cfg.out == 5
        torch.testing.assert_close(back.decode(back.encode(x)), theirs.decode(theirs.encode(x)),
                                   atol=1e-6, rtol=1e-5)  # fmt: skip
