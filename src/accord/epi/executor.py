"""Where heavy numerical work runs: any standard :class:`concurrent.futures.Executor`. A local process pool by
default, a Dask cluster (``dask.distributed.Client(address).get_executor()``) when an address is given. Pure of
database and web code; the work itself is a picklable top-level function applied to chunks of indices, so the
numbers never depend on where (or in how many pieces) they were computed.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: environment variable naming a Dask scheduler to use when no address is given
DASK_ENV = "ACCORD_DASK_ADDRESS"
#: what Dask workers need in their environment: Dask runs tasks in worker threads, whose malloc arenas are trimmed
#: and regrown around every large numpy temporary; without a pad the models run about twice as slowly there
#: (docs/scenarios.md, Performance)
WORKER_MALLOC_PAD = ("MALLOC_TOP_PAD_", str(64 * 2**20))


def unpadded_workers(client: Any) -> list[str]:
    """The workers of a Dask ``client`` whose own environment has no ``MALLOC_TOP_PAD_`` (``os.getenv`` travels by
    name and runs in each worker process)."""
    seen: dict[str, str | None] = client.run(os.getenv, WORKER_MALLOC_PAD[0])
    return sorted(worker for worker, value in seen.items() if not value)


def _warn_if_unpadded(client: Any, address: str) -> None:
    try:
        slow = unpadded_workers(client)
    except Exception:  # a performance hint must never stop the work
        return
    if slow:
        name, value = WORKER_MALLOC_PAD
        warnings.warn(f"{len(slow)} Dask worker(s) at {address} have no {name} in their environment and will run "
                      f"the model about twice as slowly; start them with {name}={value}",
                      RuntimeWarning, stacklevel=4)  # fmt: skip


@contextmanager
def open_executor(dask: str | None = None, workers: int | None = None) -> Iterator[Executor]:
    """A local process pool (``workers`` processes, default: the CPU count), or the executor of a Dask client
    connected to ``dask`` (or to ``$ACCORD_DASK_ADDRESS``). Closed on exit."""
    address = dask or os.environ.get(DASK_ENV) or None
    if address:
        from dask import distributed

        connect: Any = distributed.Client  # untyped library
        try:
            client: Any = connect(address, timeout="5s")
        except OSError as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            _warn_if_unpadded(client, address)
            yield client.get_executor()
        finally:
            client.close()
        return
    count = workers or min(os.cpu_count() or 1, 8)
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def chunks(total: int, size: int) -> list[range]:
    """``range(total)`` cut into consecutive pieces of at most ``size``."""
    if size < 1:
        raise ValueError("a chunk holds at least one item")
    return [range(a, min(a + size, total)) for a in range(0, total, size)]


def map_chunks(
    work: Callable[..., Sequence[T]],
    total: int,
    *args: Any,
    executor: Executor | None = None,
    chunk_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> list[T]:
    """``work(*args, start, stop)`` returns one result per index in ``start .. stop - 1``; run it over
    ``range(total)`` in chunks on ``executor`` (inline when None) and return the results in index order.
    ``progress(done, total)`` is called as chunks finish."""
    pieces = chunks(total, chunk_size)
    out: list[T | None] = [None] * total
    done = 0
    if executor is None:
        for piece in pieces:
            out[piece.start : piece.stop] = list(work(*args, piece.start, piece.stop))
            done += len(piece)
            if progress:
                progress(done, total)
        return _complete(out)
    futures: dict[Future[Sequence[T]], range] = {
        executor.submit(work, *args, piece.start, piece.stop): piece for piece in pieces
    }
    for fut in as_completed(futures):
        piece = futures[fut]
        out[piece.start : piece.stop] = list(fut.result())
        done += len(piece)
        if progress:
            progress(done, total)
    return _complete(out)


def _complete(out: list[T | None]) -> list[T]:
    if any(x is None for x in out):
        raise RuntimeError("a chunk returned fewer results than indices")
    return [x for x in out if x is not None]
