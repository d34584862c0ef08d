"""Ids are UUIDv7 (ISSUE 3: "ids generated in the application, time-ordered and not guessable")."""

from __future__ import annotations

import os
import threading
import time
import uuid

from aftersales.adapters.ids import new_id


def test_an_id_is_an_rfc_9562_version_7_uuid() -> None:
    value = uuid.UUID(new_id())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_the_first_48_bits_are_the_unix_milliseconds_of_creation() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_made_later_sort_later() -> None:
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first


def test_ids_do_not_repeat_and_their_random_bits_vary() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert len(set(ids)) == len(ids)
    # 74 random bits: the 12 after the version nibble and the 62 after the variant both vary.
    rand_a = {uuid.UUID(i).int >> 64 & 0xFFF for i in ids}
    rand_b = {uuid.UUID(i).int & ((1 << 62) - 1) for i in ids}
    assert len(rand_a) > 3000 and len(rand_b) == len(ids)


def test_threads_never_hand_out_the_same_id() -> None:
    found: list[list[str]] = []

    def make() -> None:
        found.append([new_id() for _ in range(5_000)])

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for chunk in found for i in chunk]
    assert len(set(every)) == len(every) == 20_000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent holds a partly used block of random bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    mine = {new_id() for _ in range(100)}
    with os.fdopen(read) as fh:
        child = set(fh.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(child) == 100
    assert not {i[14:] for i in mine} & {i[14:] for i in child}
