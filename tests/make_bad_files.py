"""A corpus of awkward and broken inputs for ``musicedge analyze`` (and any batch command).

    python tests/make_bad_files.py DIR [--long-seconds 7200]     # writes the files into DIR
    python tests/make_bad_files.py DIR --table                   # ... and prints what analyze makes of each

Each entry is (file name, what it is, the outcome expected: ``ok`` or the error type). The valid but
unusual files (8-bit and 24-bit PCM, 96 kHz, six channels, a non-UTF-8 name, a two-hour file) must be
analysed; the broken ones must each get one error record while the rest of the batch completes.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

NON_UTF8_NAME = b"caf\xe9-latin1-name.wav"


def _music(sr: int, seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2
    y += 0.05 * rng.standard_normal(len(t))
    return (
        np.repeat(y[:, None], channels, axis=1).astype(np.float32) if channels > 1 else y.astype(np.float32)
    )


def _encoded(y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _write_long(path: Path, seconds: float, sr: int = 16000) -> None:
    """A long 16-bit WAV written block by block (never the whole signal in memory)."""
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16", format="WAV") as f:
        block = _music(sr, 60.0, seed=7)
        left = int(seconds * sr)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def make(folder: str | os.PathLike, *, long_seconds: float = 7200.0) -> list[tuple[str, str, str]]:
    """Write the corpus into ``folder`` (created); returns (name, description, expected outcome) rows."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sr = 22050
    good = _music(sr, 8.0)
    wav = _encoded(good, sr, "WAV", "PCM_16")
    mp3 = _encoded(good, sr, "MP3")
    ogg = _encoded(good, sr, "OGG", "VORBIS")
    nan = good.copy()
    nan[sr * 3 : sr * 3 + 10] = np.nan
    rows: list[tuple[str, str, str]] = []

    def put(name: str, data: bytes, what: str, expected: str) -> None:
        (out / name).write_bytes(data)
        rows.append((name, what, expected))

    put("good.wav", wav, "a valid 8 s WAV", "ok")
    put("zero-length.wav", b"", "zero bytes", "AudioError")
    put("header-only.wav", wav[:44], "a WAV header and no samples", "AudioError")
    put("truncated.mp3", mp3[: len(mp3) // 2], "an MP3 cut in half", "AudioError")
    put("truncated.ogg", ogg[: len(ogg) // 2], "an Ogg Vorbis file cut in half", "AudioError")
    put("random-bytes.wav", np.random.default_rng(1).bytes(50_000), "random bytes named .wav", "AudioError")
    put("notes.txt", b"verse, chorus, verse\n" * 100, "a text file", "AudioError")
    put("nan-samples.wav", _encoded(nan, sr, "WAV", "FLOAT"), "float WAV with NaN samples", "AudioError")
    put("pcm8.wav", _encoded(good, sr, "WAV", "PCM_U8"), "8-bit PCM", "ok")
    put("pcm24.wav", _encoded(good, sr, "WAV", "PCM_24"), "24-bit PCM", "ok")
    put("96khz.wav", _encoded(_music(96000, 5.0), 96000, "WAV", "PCM_16"), "96 kHz", "ok")
    put("six-channels.wav", _encoded(_music(sr, 5.0, channels=6), sr, "WAV", "PCM_16"), "6 channels", "ok")
    put(
        "no-permission.wav",
        _encoded(_music(sr, 4.0, seed=3), sr, "WAV", "PCM_16"),
        "a valid WAV, unreadable",
        "AudioError",
    )
    os.chmod(out / "no-permission.wav", 0)
    link = out / "broken-link.wav"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(out / "does-not-exist.wav")
    rows.append(("broken-link.wav", "a symbolic link to nothing", "AudioError"))
    with open(os.path.join(os.fsencode(out), NON_UTF8_NAME), "wb") as f:
        f.write(wav)
    rows.append((os.fsdecode(NON_UTF8_NAME), "a Latin-1 file name (not UTF-8)", "ok"))
    if long_seconds > 0:
        _write_long(out / "two-hours.wav", long_seconds)
        rows.append(("two-hours.wav", f"{long_seconds / 3600:g} h of 16 kHz PCM, generated here", "ok"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--long-seconds", type=float, default=7200.0)
    parser.add_argument(
        "--table", action="store_true", help="run musicedge analyze and print a markdown table"
    )
    parser.add_argument("--tasks", default="classify")
    args = parser.parse_args(argv)
    rows = make(args.folder, long_seconds=args.long_seconds)
    if not args.table:
        return 0
    import json
    import subprocess

    from musicedge.audio import display_path

    out = Path(args.folder) / "_analysis"
    files = [os.path.join(args.folder, name) for name, _, _ in rows]
    command = [sys.executable, "-m", "musicedge", "analyze", *files, "--out", str(out), "--tasks", args.tasks]
    status = subprocess.run(command, capture_output=True).returncode
    records = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["path"]] = record
    print(f"`{' '.join(['musicedge analyze', 'FILES...', '--tasks', args.tasks])}`: exit status {status}\n")
    print("| input | what it is | expected | outcome |")
    print("|---|---|---|---|")
    for (name, what, expected), path in zip(rows, files, strict=True):
        record = records.get(display_path(path))
        if record is None:
            outcome = "(no record)"
        elif "errors" in record:
            error = next(iter(record["errors"].values()))
            outcome = f"{error['type']}: {error['message'].replace(str(args.folder) + '/', '')}"
        else:
            outcome = f"ok ({record['duration_s']:.1f} s)"
            if name == "no-permission.wav" and os.geteuid() == 0:
                outcome += (
                    " (run as root, who reads any file; tests/test_analyze.py checks a user's AudioError)"
                )
        print(f"| `{display_path(name)}` | {what} | {expected} | {outcome} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
