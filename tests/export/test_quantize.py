"""The float stem of static int8 (``export.quantize.float_stem``) on small hand-built graphs:
which nodes stay float, and that moving the pool ahead of the Relu leaves the outputs unchanged."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from export import IR_VERSION, OPSET
from export.quantize import FEW_CHANNELS, float_stem


def _graph(in_channels: int, *, pool_indices: bool = False) -> onnx.ModelProto:
    """x (1, C, 12, 12) -> Mul (input scaling) -> Conv 3x3 -> Relu -> MaxPool 2x2 -> Conv 3x3 -> y."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, in_channels, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 8, 3, 3)).astype(np.float32), "w2")
    scale = numpy_helper.from_array(np.array(0.5, np.float32), "scale")
    pool_outputs = ["pooled", "indices"] if pool_indices else ["pooled"]
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["scaled"], name="scale"),
        helper.make_node("Conv", ["scaled", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], pool_outputs, name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["pooled", "w2"], ["y"], name="conv2", pads=[1, 1, 1, 1]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])]
    if pool_indices:
        outputs.append(helper.make_tensor_value_info("indices", TensorProto.INT64, [1, 8, 6, 6]))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_channels, 12, 12])],
        outputs,
        [w1, w2, scale],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x})[0]


def test_a_first_convolution_over_one_channel_stays_float_with_the_pool_moved_ahead():
    model = _graph(1)
    x = np.random.default_rng(1).standard_normal((1, 1, 12, 12)).astype(np.float32)
    before = _run(model, x)

    kept = float_stem(model)

    assert kept == ["scale", "conv1", "pool1", "relu1"]
    onnx.checker.check_model(model)
    by_name = {node.name: node for node in model.graph.node}
    assert by_name["pool1"].input[0] == "c1" and by_name["relu1"].input[0] == by_name["pool1"].output[0]
    assert by_name["relu1"].output[0] == "pooled"  # the tensor the second convolution reads
    assert [node.name for node in model.graph.node] == ["scale", "conv1", "pool1", "relu1", "conv2"]
    np.testing.assert_array_equal(_run(model, x), before)


@pytest.mark.parametrize("channels", [FEW_CHANNELS, 8])
def test_a_first_convolution_over_enough_channels_is_quantized(channels):
    model = _graph(channels)
    assert float_stem(model) == ["scale"]
    assert [node.name for node in model.graph.node] == ["scale", "conv1", "relu1", "pool1", "conv2"]


def test_a_pool_that_returns_indices_is_left_in_place():
    model = _graph(1, pool_indices=True)
    assert float_stem(model) == ["scale", "conv1", "relu1"]
    assert [node.name for node in model.graph.node] == ["scale", "conv1", "relu1", "pool1", "conv2"]


def test_a_chain_that_ends_in_a_graph_output_keeps_the_output_name():
    model = _graph(1)
    del model.graph.node[4]
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 8, 6, 6]))
    assert float_stem(model) == ["scale", "conv1", "pool1", "relu1"]
    assert model.graph.node[-1].output[0] == "pooled"
    onnx.checker.check_model(model)


def test_unnamed_stem_nodes_get_names_and_a_graph_without_convolutions_has_no_stem():
    plain = _graph(1)
    for node in plain.graph.node:
        node.name = ""
    kept = float_stem(plain)
    assert len(kept) == 4 and all(kept) and len(set(kept)) == 4
    no_conv = helper.make_model(
        helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"], name="only")],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        )
    )
    assert float_stem(no_conv) == []
