"""The latent-space VAE's training side: shapes, the loss, the augmentations, the PCA baseline."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicedge.errors import ParameterError  # noqa: E402
from training.models.vae import LatentVAE, VaeDecoder, VaeEncoder, kl_per_dim  # noqa: E402
from training.tasks.latent import (  # noqa: E402
    MIX_DESCRIPTORS,
    BalancedSelection,
    LatentConfig,
    Prepared,
    SpectrumDescriptors,
    TrackFeatures,
    augment_batch,
    decode_with_running_stats,
    fixed_excerpts,
    mix_loss,
    mix_points,
    pca_rmse,
    random_batch,
    train_vae,
    vae_loss,
    vae_rmse,
    warm_start,
)

TINY = {"n_mels": 16, "frames": 32, "latent_dim": 4, "widths": [8, 16], "rnn": 8}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_and_decoder_shapes(channels):
    model = LatentVAE(**TINY, channels=channels).eval()
    x = torch.randn(3, channels, 16, 32) * 20 - 50
    recon, mu, logvar = model(x)
    assert recon.shape == (3, 1, 16, 32) and mu.shape == logvar.shape == (3, 4)
    assert model.encoder.input_names == (("mel",) if channels == 1 else ("mels",))
    with torch.no_grad():
        assert torch.equal(model.decoder(mu), recon)  # eval mode decodes mu itself


def test_linear_level_makes_the_decoded_loudness_linear_in_z():
    """The descriptor the runtime measures (not the model's own copy of it) moves linearly, so
    monotonically, along a straight path; the free decoder's does not."""
    from musicedge.config import FrontendConfig
    from musicedge.descriptors import DESCRIPTORS, describe_batch

    config = FrontendConfig.preset("gtzan22k").replace(n_mels=16)
    torch.manual_seed(0)
    t = torch.linspace(0.0, 1.0, 9)[:, None]
    a, b = torch.randn(1, 4), torch.randn(1, 4)
    path = (1 - t) * a + t * b
    column = DESCRIPTORS.index("loudness_db")
    residuals = {}
    for level in ("linear", "free"):
        model = LatentVAE(**TINY, level=level).eval()
        for p in model.decoder.parameters():  # a decoder far from linear
            p.data.normal_(0.0, 0.5)
        with torch.no_grad():
            loudness = describe_batch(model.decoder(path)[:, 0].double().numpy(), config)[:, column]
        line = np.polyval(np.polyfit(t[:, 0].numpy(), loudness, 1), t[:, 0].numpy())
        residuals[level] = np.abs(loudness - line).max()
    assert residuals["linear"] < 1e-3 < residuals["free"]
    with pytest.raises(ParameterError, match="level must be one of"):
        LatentVAE(**TINY, level="loud")


def test_models_refuse_wrong_shapes_and_geometry():
    with pytest.raises(ParameterError, match="multiples of 2"):
        VaeEncoder(n_mels=20, frames=32, widths=[8, 16, 32])
    enc, dec = VaeEncoder(**TINY), VaeDecoder(**TINY)
    with pytest.raises(ParameterError, match=r"mel must be \(batch, 1, 16, 32\)"):
        enc(torch.zeros(1, 1, 16, 31))
    with pytest.raises(ParameterError, match=r"z must be \(batch, 4\)"):
        dec(torch.zeros(1, 5))


def test_band_statistics_map_standard_units_to_db():
    dec = VaeDecoder(**TINY)
    dec.set_band_stats(torch.full((1, 16), -40.0), torch.full((1, 16), 10.0))
    for p in dec.out.parameters():
        torch.nn.init.zeros_(p)
    assert torch.allclose(dec(torch.zeros(2, 4)), torch.tensor(-40.0))


def test_kl_and_free_bits():
    mu, logvar = torch.zeros(5, 4), torch.zeros(5, 4)
    assert torch.allclose(kl_per_dim(mu, logvar), torch.zeros(4))
    assert torch.allclose(kl_per_dim(torch.ones(5, 4), logvar), torch.full((4,), 0.5))
    model = LatentVAE(**TINY)
    x = torch.randn(2, 1, 16, 32)
    loss, nll, kl = vae_loss(model, x, x, mu[:2], logvar[:2], beta=1.0, free_bits=0.25)
    assert nll.item() == 0 and kl.item() == 0
    assert loss.item() == pytest.approx(4 * 0.25)  # every dimension floored at the free bits


def test_augmentations_leave_the_target_unblurred_and_unerased():
    x = torch.randn(16, 3, 16, 32) * 10 - 40
    inp, target = augment_batch(x, torch.Generator().manual_seed(0))
    assert inp.shape == x.shape and target.shape == (16, 1, 16, 32)
    offset = (target - x[:, :1]).mean(dim=(1, 2, 3))
    assert offset.abs().max() <= 6.0 + 1e-4  # colour jitter only: level within +-6 dB
    assert not torch.equal(inp[:, :1], target)  # blur or erasing reached some inputs


def test_excerpts_are_cropped_never_padded():
    rng = np.random.default_rng(0)
    tracks = [TrackFeatures("a", rng.normal(size=(1, 16, 40)).astype(np.float32)),
              TrackFeatures("b", rng.normal(size=(1, 16, 32)).astype(np.float32))]  # fmt: skip
    x, owner = fixed_excerpts(tracks, 32, per_track=4)
    assert x.shape[1:] == (1, 16, 32) and set(owner) == {0, 1}
    assert (owner == 1).sum() == 1  # a track of exactly one excerpt gives one
    batch = random_batch(tracks, 32, 10, rng)
    assert batch.shape == (10, 1, 16, 32)


def test_pca_baseline_is_exact_within_the_training_span():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(3, 16 * 8))
    train = (rng.normal(size=(50, 3)) @ basis).reshape(50, 16, 8) - 50
    test = (rng.normal(size=(5, 3)) @ basis).reshape(5, 16, 8) - 50
    assert pca_rmse(train, test, 3) < 1e-8
    assert pca_rmse(train, test, 1) > 0.1


def test_config_refuses_bad_settings(tmp_path):
    with pytest.raises(ParameterError, match="channels must be 1 or 3"):
        LatentConfig(data=tmp_path, out=tmp_path, channels=2)
    with pytest.raises(ParameterError, match="free_bits"):
        LatentConfig(data=tmp_path, out=tmp_path, free_bits=-1.0)
    with pytest.raises(ParameterError, match="mix_weight"):
        LatentConfig(data=tmp_path, out=tmp_path, mix_weight=-0.5)
    with pytest.raises(ParameterError, match="ema"):
        LatentConfig(data=tmp_path, out=tmp_path, ema=1.0)


def test_spectrum_descriptors_match_the_runtime_descriptors():
    from musicedge.config import FrontendConfig
    from musicedge.descriptors import DESCRIPTORS, describe_batch

    config = FrontendConfig.preset("gtzan22k").replace(n_mels=16)
    mel = np.random.default_rng(2).normal(-40, 15, (3, 16, 32))
    expected = describe_batch(mel, config)[:, [DESCRIPTORS.index(n) for n in MIX_DESCRIPTORS]]
    got = SpectrumDescriptors(config)(torch.from_numpy(mel[:, None]).float()).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_mix_points_and_mix_loss():
    from musicedge.config import FrontendConfig

    torch.manual_seed(0)
    model = LatentVAE(**TINY).train()
    describe = SpectrumDescriptors(FrontendConfig.preset("gtzan22k").replace(n_mels=16))
    z = torch.randn(4, 4, requires_grad=True)
    z_mix, lam = mix_points(z, torch.Generator().manual_seed(0))
    assert z_mix.shape == z.shape and lam.shape == (4, 1) and not z_mix.requires_grad
    assert torch.allclose(z_mix[1], lam[1] * z[1] + (1 - lam[1]) * z[0])  # on the line to the previous
    recon = model.decoder(z)
    stats = [b.clone() for b in model.decoder.buffers()]
    mixed = decode_with_running_stats(model.decoder, z_mix)
    assert all(torch.equal(a, b) for a, b in zip(stats, model.decoder.buffers(), strict=True))
    assert all(m.training for m in model.decoder.modules())  # train mode restored
    scales = torch.tensor([8.0, 300.0, 0.2])
    loss = mix_loss(recon, mixed, lam, describe, scales)
    loss.backward()
    assert loss.item() > 0 and z.grad is None  # the ends' targets are detached, the points too
    assert model.decoder.linear.weight.grad is not None
    # where the descriptors are affine along the line the term is 0: here the ends themselves
    assert mix_loss(recon, recon, torch.ones(4, 1), describe, scales).item() == pytest.approx(0, abs=1e-6)
    assert mix_loss(recon, recon.roll(1, 0), torch.zeros(4, 1), describe, scales).item() == pytest.approx(
        0, abs=1e-6
    )


def _tiny_prepared(level_db: float, seed: int) -> Prepared:
    from musicedge.config import FrontendConfig

    rng = np.random.default_rng(seed)
    tracks = [
        TrackFeatures(f"t{i}", rng.normal(level_db, 10.0, (1, 16, 48)).astype(np.float32), "pop", 100.0)
        for i in range(3)
    ]
    frontend = FrontendConfig.preset("gtzan22k").replace(n_mels=16)
    return Prepared(frontend, 1, 32, tracks[:2], tracks[2:], tracks[2:], ("pop",), {})


def test_init_trains_on_from_a_checkpoint_with_its_statistics_and_pca_paths(tmp_path):
    from musicedge.spec import ModelSpec
    from training.checkpoint import save_checkpoint

    small = {"n_mels": 16, "frames": 32, "latent_dim": 4, "widths": (8, 16), "rnn": 8, "threads": 1}
    steps = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 4}
    first = LatentConfig(data=tmp_path, out=tmp_path, pca_init=True, beta=0.5, **small, **steps)
    base = train_vae(first, _tiny_prepared(-40.0, 0), log=io.StringIO()).model
    spec = ModelSpec(task="latent_encoder", frontend=first.frontend, window_frames=32, hop_frames=32,
                     model_name="t", model_version="1", embedding_dim=4)  # fmt: skip
    path = save_checkpoint(tmp_path / "best.pt", base, spec, epoch=1)
    # other data (30 dB quieter): a fresh start would standardise and fit PCA on these
    cfg = LatentConfig(data=tmp_path, out=tmp_path, init=path, pca_init=True, beta=0.5, mix_weight=0.5,
                       lr=1e-2, keep="last", **small, **{**steps, "epochs": 3})  # fmt: skip
    assert cfg.anneal_epochs == 0  # the KL term at its full weight from the first step
    start = warm_start(cfg).model
    assert start.training and not start.encoder.linear.weight.requires_grad
    result = train_vae(cfg, _tiny_prepared(-70.0, 1), log=io.StringIO())
    before, after = base.state_dict(), result.model.state_dict()
    for name in ("encoder.band_mean", "encoder.band_std", "decoder.band_mean", "encoder.linear.weight",
                 "decoder.linear.weight"):  # fmt: skip
        assert torch.equal(before[name], after[name]), name
    assert not torch.equal(before["decoder.out.weight"], after["decoder.out.weight"])  # it did train
    assert result.history[0]["beta"] == 0.5 and result.history[0]["mix"] > 0
    assert result.best_epoch == 3  # --keep last, whatever the validation error did
    with pytest.raises(ParameterError, match="not the"):
        warm_start(LatentConfig(data=tmp_path, out=tmp_path, init=path, **{**small, "latent_dim": 5}))
    with pytest.raises(ParameterError, match="keep must be one of"):
        LatentConfig(data=tmp_path, out=tmp_path, keep="first")
    with pytest.raises(ParameterError, match="exclude each other"):
        LatentConfig(data=tmp_path, out=tmp_path, init=path, reuse=path)


def test_balanced_keeps_the_most_monotonic_epoch_below_pca(tmp_path):
    small = {"n_mels": 16, "frames": 32, "latent_dim": 4, "widths": (8, 16), "rnn": 8, "threads": 1}
    cfg = LatentConfig(data=tmp_path, out=tmp_path, keep="balanced", beta=0.5, lr=1e-2, epochs=4,
                       steps_per_epoch=2, batch_size=4, **small)  # fmt: skip
    prepared = _tiny_prepared(-40.0, 0)
    log = io.StringIO()
    result = train_vae(cfg, prepared, log=log)
    rows = result.history
    assert all(-1.0 <= r["valid_spearman"] <= 1.0 for r in rows) and "spearman" in log.getvalue()
    pca = rows[0]["valid_pca_rmse_db"]
    below = [r for r in rows if r["valid_rmse_db"] < pca]
    if below:
        expected = max(below, key=lambda r: r["valid_spearman"])["epoch"]
    else:
        expected = min(rows, key=lambda r: r["valid_rmse_db"])["epoch"]
    assert result.best_epoch == expected

    valid_x, _ = fixed_excerpts(prepared.valid, 32)
    selection = BalancedSelection(cfg, prepared, valid_x)
    assert selection.pca_rmse_db == pytest.approx(pca)
    under, over = selection.pca_rmse_db - 0.1, selection.pca_rmse_db + 0.1
    # below PCA beats any error above it, whatever the interpolations; then the more monotonic wins
    assert selection.rank(under, 0.1) > selection.rank(over, 0.99)
    assert selection.rank(under, 0.9) > selection.rank(under - 0.05, 0.8)
    assert selection.rank(over, 0.1) > selection.rank(over + 0.5, 0.9)  # above PCA: the lower error


def test_ema_scores_and_keeps_the_averaged_weights(tmp_path):
    small = {"n_mels": 16, "frames": 32, "latent_dim": 4, "widths": (8, 16), "rnn": 8, "threads": 1}
    steps = {"epochs": 2, "steps_per_epoch": 3, "batch_size": 4, "lr": 1e-2, "beta": 0.5, "keep": "last"}
    prepared = _tiny_prepared(-40.0, 0)
    plain_cfg = LatentConfig(data=tmp_path, out=tmp_path, **small, **steps)
    plain = train_vae(plain_cfg, prepared, log=io.StringIO())
    averaged = train_vae(LatentConfig(data=tmp_path, out=tmp_path, ema=0.5, **small, **steps), prepared,
                         log=io.StringIO())  # fmt: skip
    # the same steps (same seed), so the difference is the averaging
    assert [r["loss"] for r in averaged.history] == [r["loss"] for r in plain.history]
    assert not torch.equal(plain.model.decoder.out.weight, averaged.model.decoder.out.weight)
    valid_x, _ = fixed_excerpts(prepared.valid, 32)
    assert vae_rmse(averaged.model, valid_x) == pytest.approx(averaged.history[-1]["valid_rmse_db"])


def test_pca_init_fits_the_linear_level_to_pca_reconstructions(tmp_path):
    """With --pca-init the gain starts at the least-squares fit of the PCA reconstructions' loudness,
    so training starts near PCA's reconstruction, not at an arbitrary level."""
    from training.models.vae import loudness_db
    from training.tasks.latent import pca_init

    small = {"n_mels": 16, "frames": 32, "latent_dim": 4, "widths": (8, 16), "rnn": 8, "threads": 1}
    cfg = LatentConfig(data=tmp_path, out=tmp_path, pca_init=True, level="linear", **small)
    prepared = _tiny_prepared(-40.0, 0)
    model = LatentVAE(**cfg.model_kwargs())
    pca_init(model, prepared, cfg, np.random.default_rng(1))
    model.eval()
    crops = torch.from_numpy(random_batch(prepared.train, 32, 256, np.random.default_rng(2)))
    with torch.no_grad():
        z = model.encoder(crops)[0]
        missed = model.decoder.gain(z)[:, 0] - loudness_db(model.decoder.unlevelled(z))
    assert abs(float(missed.mean())) < 0.5 and float(missed.abs().mean()) < 3.0  # the default: ~36 dB


def test_interpolation_references_crossfade_exactly_and_pca_matches_its_own_decoder():
    """Mixed in power, two excerpts' loudness, centroid and bass ratio move exactly monotonically;
    mixed in dB they need not; the PCA path is scored on the same pairs as the model's."""
    from musicedge.latent import LatentModel
    from training.tasks.latent_references import references

    model = LatentModel.load("latent", threads=1)
    rng = np.random.default_rng(0)
    shape = (1, model.frontend_config.n_mels, model.frames)
    # excerpts with different spectral tilts and levels, so every pair's ends differ
    tilt = np.linspace(0.0, 1.0, shape[1])[None, None, :, None]
    slopes = rng.uniform(-40.0, 40.0, size=(24, 1, 1, 1))
    levels = rng.uniform(-60.0, -20.0, size=(24, 1, 1, 1))
    test_x = (levels + slopes * tilt + 3.0 * rng.standard_normal((24, *shape))).astype(np.float32)
    train_x = (rng.uniform(-60, -20, (40, 1, 1, 1)) + 3.0 * rng.standard_normal((40, *shape))).astype(
        np.float32
    )
    result = references(model, train_x, test_x)
    assert set(result) == {
        "model",
        f"pca_{model.latent_dim}",
        "excerpts_mixed_in_db",
        "excerpts_mixed_in_power",
    }
    power = result["excerpts_mixed_in_power"]["spearman_per_descriptor"]
    for name in ("loudness_db", "centroid_hz", "bass_ratio"):
        assert power[name] == pytest.approx(1.0)
    assert all(m["pairs"] == 12 for m in result.values())
    assert result["excerpts_mixed_in_db"]["spearman_per_descriptor"]["loudness_db"] < 1.0
