"""Audio loading: decode with soundfile, mix to mono, resample with soxr, block by block.

Every reader goes through :func:`stream`, which holds one block at a time, so a two-hour file is never
in memory as float64 (or at its native rate, or in all its channels); :func:`load` fills one float32
array from it. Files that cannot be used raise :class:`~musicedge.errors.AudioError` naming the file
and the problem: missing, unreadable, not audio, truncated, empty.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import AudioError, ParameterError

#: File extensions that folder walks pick up (what libsndfile 1.1+ decodes).
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au"})

DEFAULT_BLOCK_SECONDS = 30.0


def display_path(path: str | os.PathLike) -> str:
    """``path`` as valid UTF-8 text: file-name bytes that are not UTF-8 (surrogate escapes in Python)
    become ``\\xNN``, so the path can go into messages, JSON and SQLite."""
    return os.fspath(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _open(path: str | os.PathLike):
    import soundfile as sf

    p = Path(path)
    name = display_path(p)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioError(
            f"{name}: no such file" + (" (a broken symbolic link)" if p.is_symlink() else "")
        ) from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{name}: is a folder, not an audio file")
    if not os.access(p, os.R_OK):
        raise AudioError(f"{name}: permission denied")
    if st.st_size == 0:
        raise AudioError(f"{name}: empty file (0 bytes)")
    try:
        handle = sf.SoundFile(os.fsencode(p))  # bytes: names that are not UTF-8 open too
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        message = str(exc).replace(f"Error opening {os.fsencode(p)!r}: ", "")
        if message.startswith("File does not exist"):  # libsndfile's words for a file it cannot parse
            message = "format not recognised"
        raise AudioError(f"{name}: cannot decode as audio ({message})") from None
    if handle.channels < 1 or handle.samplerate <= 0:
        handle.close()
        raise AudioError(f"{name}: header declares {handle.channels} channels at {handle.samplerate} Hz")
    return handle


def _check_container(path: Path, fmt: str) -> None:
    """Truncation that libsndfile passes over in silence: a WAV data chunk longer than the file, an
    Ogg stream without its end-of-stream page."""
    if fmt == "WAV":
        declared, offset = _wav_data_chunk(path)
        if declared is not None and declared != 0xFFFFFFFF and offset + declared > path.stat().st_size:
            raise AudioError(
                f"{display_path(path)}: truncated WAV: data chunk declares {declared} bytes, file holds "
                f"{path.stat().st_size - offset}"
            )
    elif fmt == "OGG":
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 65536))
            tail = f.read()
        last = tail.rfind(b"OggS")
        if last < 0 or last + 6 > len(tail) or not tail[last + 5] & 0x04:
            raise AudioError(
                f"{display_path(path)}: truncated Ogg stream (its last page is not an end-of-stream page)"
            )


def _wav_data_chunk(path: Path) -> tuple[int | None, int]:
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None, 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None, 0
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                return size, f.tell()
            f.seek(size + (size & 1), os.SEEK_CUR)


def info(path: str | os.PathLike) -> dict:
    """Sample rate, channels, frames, duration (s), format and subtype, from the header."""
    with _open(path) as f:
        return {
            "sample_rate": f.samplerate,
            "channels": f.channels,
            "frames": f.frames,
            "duration": f.frames / f.samplerate,
            "format": f.format,
            "subtype": f.subtype,
        }


def stream(
    path: str | os.PathLike,
    sr: int | None = None,
    *,
    mono: bool = True,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
) -> Iterator[np.ndarray]:
    """Decode ``path`` block by block: float32 arrays of shape ``(n,)`` when ``mono``, else ``(channels, n)``,
    resampled to ``sr`` (None keeps the file's rate). The first value the generator yields is the output
    sample rate (an int); the blocks follow.
    """
    import soundfile as sf

    if sr is not None and (not isinstance(sr, (int, np.integer)) or sr <= 0):
        raise ParameterError(f"sr must be a positive integer or None, got {sr!r}")
    if block_seconds <= 0:
        raise ParameterError(f"block_seconds must be positive, got {block_seconds}")
    p = Path(path)
    name = display_path(p)
    handle = _open(p)
    with handle as f:
        _check_container(p, f.format)
        native_sr, channels = f.samplerate, f.channels
        out_sr = int(sr) if sr is not None else native_sr
        out_channels = 1 if mono else channels
        resampler = None
        if out_sr != native_sr:
            import soxr

            resampler = soxr.ResampleStream(native_sr, out_sr, out_channels, dtype="float32", quality="HQ")
        yield out_sr
        block = max(1, int(block_seconds * native_sr))
        decoded = 0
        while True:
            try:
                data = f.read(block, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(f"{name}: decoding failed after {decoded} frames ({exc})") from None
            last = len(data) < block
            decoded += len(data)
            if mono:
                data = data.mean(axis=1, dtype=np.float32)[:, None] if channels > 1 else data
            if resampler is not None:
                data = resampler.resample_chunk(data, last=last)
            if len(data):
                out = data[:, 0] if mono else data.T
                yield np.ascontiguousarray(out)
            if last:
                break
        declared, fmt = f.frames, f.format
    if decoded == 0:
        raise AudioError(f"{name}: no audio frames")
    # An MP3 header's length is an estimate (encoder delay and padding, VBR tables): allow 2 %.
    expected = declared * 0.98 if fmt == "MP3" else declared
    if 0 < declared and decoded < expected:
        raise AudioError(
            f"{name}: truncated: header declares {declared} frames, only {decoded} could be decoded"
        )


def load(
    path: str | os.PathLike,
    sr: int | None = None,
    mono: bool = True,
    *,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
) -> tuple[np.ndarray, int]:
    """Decode a whole file: ``(y, sr)`` with ``y`` float32 ``(n,)`` (mono) or ``(channels, n)``, as librosa.

    wav, flac, ogg/vorbis, opus and mp3 (and the other formats libsndfile reads). ``sr=None`` keeps the
    file's own rate; otherwise soxr resamples (HQ) block by block.
    """
    blocks = stream(path, sr, mono=mono, block_seconds=block_seconds)
    out_sr = next(blocks)
    parts = list(blocks)
    y = np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
    return y, out_sr


def load_input(
    item: str | os.PathLike | np.ndarray, sr: int | None, sample_rate: int
) -> tuple[np.ndarray, str | None]:
    """What every task takes: a path (decoded and resampled to ``sample_rate``) or a 1-D float array
    with its rate ``sr`` (checked with :func:`validate_audio`, resampled). Returns the samples and the
    path as text (``None`` for an array).

    Raises:
        ParameterError: an array without ``sr``.
        AudioError: unusable audio (the message names the file).
    """
    if isinstance(item, np.ndarray):
        if sr is None:
            raise ParameterError("sr is required with an array (the sample rate of its samples)")
        y = validate_audio(item)
        if sr != sample_rate:
            import soxr

            y = soxr.resample(y, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
        return y, None
    y, _ = load(item, sr=sample_rate)
    path = display_path(item)
    if y.size == 0:
        raise AudioError(f"{path}: no samples")
    return y, path


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average the channels of a ``(channels, n)`` array (librosa's layout); a 1-D array passes through."""
    y = np.asarray(y)
    if y.ndim == 1:
        return y
    if y.ndim != 2:
        raise AudioError(f"audio must be 1-D or (channels, n), got shape {y.shape}")
    return y.mean(axis=0, dtype=np.float32 if y.dtype != np.float64 else np.float64)


def validate_audio(y: np.ndarray, *, name: str = "audio") -> np.ndarray:
    """The guard at every entry point that takes an array: 1-D, floating point, non-empty, finite.
    Returns a float32 C-contiguous view or copy."""
    if not isinstance(y, np.ndarray):
        raise AudioError(f"{name} must be a numpy array, got {type(y).__name__}")
    if y.dtype.kind != "f":
        hint = " (scale integer PCM to [-1, 1] first)" if y.dtype.kind in "iu" else ""
        raise AudioError(f"{name} must hold floating-point samples, got dtype {y.dtype}{hint}")
    if y.ndim != 1:
        raise AudioError(
            f"{name} must be 1-D mono, got shape {y.shape} (mix down with musicedge.audio.to_mono)"
        )
    if y.size == 0:
        raise AudioError(f"{name} is empty")
    if not np.isfinite(y).all():
        bad = int(np.flatnonzero(~np.isfinite(y))[0])
        raise AudioError(f"{name} contains {'NaN' if np.isnan(y[bad]) else 'Inf'} at sample {bad}")
    return np.ascontiguousarray(y, dtype=np.float32)


def find_audio(paths: list[str | os.PathLike]) -> list[Path]:
    """Files named by ``paths``, folders walked recursively for audio extensions, sorted, in input order."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_EXTENSIONS and not q.is_dir())
            )
        else:
            found.append(p)  # missing files are reported when they are read
    return found
