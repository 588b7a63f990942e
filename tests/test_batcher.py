"""FrameBatcher: windows, batches, tail policies, streaming against offline."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicedge import FrameBatcher, ParameterError


def reference_windows(frames: np.ndarray, window: int, hop: int, tail: str, pad_value: float) -> np.ndarray:
    """Straightforward numpy version of the documented policy."""
    n_mels, n = frames.shape
    starts = []
    s = 0
    while s < n:
        if s + window <= n:
            starts.append(s)
        elif tail == "pad" and (not starts or starts[-1] + window < n):
            starts.append(s)
        s += hop
    if tail == "pad" and n and not starts:
        starts = [0]
    out = np.full((len(starts), 1, n_mels, window), pad_value, np.float32)
    for i, s in enumerate(starts):
        piece = frames[:, s : s + window]
        out[i, 0, :, : piece.shape[1]] = piece
    return out


def collect(batcher: FrameBatcher) -> tuple[np.ndarray, np.ndarray]:
    batches, starts = [], []
    while batcher.num_windows_ready:
        b, s = batcher.pop_batch()
        assert b.flags.c_contiguous and b.dtype == np.float32
        assert 1 <= len(b) <= batcher.batch_size
        batches.append(b)
        starts.append(s)
    if not batches:
        return np.zeros((0, 1, batcher.n_mels, batcher.window), np.float32), np.zeros(0, np.int64)
    return np.concatenate(batches), np.concatenate(starts)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(0, 300),
    window=st.integers(1, 40),
    hop=st.integers(1, 50),
    batch=st.integers(1, 7),
    tail=st.sampled_from(["pad", "drop"]),
    pieces=st.lists(st.integers(1, 60), min_size=1, max_size=6),
)
def test_streaming_and_offline_equal_the_reference(n, window, hop, batch, tail, pieces):
    frames = np.random.default_rng(n).standard_normal((5, n)).astype(np.float32)
    expected = reference_windows(frames, window, hop, tail, -80.0)
    batcher = FrameBatcher(5, window, hop, batch_size=batch, tail=tail, pad_value=-80.0)
    assert batcher.num_windows(n) == len(expected)
    offline = np.concatenate([b for b, _ in batcher.batches(frames)]) if len(expected) else expected
    np.testing.assert_array_equal(offline, expected)

    batcher.reset()
    got, pos, i = [], 0, 0
    while pos < n:
        step = pieces[i % len(pieces)]
        batcher.accept_frames(frames[:, pos : pos + step])
        pos += step
        i += 1
        got.append(collect(batcher)[0])
    batcher.input_finished()
    windows, starts = collect(batcher)
    got.append(windows)
    streamed = np.concatenate(got)
    np.testing.assert_array_equal(streamed, expected)


def test_starts_and_strided_input():
    frames = np.arange(2 * 10, dtype=np.float32).reshape(10, 2).T  # (2, 10), not contiguous
    batcher = FrameBatcher(2, window=4, hop=3, batch_size=8, tail="pad", pad_value=0.0)
    batch, starts = next(batcher.batches(frames))
    assert starts.tolist() == [0, 3, 6]
    np.testing.assert_array_equal(batch[1, 0], frames[:, 3:7])
    np.testing.assert_array_equal(batch[2, 0, :, :4], frames[:, 6:10])


def test_short_input_gives_one_padded_window_or_none():
    frames = np.ones((3, 5), np.float32)
    padded = list(FrameBatcher(3, 8, 4, tail="pad", pad_value=-1.0).batches(frames))
    assert len(padded) == 1 and padded[0][0].shape == (1, 1, 3, 8)
    assert (padded[0][0][0, 0, :, 5:] == -1.0).all()
    assert list(FrameBatcher(3, 8, 4, tail="drop").batches(frames)) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_mels": 0, "window": 4, "hop": 2}, "n_mels"),
        ({"n_mels": 4, "window": 0, "hop": 2}, "window"),
        ({"n_mels": 4, "window": 4, "hop": 0}, "hop"),
        ({"n_mels": 4, "window": 4, "hop": 2, "batch_size": 0}, "batch_size"),
        ({"n_mels": 4, "window": 4, "hop": 2, "tail": "wrap"}, "tail"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        FrameBatcher(**kwargs)
