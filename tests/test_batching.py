"""CrossFileBatcher: full batches across owners, outputs back in order, inline or on a thread pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from musicedge.batching import CrossFileBatcher


class Owners:
    """Owners that record what they get, and on which thread."""

    def __init__(self) -> None:
        self.got: dict[int, list[np.ndarray]] = {}
        self.threads: set[int] = set()

    def owner(self, key: int):
        def take(outputs: np.ndarray) -> None:
            self.threads.add(threading.get_ident())
            self.got.setdefault(key, []).append(outputs.copy())

        return take

    def rows(self, key: int) -> np.ndarray:
        return np.concatenate(self.got[key])


def _inputs(rng: np.random.Generator, n_owners: int) -> list[np.ndarray]:
    return [rng.standard_normal((int(rng.integers(1, 12)), 3)).astype(np.float32) for _ in range(n_owners)]


def _slow_first(batches_seen: list[int], lock: threading.Lock):
    """Doubles its rows; the earlier a batch was submitted, the longer it takes, so that on a pool
    later batches finish first."""

    def run(batch: np.ndarray) -> np.ndarray:
        with lock:
            index = len(batches_seen)
            batches_seen.append(len(batch))
        time.sleep(max(0.0, 0.03 - 0.005 * index))
        return batch * 2.0

    return run


@pytest.mark.parametrize("pooled", [False, True])
def test_every_owner_gets_its_own_rows_in_order(pooled):
    rng = np.random.default_rng(0)
    inputs = _inputs(rng, 9)
    owners, seen, lock = Owners(), [], threading.Lock()
    with ThreadPoolExecutor(3) as pool:
        batcher = CrossFileBatcher(
            _slow_first(seen, lock), 8, executor=pool if pooled else None, max_in_flight=3
        )
        for key, x in enumerate(inputs):
            batcher.add(owners.owner(key), x[:5])
        for key, x in enumerate(inputs):
            batcher.add(owners.owner(key), x[5:])
        batcher.flush()
    for key, x in enumerate(inputs):
        np.testing.assert_array_equal(owners.rows(key), x * 2.0)
    assert sum(seen) == sum(len(x) for x in inputs)
    assert all(size == 8 for size in seen[:-1])  # full batches; only the flushed one is short
    assert owners.threads == {threading.get_ident()}  # owners are called from the caller's thread only
    assert batcher.pending == 0


def test_a_pool_keeps_at_most_max_in_flight_batches_waiting():
    release = threading.Event()
    started = []

    def run(batch: np.ndarray) -> np.ndarray:
        started.append(len(batch))
        release.wait(5)
        return batch

    owners = Owners()
    with ThreadPoolExecutor(8) as pool:
        batcher = CrossFileBatcher(run, 2, executor=pool, max_in_flight=3)
        for key in range(3):
            batcher.add(owners.owner(key), np.zeros((2, 1), np.float32))
        time.sleep(0.05)
        assert len(started) == 3 and not owners.got  # three batches run, nothing handed over yet
        timer = threading.Timer(0.1, release.set)
        timer.start()
        batcher.add(owners.owner(3), np.zeros((2, 1), np.float32))  # a fourth: waits for the oldest
        assert 0 in owners.got
        batcher.flush()
        timer.join()
    assert sorted(owners.got) == [0, 1, 2, 3]


def test_a_failing_batch_raises_in_the_caller():
    def run(batch: np.ndarray) -> np.ndarray:
        raise RuntimeError("model failed")

    with ThreadPoolExecutor(2) as pool:
        batcher = CrossFileBatcher(run, 4, executor=pool)
        batcher.add(Owners().owner(0), np.zeros((3, 1), np.float32))
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.flush()
