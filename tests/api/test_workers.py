"""The fast path's threads (workers.py): results and errors reach the request, threads
start only as work needs them, and a shutdown finishes what was handed over."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from aftersales.entrypoints.api.workers import Workers


def test_a_result_and_an_error_reach_the_awaiting_request() -> None:
    workers = Workers(2, "t")

    def boom() -> None:
        raise ValueError("bad")

    async def both() -> tuple[int, str]:
        value = await workers.run(lambda a, b: a + b, 2, 3)
        with pytest.raises(ValueError, match="bad"):
            await workers.run(boom)
        return value, threading.current_thread().name

    value, loop_thread = asyncio.run(both())
    workers.shutdown()
    assert value == 5 and not loop_thread.startswith("t-")


def test_the_work_runs_off_the_event_loop_on_at_most_the_threads_asked_for() -> None:
    workers = Workers(3, "t")
    seen: set[str] = set()
    running = 0
    most = 0
    lock = threading.Lock()

    def slow() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            seen.add(threading.current_thread().name)
        time.sleep(0.02)
        with lock:
            running -= 1

    async def many() -> None:
        await asyncio.gather(*(workers.run(slow) for _ in range(12)))

    asyncio.run(many())
    workers.shutdown()
    assert most == 3 and seen == {"t-0", "t-1", "t-2"}


def test_threads_start_only_as_work_needs_them() -> None:
    workers = Workers(16, "t")
    assert workers._threads == []

    async def one_after_another() -> None:
        for _ in range(20):
            await workers.run(lambda: None)

    asyncio.run(one_after_another())
    workers.shutdown()
    assert len(workers._threads) == 1  # the one thread was idle each time


def test_a_shutdown_finishes_the_work_handed_over_and_then_refuses_more() -> None:
    workers = Workers(1, "t")
    done: list[int] = []
    started = threading.Event()

    def job(i: int) -> None:
        started.set()
        time.sleep(0.01)
        done.append(i)

    async def hand_over() -> None:
        loop = asyncio.get_running_loop()
        pending = [loop.create_task(workers.run(job, i)) for i in range(3)]
        await asyncio.sleep(0)  # the three are queued
        await asyncio.to_thread(started.wait)
        await asyncio.to_thread(workers.shutdown)
        await asyncio.gather(*pending)
        with pytest.raises(RuntimeError, match="shut down"):
            await workers.run(job, 9)

    asyncio.run(hand_over())
    assert done == [0, 1, 2]


def test_a_request_that_went_away_leaves_the_thread_unharmed() -> None:
    workers = Workers(1, "t")
    release = threading.Event()

    async def cancel_then_use() -> int:
        waiting = asyncio.ensure_future(workers.run(release.wait))
        await asyncio.sleep(0.01)
        waiting.cancel()
        release.set()
        return await workers.run(lambda: 7)

    assert asyncio.run(cancel_then_use()) == 7
    workers.shutdown()
