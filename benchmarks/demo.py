"""The README's main job on its built-in default: generate a small demo library, run the C++ frontend
over every file through the Python API (decode, resample, mel), and report what it did and how fast.

    python -m benchmarks.demo --out out/demo
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from musicedge import FrontendConfig, MelFrontend, MusicEdgeError
from musicedge.audio import find_audio, load

from .signals import music_like


def make_library(folder: Path, tracks: int, seconds: float) -> list[Path]:
    """Seeded music-like WAV files at 44.1 kHz stereo, the common library format."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(tracks):
        path = folder / f"track_{i:02d}.wav"
        if not path.exists():
            mono = music_like(44100, seconds, seed=100 + i)
            sf.write(path, np.stack([mono, 0.8 * mono], axis=1), 44100, subtype="PCM_16")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--preset", default="melon16k")
    args = parser.parse_args(argv)

    make_library(args.out / "library", args.tracks, args.seconds)
    config = FrontendConfig.preset(args.preset)
    frontend = MelFrontend(config)
    (args.out / "mel").mkdir(parents=True, exist_ok=True)
    failures = 0
    audio_seconds = decode_seconds = mel_seconds = 0.0
    for path in find_audio([args.out / "library"]):
        try:
            t0 = time.perf_counter()
            y, sr = load(path, sr=config.sample_rate)
            t1 = time.perf_counter()
            frames = frontend.compute(y)
            t2 = time.perf_counter()
        except MusicEdgeError as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        np.save(args.out / "mel" / f"{path.stem}.npy", frames)
        audio_seconds += len(y) / sr
        decode_seconds += t1 - t0
        mel_seconds += t2 - t1
        print(
            f"{path.name}: {len(y) / sr:6.1f} s -> mel {frames.shape[0]} x {frames.shape[1]} "
            f"({frames.min():.1f} .. {frames.max():.1f} dB)"
        )
    print(
        f"{audio_seconds:.0f} s of audio: decode + resample {audio_seconds / decode_seconds:.0f}x real time, "
        f"mel ({args.preset}) {audio_seconds / mel_seconds:.0f}x real time; mels in {args.out / 'mel'}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
