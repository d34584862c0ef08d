"""Threads for the fast path's blocking work, handed over with less machinery than
`loop.run_in_executor`.

`run_in_executor` chains a `concurrent.futures.Future` to an asyncio future: two futures,
a lock and a condition a call, and a callback that copies one future's state into the
other. Measured with a bare uvicorn app on this machine (wrk, 8 connections, a body of
1 KB): 38,000 requests/s answering on the event loop, 15,200 through `run_in_executor`,
25,500 through this (bench/RESULTS.md) — about 27 µs of CPU a request saved. Here a job is
a tuple on a `SimpleQueue` (C), and the thread hands its result straight to the loop's
future with `call_soon_threadsafe`. Threads start as jobs need them (as
ThreadPoolExecutor's do): an app that never serves a request starts none.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Workers:
    def __init__(self, threads: int, name: str) -> None:
        self._most = threads
        self._name = name
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # threads waiting for a job
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on one of the threads; its result or its exception here."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._submit((loop, done, fn, args))
        return await done

    def _submit(self, job: tuple[Any, ...]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the workers were shut down")
            self._jobs.put(job)
            if not self._idle.acquire(timeout=0) and len(self._threads) < self._most:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:  # shutdown
                return
            loop, done, fn, args = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the waiting request, as an executor does
                result, error = None, exc
            # idle before the answer goes out: the request it wakes may hand over its next job
            self._idle.release()
            with contextlib.suppress(RuntimeError):  # (a closed loop: nobody waits any more)
                loop.call_soon_threadsafe(_settle, done, result, error)
            del job, loop, done, fn, args, result, error

    def shutdown(self) -> None:
        """Finish the jobs already handed over, then stop the threads."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
            for _ in threads:
                self._jobs.put(None)
        for thread in threads:
            thread.join()


def _settle(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.cancelled():  # the request went away while its work ran
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)
