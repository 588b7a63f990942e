"""Writes ``musicedge/models/probe.onnx``: the smallest model (Identity on a float tensor), which the
runtime runs to learn which ONNX Runtime providers really work here.

    python -m export.probe
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from . import IR_VERSION, OPSET

PROBE_PATH = Path(__file__).resolve().parent.parent / "musicedge" / "models" / "probe.onnx"


def probe_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="musicedge"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(probe_model(), PROBE_PATH)
    print(f"wrote {PROBE_PATH} ({PROBE_PATH.stat().st_size} bytes)")
