"""Export trained models to self-describing ONNX files, verified against PyTorch.

``python -m export RUN_DIR/best.pt -o MODEL.onnx [--int8]``.
"""

#: The ONNX IR version and opset written: ones the pinned ONNX Runtime loads (recent ``onnx`` writes a
#: newer IR version by default).
IR_VERSION = 9
OPSET = 17
