"""Reading and validating in a worker process while the main process writes (bulk mode).

Parsing, validation and preparing the stored columns are about half an import's CPU; the
store and identity writes are the other half and need the one database connection. With
two cores, a worker process judges batch N+1 while the main process writes batch N. The
queue between them holds a few batches, so memory stays flat on any file size.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from queue import Empty
from typing import Any

from sqlalchemy import Dialect

from siyu.identity import RecordIdentity
from siyu.ingest.readers import Input, RawRecord, open_inputs
from siyu.ingest.validate import Judged, judge
from siyu.records import Prepared
from siyu.store.db import offline_dialect
from siyu.tenants import TenantContext

_QUEUED_BATCHES = 3
_DONE = "done"
_FAILED = "failed"


@dataclass(frozen=True)
class JudgedBatch:
    """One batch of judged records and how far its file has been read."""

    file: str
    position: int
    size: int
    items: list[Judged]


class WorkerError(RuntimeError):
    """The worker process failed; the message carries its traceback."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run one batch without the cyclic garbage collector.

    A batch allocates hundreds of thousands of small containers, which keeps triggering
    collections that walk every live object (measured: a third of the import time). The
    batch is bounded, so its garbage is collected right after it instead.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def raw_batches(stream: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    while batch := list(islice(stream, size)):
        yield batch


def judged_batches(
    inputs: Iterator[Input],
    *,
    tenant: TenantContext,
    batch_size: int,
    dialect: Dialect | None = None,
) -> Iterator[JudgedBatch]:
    """Judge the inputs batch by batch in this process (`dialect`: see `judge`)."""
    for item in inputs:
        batches = raw_batches(item.records, batch_size)
        while True:
            with collector_paused():  # reading a batch allocates as much as judging it
                batch = next(batches, None)
                if batch is None:
                    break
                judged = [judge(raw, tenant=tenant, dialect=dialect) for raw in batch]
            yield JudgedBatch(str(item.path), item.progress.position, item.size, judged)


def judged_in_worker(
    paths: Sequence[Path],
    *,
    kind: str | None,
    source: str | None,
    tenant: TenantContext,
    batch_size: int,
    store_dialect: str,
) -> Iterator[JudgedBatch]:
    """`judged_batches` of canonical files, computed by a worker process; for a SQLite
    store the worker also converts the values to what the columns store."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a database
    queue: Any = context.Queue(maxsize=_QUEUED_BATCHES)
    convert = store_dialect == "sqlite"
    worker = context.Process(
        target=_work,
        args=(queue, list(paths), kind, source, tenant, batch_size, convert),
        name="siyu-ingest-judge",
        daemon=True,
    )
    worker.start()
    try:
        while True:
            message = _next(queue, worker)
            if isinstance(message, bytes):
                with collector_paused():  # unpickling a batch builds its objects anew
                    batch = _unpacked(message)
                yield batch
            elif message[0] == _DONE:
                return
            else:
                raise WorkerError(f"the import's worker process failed:\n{message[1]}")
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        queue.close()


def _next(queue: Any, worker: Any) -> Any:
    """The worker's next message; a worker that died without saying so is an error."""
    while True:
        try:
            return queue.get(timeout=1.0)
        except Empty:
            if not worker.is_alive():
                try:  # what it wrote before exiting is in the pipe by now
                    return queue.get(timeout=1.0)
                except Empty:
                    code = worker.exitcode
                    raise WorkerError(
                        f"the import's worker process died (exit code {code})"
                    ) from None


def _work(
    queue: Any,
    paths: list[Path],
    kind: str | None,
    source: str | None,
    tenant: TenantContext,
    batch_size: int,
    convert: bool,
) -> None:
    try:
        inputs = open_inputs(paths, kind=kind, source=source)
        dialect = offline_dialect("sqlite") if convert else None
        batches = judged_batches(inputs, tenant=tenant, batch_size=batch_size, dialect=dialect)
        for batch in batches:
            with collector_paused():
                queue.put(_packed(batch))
        queue.put((_DONE, ""))
    except BaseException:  # the main process raises it
        queue.put((_FAILED, traceback.format_exc()))


# A batch crosses the process boundary as bytes pickled here, without the collector (the
# queue's feeder thread would pickle it with the collector running), and as plain tuples:
# pickling slotted dataclasses calls `dataclasses.fields` per object, which cost more than
# judging the records did.
def _packed(batch: JudgedBatch) -> bytes:
    items: list[Any] = [
        (
            j.line,
            j.head,
            j.raw,
            j.rejection,
            None
            if (r := j.record) is None
            else (r.kind, r.source, r.record_id, r.content_hash, r.values, r.bound),
            None if (i := j.identity) is None else (i.kind, i.source, i.record_id, i.keys),
        )
        for j in batch.items
    ]
    return pickle.dumps((batch.file, batch.position, batch.size, items), protocol=5)


def _unpacked(message: bytes) -> JudgedBatch:
    file, position, size, packed = pickle.loads(message)
    items = [
        Judged(
            line,
            head,
            raw,
            rejection,
            None if record is None else Prepared(*record),
            None
            if identity is None
            else RecordIdentity(
                kind=identity[0], source=identity[1], record_id=identity[2], keys=identity[3]
            ),
        )
        for line, head, raw, rejection, record, identity in packed
    ]
    return JudgedBatch(file, position, size, items)
