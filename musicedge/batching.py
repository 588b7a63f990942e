"""Model inputs from many files, run in shared batches: what keeps ONNX Runtime busy with full batches
when files are short, while each file still gets its own outputs back, in order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future

import numpy as np

Owner = Callable[[np.ndarray], None]


class CrossFileBatcher:
    """Gathers inputs ``(n, ...)`` from many owners and runs them ``batch_size`` rows at a time.

    ``add(owner, inputs)`` queues the rows; whenever ``batch_size`` rows wait, one batch runs through
    ``run`` (``(b, ...) -> (b, ...)``) and each owner is called with the outputs of its own rows, in the
    order they were added (an owner may be called several times, with consecutive pieces). ``flush()``
    runs what is left and hands every output over. Rows of one batch must share their shape beyond the
    first axis.

    With an ``executor`` the batches run there, several at a time (``run`` must be safe to call from
    several threads, as an ONNX Runtime session is), while the caller goes on gathering; owners are
    still called in order and only from the caller's thread: from ``add``, ``deliver`` and ``flush``.
    At most ``max_in_flight`` batches wait for their outputs; ``add`` then waits for the oldest.
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], np.ndarray],
        batch_size: int,
        *,
        executor: Executor | None = None,
        max_in_flight: int = 4,
    ) -> None:
        self.run = run
        self.batch_size = batch_size
        self.executor = executor
        self.max_in_flight = max_in_flight
        self._queue: deque[tuple[Owner, np.ndarray]] = deque()
        self._in_flight: deque[tuple[Future, list[Owner], list[int]]] = deque()
        self.pending = 0

    def add(self, owner: Owner, inputs: np.ndarray) -> None:
        if len(inputs):
            self._queue.append((owner, inputs))
            self.pending += len(inputs)
        while self.pending >= self.batch_size:
            self._run_batch()
        self.deliver()

    def flush(self) -> None:
        while self.pending:
            self._run_batch()
        self.deliver(wait=True)

    def deliver(self, wait: bool = False) -> None:
        """Hand the outputs of finished batches to their owners, oldest first; with ``wait``, of all
        batches. A batch whose ``run`` raised raises here."""
        while self._in_flight and (wait or self._in_flight[0][0].done()):
            self._hand_over_oldest()

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
        self.pending -= size
        batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
        sizes = [len(part) for part in parts]
        if self.executor is None:
            self._hand_over(self.run(batch), owners, sizes)
            return
        self._in_flight.append((self.executor.submit(self.run, batch), owners, sizes))
        while len(self._in_flight) > self.max_in_flight:
            self._hand_over_oldest()

    def _hand_over_oldest(self) -> None:
        """Wait for the oldest batch in flight and hand its outputs over."""
        future, owners, sizes = self._in_flight.popleft()
        self._hand_over(future.result(), owners, sizes)

    @staticmethod
    def _hand_over(outputs: np.ndarray, owners: list[Owner], sizes: list[int]) -> None:
        offset = 0
        for owner, size in zip(owners, sizes, strict=True):
            owner(outputs[offset : offset + size])
            offset += size
