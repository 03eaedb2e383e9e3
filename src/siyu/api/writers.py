"""Where group-committed records are written: in the collecting thread, or in a process
of its own (`api_writer`, see `api.batching`). Both run `write_group`: one transaction per
tenant and origin, in which the records' API keys are checked and the tenant's settings read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import pickle
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from siyu import ingest, online, tenants
from siyu.config import Settings
from siyu.runtime import Runtime
from siyu.store import open_store
from siyu.store.bulk import freeze_heap


class RevokedKeyError(PermissionError):
    """The key a record came with was revoked before its batch was written."""


class WriterLostError(RuntimeError):
    """The writing process stopped during the batch: whether it was stored is unknown
    (posting the record again is safe, imports are idempotent)."""


@dataclass(frozen=True)
class Submission:
    """One record to write, as it crosses to the writer (plain, picklable values)."""

    key_id: int
    tenant_id: int
    item: dict[str, Any]
    origin: str


Outcome = ingest.RecordResult | Exception


class Writer(Protocol):
    def write(self, groups: list[list[Submission]]) -> list[list[Outcome]]: ...

    def close(self) -> None: ...


def write_group(*, runtime: Runtime, group: list[Submission]) -> list[Outcome]:
    """Import one tenant's records of one origin in one transaction; a group that fails
    as a whole is retried record by record. One outcome per record."""
    try:
        return _accept(runtime, group)
    except Exception as error:
        if len(group) == 1:
            return [error]
        # find the record that fails; the others go through
        return [write_group(runtime=runtime, group=[submission])[0] for submission in group]


def _accept(runtime: Runtime, group: list[Submission]) -> list[Outcome]:
    outcomes: list[Outcome] = [RevokedKeyError("the API key was revoked") for _ in group]
    with runtime.session() as session:
        valid = tenants.unrevoked_api_keys(session=session, key_ids={o.key_id for o in group})
        kept = [i for i, submission in enumerate(group) if submission.key_id in valid]
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


class ThreadWriter:
    """Writes in the collecting thread, inside the server's process."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def write(self, groups: list[list[Submission]]) -> list[list[Outcome]]:
        return [write_group(runtime=self._runtime, group=group) for group in groups]

    def close(self) -> None:
        pass


class ProcessWriter:
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

    def write(self, groups: list[list[Submission]]) -> list[list[Outcome]]:
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
