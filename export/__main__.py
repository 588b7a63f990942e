"""``python -m export RUN_DIR/best.pt -o MODEL.onnx [--int8] [--no-verify] [--calibration DIR_OR_NPY]``

Rebuilds the model of a training checkpoint, writes it as ONNX with its ``musicedge.*`` metadata,
verifies it against PyTorch with ONNX Runtime (and, with ``--int8``, writes and checks
``MODEL.int8.onnx``), and prints a short report. Exit status: 0 when written (and verified), 1 when
the checkpoint cannot be exported or a check fails (nothing is written then), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from musicedge.errors import MusicEdgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a training checkpoint to a verified, self-describing ONNX file.",
    )
    parser.add_argument("checkpoint", type=Path, help="a training checkpoint, e.g. RUN_DIR/best.pt")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="the .onnx file to write (default: the checkpoint's path with .onnx)",
    )
    parser.add_argument(
        "--int8", action="store_true", help="also write MODEL.int8.onnx, quantized and checked against fp32"
    )
    parser.add_argument(
        "--int8-method",
        choices=("auto", "static", "dynamic"),
        default="auto",
        help="auto (default): the faster of static and dynamic among those that keep top-1 accuracy",
    )
    parser.add_argument("--no-verify", action="store_true", help="write without checking against PyTorch")
    parser.add_argument(
        "--calibration",
        action="append",
        type=Path,
        metavar="DIR_OR_NPY",
        help="real inputs for verification and int8 calibration: audio files, .npy arrays or folders of "
        "them (repeatable; default: ../shared/data/real/music when present)",
    )
    parser.add_argument("--atol", type=float, default=1e-4, help="fp32 tolerance (default 1e-4)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from .onnx_export import export_checkpoint
    from .verify import VerificationError

    args = build_parser().parse_args(argv)
    output = args.output or args.checkpoint.with_suffix(".onnx")
    try:
        report = export_checkpoint(
            args.checkpoint,
            output,
            int8=args.int8,
            verify=not args.no_verify,
            calibration=args.calibration,
            atol=args.atol,
            int8_method=args.int8_method,
        )
    except VerificationError as exc:
        if exc.report is not None:
            print(exc.report.summary(), file=sys.stderr)
        print(f"error: verification failed: {exc}", file=sys.stderr)
        return 1
    except MusicEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
