"""argparse value types shared by the ``python -m training`` commands: a bad value is a usage error
(exit status 2) that says what was expected."""

from __future__ import annotations

import argparse
import dataclasses


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def config_from_args(cls, args: argparse.Namespace, **overrides):
    """``cls``, a dataclass of a run's settings, from the command line's options of the same names
    (settings without an option keep their defaults); ``overrides`` for options spelled or parsed
    otherwise."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    return cls(**{**given, **overrides})
