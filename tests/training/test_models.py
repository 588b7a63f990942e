"""The classification models: shapes, dynamic batch and time, ONNX export equal to PyTorch, sizes."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from musicedge.errors import ParameterError  # noqa: E402
from training.checkpoint import build_model, model_class_path  # noqa: E402
from training.models import MODELS, create_model, input_kind, parse_model_args  # noqa: E402
from training.models.common import DB_FLOOR, MelNorm  # noqa: E402

torch.set_num_threads(1)

N_MELS = 128
WINDOW = 64  # frames: small windows keep the tests fast
HOP_LENGTH = 512
N_CLASSES = 5
VOCAB = 40

#: Trainable parameter bounds of each model at its defaults (small enough to train on a laptop CPU).
PARAMETER_BOUNDS = {name: (50_000, 500_000) for name in MODELS}


def make(name: str, window: int = WINDOW, **kwargs):
    torch.manual_seed(0)
    return create_model(
        name,
        n_classes=N_CLASSES,
        n_mels=N_MELS,
        window_frames=window,
        hop_length=HOP_LENGTH,
        vocab_size=VOCAB if input_kind(name) == "mel+meta" else None,
        **kwargs,
    ).eval()


def with_time(model, inputs: tuple, frames: int) -> tuple:
    """``inputs`` with the time axis changed to ``frames`` frames (samples for waveform models)."""
    first = inputs[0]
    if model.input_names[0] == "wave":
        shape = (first.shape[0], 1, frames * HOP_LENGTH)
        return (0.1 * torch.randn(shape), *inputs[1:])
    return (torch.randn(first.shape[0], 1, N_MELS, frames) * 20 - 30, *inputs[1:])


def export_onnx(model) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            model,
            model.example_inputs(2),
            f,
            input_names=list(model.input_names),
            output_names=list(model.output_names),
            dynamic_axes=model.dynamic_axes,
            opset_version=17,
            dynamo=False,
        )
    return f.getvalue()


@pytest.fixture(scope="module", params=sorted(MODELS))
def name(request) -> str:
    return request.param


def test_protocol_attributes(name):
    model = make(name)
    assert model.output_names == ("logits",)
    assert model.input_names in (("mel",), ("mel", "meta"), ("wave",))
    assert set(model.dynamic_axes) == set(model.input_names) | {"logits"}
    assert model.dynamic_axes["logits"] == {0: "batch"}
    assert all(axes.get(0) == "batch" for axes in model.dynamic_axes.values())
    inputs = model.example_inputs(3)
    assert len(inputs) == len(model.input_names)
    for tensor, input_name in zip(inputs, model.input_names, strict=True):
        if input_name == "meta":
            assert tensor.dtype == torch.int64 and tensor.ndim == 2
        else:
            assert tensor.dtype == torch.float32 and tensor.shape[:2] == (3, 1)
    if model.input_names[0] == "mel":
        assert inputs[0].shape[2:] == (N_MELS, WINDOW)
    else:
        assert inputs[0].shape[2] == WINDOW * HOP_LENGTH


def test_forward_shapes_and_dynamic_batch_and_time(name):
    model = make(name)
    with torch.no_grad():
        for batch in (1, 4):
            assert model(*model.example_inputs(batch)).shape == (batch, N_CLASSES)
        longer = with_time(model, model.example_inputs(2), WINDOW * 2 + 7)
        assert model(*longer).shape == (2, N_CLASSES)
        out = model(*model.example_inputs(2))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_parameter_count_within_bounds(name):
    low, high = PARAMETER_BOUNDS[name]
    n = make(name, window=128).num_parameters()
    assert low <= n <= high, f"{name}: {n} parameters"


def test_rebuilds_from_model_kwargs(name):
    model = make(name)
    rebuilt = build_model(model_class_path(model), model.model_kwargs)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert rebuilt.state_dict()[key].shape == value.shape, key


def test_onnx_export_matches_pytorch(name):
    model = make(name)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(export_onnx(model), options, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(model.input_names)
    assert [o.name for o in session.get_outputs()] == ["logits"]
    cases = [model.example_inputs(2), model.example_inputs(1), model.example_inputs(3)]
    cases.append(with_time(model, model.example_inputs(3), WINDOW + 29))  # dynamic time
    for inputs in cases:
        with torch.no_grad():
            expected = model(*inputs).numpy()
        feeds = {n: t.numpy() for n, t in zip(model.input_names, inputs, strict=True)}
        got = session.run(None, feeds)[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_mel_models_accept_floor_padding(name):
    """A tail window padded with -100 dB (the runtime's pad value) gives finite logits."""
    model = make(name)
    inputs = list(model.example_inputs(2))
    if model.input_names[0] == "mel":
        inputs[0][..., WINDOW // 2 :] = -100.0
    else:
        inputs[0][..., inputs[0].shape[-1] // 2 :] = 0.0
    with torch.no_grad():
        assert torch.isfinite(model(*inputs)).all()


def test_fusion_without_metadata():
    """All-zero meta of shape (B, 1), the runtime's default, is valid; so is leaving meta out."""
    model = make("fusion")
    mel = model.example_inputs(2)[0]
    with torch.no_grad():
        zeros = model(mel, torch.zeros(2, 1, dtype=torch.int64))
        none = model(mel)
        pair = model((mel, torch.zeros(2, 1, dtype=torch.int64)))
        out_of_range = model(mel, torch.full((2, 3), VOCAB + 5, dtype=torch.int64))
    torch.testing.assert_close(zeros, none)
    torch.testing.assert_close(zeros, pair)
    torch.testing.assert_close(zeros, out_of_range)
    with_meta = model(mel, torch.tensor([[1, 2, 3], [4, 0, 0]]))
    assert not torch.allclose(with_meta, zeros)


def test_fusion_metadata_dropout_only_in_training():
    model = make("fusion", meta_dropout=0.5, token_dropout=0.2)
    meta = torch.randint(1, VOCAB + 1, (64, 8))
    with torch.no_grad():
        a = model.embed_meta(meta)
        b = model.embed_meta(meta)
        torch.testing.assert_close(a, b)
        model.train()
        dropped = model.embed_meta(meta)
    assert (dropped[:, -1] == 0).any() and (dropped[:, -1] == 1).any()


def test_bad_arguments_are_parameter_errors():
    with pytest.raises(ParameterError, match="unknown model"):
        make("vgg")
    with pytest.raises(ParameterError, match="channels"):
        make("cnn5", channels=[8, 16])
    with pytest.raises(ParameterError, match="stem_stride"):
        make("cnn5", stem_stride=3)
    with pytest.raises(ParameterError, match="stem_pool"):
        make("cnn5", stem_stride=2, stem_pool="yes")
    with pytest.raises(ParameterError, match="heads"):
        make("ast", dim=30, heads=4)
    with pytest.raises(ParameterError, match="set by the task"):
        make("hubert", window_samples=4096)
    with pytest.raises(ParameterError, match="bad argument"):
        make("resnet", depth=3)
    with pytest.raises(ParameterError, match="vocab"):
        create_model("fusion", n_classes=2, n_mels=128, window_frames=64, hop_length=512)
    model = make("cnn5")
    with pytest.raises(ParameterError, match="mel must be"):
        model(torch.zeros(2, 1, 64, WINDOW))
    with pytest.raises(ParameterError, match="at least"):
        model(torch.zeros(2, 1, N_MELS, 8))


def test_parse_model_args():
    assert parse_model_args(["depth=2", "channels=[8,16]", "dropout=0.2", "mode=fast", "pos-kernel=15"]) == {
        "depth": 2,
        "channels": [8, 16],
        "dropout": 0.2,
        "mode": "fast",
        "pos_kernel": 15,
    }
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_model_args(["depth"])


def test_cnn5_strided_stem_halves_in_the_convolution_and_exports():
    """``stem_stride=2``: the first block's convolution does the pool's halving, so the blocks after it
    see the same shapes, at a quarter of the first convolution's multiply-adds; ONNX equals PyTorch."""
    pooled, strided = make("cnn5"), make("cnn5", stem_stride=2)
    mel = torch.randn(2, 1, N_MELS, WINDOW) * 20 - 30
    first = strided.blocks[0]
    assert first.conv.stride == (2, 2) and isinstance(first.pool, torch.nn.Identity)
    assert first(mel).shape == pooled.blocks[0](mel).shape == (2, 16, N_MELS // 2, WINDOW // 2)
    assert strided(mel).shape == (2, N_CLASSES)
    assert build_model(model_class_path(strided), strided.model_kwargs).blocks[0].conv.stride == (2, 2)
    session = ort.InferenceSession(export_onnx(strided), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = strided(mel).numpy()
    np.testing.assert_allclose(session.run(None, {"mel": mel.numpy()})[0], expected, atol=1e-4)


def test_cnn5_strided_and_pooled_stem_quarters_the_resolution():
    """``stem_stride=2, stem_pool=True``: the first block halves twice, so every later block works on a
    quarter of the positions and the windows need ``2 ** 6`` frames; it round-trips through its
    ``model_kwargs`` and exports."""
    model = make("cnn5", stem_stride=2, stem_pool=True)
    mel = torch.randn(2, 1, N_MELS, WINDOW) * 20 - 30
    assert model.blocks[0](mel).shape == (2, 16, N_MELS // 4, WINDOW // 4)
    assert model.min_frames == 64 and model(mel).shape == (2, N_CLASSES)
    again = build_model(model_class_path(model), model.model_kwargs)
    assert isinstance(again.blocks[0].pool, torch.nn.MaxPool2d) and again.blocks[0].conv.stride == (2, 2)
    with pytest.raises(ParameterError, match="at least 64"):
        model(torch.zeros(1, 1, N_MELS, 32))
    session = ort.InferenceSession(export_onnx(model), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(mel).numpy()
    np.testing.assert_allclose(session.run(None, {"mel": mel.numpy()})[0], expected, atol=1e-4)


def test_mel_norm_in_eval_mode_is_the_affine_and_batch_norm_folded():
    """Exported graphs get one scale and shift per band: the same numbers as the affine followed by
    the BatchNorm on its running statistics (what training-mode forward normalises towards)."""
    norm = MelNorm(N_MELS)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        norm.bn.running_mean.uniform_(-1.0, 1.0, generator=generator)
        norm.bn.running_var.uniform_(0.5, 2.0, generator=generator)
        norm.bn.weight.uniform_(0.5, 2.0, generator=generator)
        norm.bn.bias.uniform_(-1.0, 1.0, generator=generator)
    mel = torch.randn(3, 1, N_MELS, 20, generator=generator) * 30 - 60  # some below the floor
    norm.eval()
    with torch.no_grad():
        reference = norm.bn(((torch.clamp(mel, min=DB_FLOOR) + 50.0) / 30.0).transpose(1, 2)).transpose(1, 2)
        torch.testing.assert_close(norm(mel), reference, atol=1e-5, rtol=1e-5)
