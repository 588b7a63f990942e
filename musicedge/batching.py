"""Model inputs from many files, run in shared batches: what keeps ONNX Runtime busy with full batches
when files are short, while each file still gets its own outputs back, in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np


class CrossFileBatcher:
    """Gathers inputs ``(n, ...)`` from many owners and runs them ``batch_size`` rows at a time.

    ``add(owner, inputs)`` queues the rows; whenever ``batch_size`` rows wait, one batch runs through
    ``run`` (``(b, ...) -> (b, ...)``) and each owner is called with the outputs of its own rows, in the
    order they were added (an owner may be called several times, with consecutive pieces). ``flush()``
    runs what is left. Rows of one batch must share their shape beyond the first axis.
    """

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], batch_size: int) -> None:
        self.run = run
        self.batch_size = batch_size
        self._queue: deque[tuple[Callable[[np.ndarray], None], np.ndarray]] = deque()
        self.pending = 0

    def add(self, owner: Callable[[np.ndarray], None], inputs: np.ndarray) -> None:
        if len(inputs):
            self._queue.append((owner, inputs))
            self.pending += len(inputs)
        while self.pending >= self.batch_size:
            self._run_batch()

    def flush(self) -> None:
        while self.pending:
            self._run_batch()

    def _run_batch(self) -> None:
        parts, owners, size = [], [], 0
        while self._queue and size < self.batch_size:
            owner, inputs = self._queue[0]
            part = inputs[: self.batch_size - size]
            parts.append(part)
            owners.append(owner)
            size += len(part)
            if len(part) == len(inputs):
                self._queue.popleft()
            else:
                self._queue[0] = (owner, inputs[len(part) :])
        outputs = self.run(parts[0] if len(parts) == 1 else np.concatenate(parts))
        offset = 0
        for owner, part in zip(owners, parts, strict=True):
            owner(outputs[offset : offset + len(part)])
            offset += len(part)
        self.pending -= size
