"""Group commit for single-record requests: records posted at the same time share one
transaction of the online path, written outside the server's request loop.

One event per request, each in its own transaction, costs ≈ 12× the CPU per event of the
same events in one transaction (identity lookups, trait refresh, audiences, journey
triggers and the commit are paid per transaction). Requests hand their record to one
collecting thread; it takes whatever has queued up while the last batch was written (nothing
is held back waiting for company, so a lone request is not delayed) and has it written as
one `online.accept_records` call. Each request gets its own record's result. A batch that
fails as a whole is run again record by record, so one bad record fails only its request.

The writing happens in a process of its own by default (`api_writer = "process"`,
`api.writers`): the server's requests and the import then each have a core, instead of
taking turns on one interpreter lock. `"thread"` writes in the collecting thread.

Requests come with the grant of their API key, which the server may remember between
requests; the batch's own transaction checks that each key is still unrevoked and reads
the tenant's settings, so a revoked key writes nothing once its revocation has committed.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

from siyu import ingest, tenants
from siyu.api.writers import (
    ProcessWriter,
    RevokedKeyError,
    Submission,
    ThreadWriter,
    Writer,
    WriterLostError,
)
from siyu.runtime import Runtime

__all__ = ["RecordBatcher", "RevokedKeyError", "WriterBusyError", "WriterLostError"]

MAX_BATCH = 500  # records per transaction; more waiting requests go in the next one
# Records allowed to wait for the writer: ≈ a second of its work. Beyond it a request is
# turned away at once (503, try again) instead of queueing without bound in memory.
MAX_WAITING = 5_000


class WriterBusyError(RuntimeError):
    """Too many records are waiting for the writer; the record was not taken."""


@dataclass
class _Pending:
    submission: Submission
    result: Future[ingest.RecordResult] = field(default_factory=Future)


class RecordBatcher:
    """Runs submitted records through the online path, many per transaction."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
        writer: Literal["process", "thread"] | None = None,
    ) -> None:
        self._runtime = runtime
        self._max_batch = max_batch
        self._max_waiting = max_waiting
        self._placement = writer or runtime.settings.api_writer
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(
        self, *, grant: tenants.KeyGrant, item: dict[str, Any], origin: str
    ) -> Future[ingest.RecordResult]:
        """Queue one record to import with whatever else is waiting; its result (index 0)
        to come. Raises `WriterBusyError` when `max_waiting` records already wait."""
        if self.waiting() >= self._max_waiting:
            raise WriterBusyError("too many events are waiting to be written; try again")
        pending = _Pending(Submission(grant.key_id, grant.tenant_id, item, origin))
        self.start()
        self._queue.put(pending)
        return pending.result

    def waiting(self) -> int:
        """Records submitted and not yet taken by the writer."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start collecting (and the writing process): done by the first submit, or ahead
        of it by a server starting up."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="siyu-record-batcher")
                self._thread.daemon = True
                self._thread.start()

    def close(self) -> None:
        """Finish what was submitted, then stop the writer."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _open_writer(self) -> Writer:
        if self._placement == "process":
            return ProcessWriter(self._runtime.settings)
        return ThreadWriter(self._runtime)

    def _run(self) -> None:
        writer = self._open_writer()
        try:
            while True:
                batch, stop = self._take()
                if batch and not self._answer(writer, batch):
                    writer.close()  # a writer that failed is replaced, not tried again
                    writer = self._open_writer()
                if stop:
                    return
        finally:
            writer.close()

    def _take(self) -> tuple[list[_Pending], bool]:
        """What has queued up (waiting for the first), and whether to stop after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
        return batch, False

    def _answer(self, writer: Writer, batch: list[_Pending]) -> bool:
        """Write the batch and answer its requests; False if the writer itself failed."""
        groups = _groups(batch)
        try:
            outcomes = writer.write([[p.submission for p in group] for group in groups])
        except Exception as error:  # e.g. the writing process died: its batch fails
            for pending in batch:
                pending.result.set_exception(error)
            return False
        for group, answers in zip(groups, outcomes, strict=True):
            for pending, outcome in zip(group, answers, strict=True):
                if isinstance(outcome, Exception):
                    pending.result.set_exception(outcome)
                else:
                    pending.result.set_result(outcome)
        return True


def _groups(batch: list[_Pending]) -> list[list[_Pending]]:
    """The batch by tenant and origin, in arrival order within each."""
    grouped: dict[tuple[int, str], list[_Pending]] = {}
    for pending in batch:
        grouped.setdefault((pending.submission.tenant_id, pending.submission.origin), []).append(
            pending
        )
    return list(grouped.values())
