"""Writer processes killed with SIGKILL at random points, for the ``files`` and ``sqlite``
backends (and ``flash``, whose byte-level power cuts are in test_flash_power_cut.py: this
adds the lock-file protocol between real processes).

Each round forks a writer that opens the store and saves (sometimes 64 KiB records) or
destroys records under 16 labels, announcing every operation on a pipe before it starts
("B ...") and acknowledging it when the call has returned ("A"). The parent waits for a
random number of operations, sleeps a random 0-3 ms (so most kills land inside an
operation), kills the writer with SIGKILL, and opens the store as the next process would.
It checks that every acknowledged operation is there, the operation in flight left its
record complete (old or new value; old or absent for a destroy), and no other record
changed. The store carries over from round to round.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tokenport.backends.storage.files import CORRUPT_DIR, TMP_PREFIX, FileObjectStore
from tokenport.backends.storage.flash import FlashObjectStore
from tokenport.backends.storage.sqlite import SqliteObjectStore
from tokenport.ports.storage import ObjectStore

from .conftest import Tally, full_run

LABELS = 16
FULL_KILLS = 220
SAMPLE_KILLS = 25

Factory = Callable[[Path], ObjectStore]
FACTORIES: dict[str, Factory] = {
    "files": lambda where: FileObjectStore(where / "store"),
    "sqlite": lambda where: SqliteObjectStore(where / "store" / "tokenport.sqlite3"),
    "flash": lambda where: FlashObjectStore(where / "store" / "flash.img", 512, 4096),
}


def label_of(index: int) -> bytes:
    return b"k/%02d" % index


def value_of(index: int, nonce: int) -> tuple[bytes, bool]:
    rng = random.Random(nonce)
    size = 65536 if rng.random() < 0.05 else rng.randint(0, 3000)
    return b"%s|%d|" % (label_of(index), nonce) + rng.randbytes(size), nonce % 2 == 0


def writer(factory: Factory, where: Path, out: int, seed: int, nonce: int) -> None:
    """The child: write until killed (or, as a safety net, for 5,000 operations)."""
    store = factory(where)
    store.initialize()
    os.write(out, b"R\n")
    rng = random.Random(seed)
    for _ in range(5000):
        index = rng.randrange(LABELS)
        handle = store.find_object(label_of(index))
        if handle is not None and rng.random() < 0.2:
            os.write(out, b"B D %d 0\n" % index)
            store.destroy_object(handle)
        else:
            nonce += 1
            os.write(out, b"B S %d %d\n" % (index, nonce))
            data, private = value_of(index, nonce)
            store.save_object(label_of(index), data, private=private)
        os.write(out, b"A\n")


def run_round(factory: Factory, where: Path, rng: random.Random, nonce: int
              ) -> tuple[list[tuple[str, int, int]], bool]:
    """Fork a writer, kill it; returns the operations it began and whether the last one
    was acknowledged."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer
        os.close(read_end)
        try:
            writer(factory, where, write_end, rng.randrange(2**32), nonce)
        finally:
            os._exit(0)
    os.close(write_end)
    began: list[tuple[str, int, int]] = []
    acked = False
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.readline() == b"R\n", "writer did not start"
        target = rng.randint(1, 25)
        while len(began) < target:
            line = pipe.readline()
            if not line:
                break
            if line.startswith(b"B"):
                _, kind, index, value = line.split()
                began.append((kind.decode(), int(index), int(value)))
                acked = False
            else:
                acked = True
        time.sleep(rng.uniform(0, 0.003))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for line in pipe.read().splitlines():  # whatever it said before dying
            if line.startswith(b"B"):
                _, kind, index, value = line.split()
                began.append((kind.decode(), int(index), int(value)))
                acked = False
            elif line == b"A":
                acked = True
    return began, acked


@pytest.mark.parametrize("backend", sorted(FACTORIES))
def test_killed_writers_lose_nothing(tmp_path: Path, backend: str, tally: Tally) -> None:
    factory = FACTORIES[backend]
    rng = random.Random(backend)
    model: dict[int, int] = {}  # label index -> nonce of its acknowledged value
    nonce = 0
    generation = 0
    kills = FULL_KILLS if full_run() else SAMPLE_KILLS
    in_flight = 0
    for _ in range(kills):
        began, acked = run_round(factory, tmp_path, rng, nonce)
        pending: tuple[str, int, int] | None = None
        for position, op in enumerate(began):
            if position == len(began) - 1 and not acked:
                pending = op
                break
            kind, index, value = op
            if kind == "S":
                model[index] = value
            else:
                model.pop(index, None)
        nonce = max([nonce] + [v for _, _, v in began]) + 1
        in_flight += pending is not None

        store = factory(tmp_path)
        store.initialize()
        try:
            found = {}
            for entry in store.enumerate_objects():
                index = int(entry.label[2:])
                data, private = store.get_object_value(entry.handle)
                head, number, _ = data.split(b"|", 2)
                assert head == entry.label
                assert (data, private) == value_of(index, int(number)), "torn record"
                found[index] = int(number)
            expected = dict(model)
            if pending is not None:
                kind, index, value = pending
                after = dict(model)
                if kind == "S":
                    after[index] = value
                else:
                    after.pop(index, None)
                assert found in (expected, after), (pending, found, expected)
                model = found
            else:
                assert found == expected
            assert store.generation() >= generation
            generation = store.generation()
        finally:
            store.close()
        if backend == "files":
            names = os.listdir(tmp_path / "store")
            assert not [n for n in names if n.startswith(TMP_PREFIX)]
            assert CORRUPT_DIR not in names
    tally.add(backend, "killed writers", kills)
    print(f"[crash] {backend}: {in_flight} of {kills} kills hit an operation in flight")
    assert in_flight > kills // 3  # the kills did land inside operations
