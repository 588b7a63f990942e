"""How monotonically the descriptors could move along a straight path at all: references for the
latent model's interpolation figure (issue 7), on the same held-out pairs as its card.

    python -m training.tasks.latent_references --data DATA/train --test-data DATA/test \
        [--extra-audio DIR ...] [--model latent]

Scored with :func:`musicedge.latent.interpolation_monotonicity`, four paths between the same two
held-out excerpts:

- the model's own: its decoder along the straight line between the two latents (the card's figure);
- PCA with as many components: the straight line between the two coefficient vectors, decoded;
- the two excerpts themselves mixed in dB (a perfect autoencoder whose decoder is linear in dB);
- the two excerpts themselves mixed in power (a perfect crossfade).

The last two say what a model that reconstructed every excerpt exactly would get: mixed in dB, the
loudness of the middle dips below both ends (a log-sum-exp is convex); mixed in power, loudness,
centroid and bass ratio move exactly monotonically (logarithm and ratios of affine functions of the
step), but the middle holds the onsets of both ends, so onset density does not.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from musicedge.config import FrontendConfig
from musicedge.latent import LatentModel, interpolation_monotonicity, latent_path

from .latent import (
    PCA_EXCERPTS_PER_TRACK,
    LatentConfig,
    fixed_excerpts,
    held_out_pairs,
    pca_basis,
    prepare_data,
)

DB_FLOOR = -100.0  # the frontend's floor, as in the reconstruction error


class _Reference:
    """The little of :class:`~musicedge.latent.LatentModel` that the monotonicity measure uses, over
    any "latent" (PCA coefficients, the excerpts' own bins) and its decoder to dB excerpts."""

    def __init__(
        self, decode: Callable[[np.ndarray], np.ndarray], config: FrontendConfig, descriptor_std: np.ndarray
    ):
        self.decode = decode
        self.frontend_config = config
        self.descriptor_std = descriptor_std

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int, mode: str = "linear") -> np.ndarray:
        return latent_path(a, b, steps, mode)


def references(model: LatentModel, train_x: np.ndarray, test_x: np.ndarray, seed: int = 0) -> dict:
    """The four paths' monotonicity (``interpolation_monotonicity``'s dicts) on the held-out pairs of
    ``test_x`` ``(N, C, M, T)`` that the card's figure uses; PCA is fitted on ``train_x``."""
    mels = np.maximum(test_x[:, 0], DB_FLOOR).astype(np.float64)
    shape = mels.shape[1:]
    flat = mels.reshape(len(mels), -1)
    a, b = held_out_pairs(len(test_x), np.random.default_rng(seed))
    config, std = model.frontend_config, model.descriptor_std

    def as_mels(rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows, np.float64).reshape(len(rows), *shape)

    mean, basis, _ = pca_basis(train_x[:, 0], model.latent_dim)
    coefficients = (flat - mean) @ basis.T
    power = np.power(10.0, flat / 10.0)
    z = model.encode_batch(test_x)
    paths = {
        "model": (model, z),
        f"pca_{model.latent_dim}": (
            _Reference(lambda c: as_mels(c @ basis + mean), config, std),
            coefficients,
        ),
        "excerpts_mixed_in_db": (_Reference(as_mels, config, std), flat),
        "excerpts_mixed_in_power": (
            _Reference(lambda p: as_mels(10.0 * np.log10(np.maximum(p, 1e-10))), config, std),
            power,
        ),
    }
    return {
        name: interpolation_monotonicity(path, points[a], points[b], steps=9, mode="linear")
        for name, (path, points) in paths.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.tasks.latent_references", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", type=Path, required=True, help="the training corpus (PCA is fitted on it)")
    parser.add_argument("--test-data", type=Path, required=True, help="the held-out corpus")
    parser.add_argument("--extra-audio", type=Path, action="append", default=[], help="as in training")
    parser.add_argument("--model", default="latent", help="a bundled name or an encoder ONNX file")
    args = parser.parse_args(argv)
    model = LatentModel.load(args.model, threads=1)
    cfg = LatentConfig(
        data=args.data,
        out=Path("."),
        test_data=args.test_data,
        extra_audio=args.extra_audio,
        frames=model.frames,
        n_mels=model.frontend_config.n_mels,
        channels=model.channels,
        threads=1,
    )
    prepared = prepare_data(cfg, io.StringIO())
    # the excerpts the card's PCA and interpolation figures use (held_out_metrics, runtime_metrics)
    train_x, _ = fixed_excerpts(prepared.train, cfg.frames, per_track=PCA_EXCERPTS_PER_TRACK)
    test_x, _ = fixed_excerpts(prepared.test, cfg.frames)
    result = references(model, train_x, test_x)
    for name, m in result.items():
        per = ", ".join(f"{k} {v:.3f}" for k, v in m["spearman_per_descriptor"].items() if v is not None)
        print(
            f"{name}: {m['spearman_mean']:.3f} over all pairs, {m['spearman_mean_distinct']:.3f} where the "
            f"ends differ (n = {m['n_distinct']}); {per}",
            file=sys.stderr,
        )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
