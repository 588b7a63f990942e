"""Export trained models to self-describing ONNX files, verified against PyTorch.

``python -m export RUN_DIR/best.pt -o MODEL.onnx [--int8]``.
"""

#: The ONNX IR version and opset written: ones the pinned ONNX Runtime loads (recent ``onnx`` writes a
#: newer IR version by default).
IR_VERSION = 9
OPSET = 17

# The public API, imported after the constants above (the submodules read them).
from .onnx_export import ExportReport as ExportReport  # noqa: E402
from .onnx_export import export_checkpoint as export_checkpoint  # noqa: E402
from .onnx_export import export_model as export_model  # noqa: E402
from .verify import VerificationError as VerificationError  # noqa: E402
from .verify import compare as compare  # noqa: E402
from .verify import compare_onnx as compare_onnx  # noqa: E402
