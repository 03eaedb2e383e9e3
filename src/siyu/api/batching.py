"""Group commit for single-record requests: records posted at the same time share one
transaction of the online path, written outside the server's request loop.

One event per request, each in its own transaction, costs ≈ 12× the CPU per event of the
same events in one transaction (identity lookups, trait refresh, audiences, journey
triggers and the commit are paid per transaction). Requests hand their record to one
collecting thread; it takes whatever has queued up while the last batch was written (nothing
is held back waiting for company, so a lone request is not delayed) and has it written as
one `online.accept_records` call. Each request gets its own record's result. A batch that
fails as a whole is run again record by record, so one bad record fails only its request.

The writing happens in a process of its own by default (`api_writer = "process"`): the
server's requests and the import then each have a core, instead of taking turns on one
interpreter lock. `"thread"` writes in the collecting thread (one process, e.g. tests that
look inside the write).

Requests come with the grant of their API key, which the server may remember between
requests; the batch's own transaction checks that each key is still unrevoked and reads
the tenant's settings, so a revoked key writes nothing once its revocation has committed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import pickle
import queue
import signal
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, Protocol

from siyu import ingest, online, tenants
from siyu.config import Settings
from siyu.runtime import Runtime
from siyu.store import open_store
from siyu.store.bulk import freeze_heap

MAX_BATCH = 500  # records per transaction; more waiting requests go in the next one
# Records allowed to wait for the writer: ≈ a second of its work. Beyond it a request is
# turned away at once (503, try again) instead of queueing without bound in memory.
MAX_WAITING = 5_000


class RevokedKeyError(PermissionError):
    """The key a record came with was revoked before its batch was written."""


class WriterBusyError(RuntimeError):
    """Too many records are waiting for the writer; the record was not taken."""


class WriterLostError(RuntimeError):
    """The writing process stopped during the batch: whether it was stored is unknown
    (posting the record again is safe, imports are idempotent)."""


@dataclass(frozen=True)
class Order:
    """One record to write, as it crosses to the writer (plain, picklable values)."""

    key_id: int
    tenant_id: int
    item: dict[str, Any]
    origin: str


Outcome = ingest.RecordResult | Exception


@dataclass
class _Pending:
    order: Order
    result: Future[ingest.RecordResult] = field(default_factory=Future)


class _Writer(Protocol):
    def write(self, groups: list[list[Order]]) -> list[list[Outcome]]: ...

    def close(self) -> None: ...


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
        if self._queue.qsize() >= self._max_waiting:
            raise WriterBusyError("too many events are waiting to be written; try again")
        pending = _Pending(Order(grant.key_id, grant.tenant_id, item, origin))
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

    def _open_writer(self) -> _Writer:
        if self._placement == "process":
            return _ProcessWriter(self._runtime.settings)
        return _ThreadWriter(self._runtime)

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

    def _answer(self, writer: _Writer, batch: list[_Pending]) -> bool:
        """Write the batch and answer its requests; False if the writer itself failed."""
        groups = _groups(batch)
        try:
            outcomes = writer.write([[p.order for p in group] for group in groups])
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
        grouped.setdefault((pending.order.tenant_id, pending.order.origin), []).append(pending)
    return list(grouped.values())


def write_group(*, runtime: Runtime, group: list[Order]) -> list[Outcome]:
    """Import one tenant's records of one origin in one transaction; a group that fails
    as a whole is retried record by record. One outcome per record."""
    try:
        return _accept(runtime, group)
    except Exception as error:
        if len(group) == 1:
            return [error]
        # find the record that fails; the others go through
        return [write_group(runtime=runtime, group=[order])[0] for order in group]


def _accept(runtime: Runtime, group: list[Order]) -> list[Outcome]:
    revoked = RevokedKeyError("the API key was revoked")
    outcomes: list[Outcome] = [revoked] * len(group)
    with runtime.session() as session:
        valid = tenants.unrevoked_api_keys(session=session, key_ids={o.key_id for o in group})
        kept = [i for i, order in enumerate(group) if order.key_id in valid]
        if not kept:
            return outcomes
        tenant = tenants.get_tenant_by_id(session=session, tenant_id=group[kept[0]].tenant_id)
        _report, results = online.accept_records(
            session=session,
            tenant=tenant,
            items=[group[i].item for i in kept],
            origin=group[kept[0]].origin,
        )
    for i, result in zip(kept, results, strict=True):
        outcomes[i] = dataclasses.replace(result, index=0, line=1)
    return outcomes


class _ThreadWriter:
    """Writes in the collecting thread, inside the server's process."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def write(self, groups: list[list[Order]]) -> list[list[Outcome]]:
        return [write_group(runtime=self._runtime, group=group) for group in groups]

    def close(self) -> None:
        pass


class _ProcessWriter:
    """Writes in a child process of its own, one batch at a time over a pipe."""

    def __init__(self, settings: Settings) -> None:
        # spawn, not fork: the server has threads (and their locks) a fork would copy
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve_writes, args=(child, settings), name="siyu-record-writer", daemon=True
        )
        self._process.start()
        child.close()

    def write(self, groups: list[list[Order]]) -> list[list[Outcome]]:
        try:
            self._conn.send(groups)
            answer: list[list[Outcome]] = self._conn.recv()
        except (EOFError, OSError) as error:
            raise WriterLostError("the writing process stopped; post the record again") from error
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(None)
        self._process.join(timeout=60)
        self._conn.close()


def serve_writes(conn: Connection, settings: Settings) -> None:
    """The writing process: answers each batch of groups it receives, until told to stop."""
    # Ctrl-C reaches the whole process group: the server's shutdown stops this process
    # after the batches it already took, so it does not die in the middle of one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runtime = Runtime(settings=settings, store=open_store(settings.database_url))
    freeze_heap()  # what is loaded by now lives as long as the process
    try:
        while (groups := conn.recv()) is not None:
            outcomes = [write_group(runtime=runtime, group=group) for group in groups]
            conn.send([[_picklable(outcome) for outcome in answers] for answers in outcomes])
    except (EOFError, BrokenPipeError):
        pass  # the server is gone (killed): nobody is left to answer
    finally:
        runtime.store.dispose()


def _picklable(outcome: Outcome) -> Outcome:
    """An exception the server can unpickle (some carry arguments they cannot be rebuilt
    from): as itself if it can, else as a RuntimeError naming it."""
    if not isinstance(outcome, Exception):
        return outcome
    try:
        pickle.loads(pickle.dumps(outcome))
    except Exception:
        return RuntimeError(f"{type(outcome).__name__}: {outcome}")
    return outcome
