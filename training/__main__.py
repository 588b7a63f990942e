"""``python -m training COMMAND ...``: one entry point for corpus generation and every training task.

Each command lives in its own module, which provides ``add_parser(subparsers)``; the parser it adds
carries ``func`` (called with the parsed arguments, returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module providing add_parser(subparsers)
COMMANDS = {
    "corpus": "training.corpus.cli",
    "classify": "training.tasks.classify",
    "latent": "training.tasks.latent",
    "segment": "training.tasks.segment",
    "fingerprint": "training.tasks.fingerprint",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
