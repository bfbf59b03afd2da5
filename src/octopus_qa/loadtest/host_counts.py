"""In flight per endpoint across every generator process of one host, read at each send.

A server sees the requests of all of a run's workers. Counted in each process alone, a request
of a two-worker run met a share of them: its wait for the other worker's requests read as its
time "alone", and, as both queues move with the server's, as more per request of its own (the
40 ms lock read +52 ms on 58 ms alone). So the master of a multi-process run puts a small file
beside its timing file, and each worker on this host maps it into its memory at its test's start:
a row per worker (its Locust worker index), a column per endpoint and one for the process's total.
Each row is written by its own process alone, so no lock is needed; a request sums its column
over the rows at its send. A row is written as the count changes, so what another process sent a
microsecond ago may not be in it yet: the count is what the server could have seen, not a
snapshot. Workers on another host find no file (or not theirs) and count alone, as before.

Not `multiprocessing.shared_memory`: on Python 3.11 every process that attaches a segment
registers it with a resource tracker that unlinks it when that process exits, under the others'
feet; a file in the run's folder, mapped with `mmap`, has one owner (the master) and no tracker.
"""

from __future__ import annotations

import mmap
from pathlib import Path

from ..plan.endpoints import ENDPOINTS

#: Beside the timing file while a multi-process run lasts; the master removes it as it quits.
COUNTS_FILE = "in_flight.counts"
#: A row's columns: each endpoint's in-flight count, then the process's total in flight.
COLUMNS = (*ENDPOINTS, "total")
#: The file: HEADER cells (rows, columns), then the rows; every cell a signed 64-bit integer.
HEADER = 2
CELL = 8


def create(path: Path, rows: int) -> None:
    """The master's file for `rows` workers, every count 0."""
    width = len(COLUMNS)
    cells = [rows, width, *([0] * (rows * width))]
    path.write_bytes(b"".join(cell.to_bytes(CELL, "little", signed=True) for cell in cells))


class HostCounts:
    """One worker's view of the file: it writes its row and reads every row."""

    def __init__(self, mapped: mmap.mmap, row: int) -> None:
        self._mapped = mapped
        self._cells = memoryview(mapped).cast("q")
        width = len(COLUMNS)
        self._width = width
        start = HEADER + row * width
        self._own = {key: start + index for index, key in enumerate(COLUMNS)}
        self._total = start + width - 1
        self._columns = {key: HEADER + index for index, key in enumerate(COLUMNS)}
        self._all_totals = HEADER + width - 1

    @classmethod
    def attach(cls, path: Path, row: int) -> HostCounts | None:
        """Map `path` in as worker `row`; None when there is no such file or row (a worker on
        another host, one that joined past the rows the master expected)."""
        try:
            with path.open("r+b") as file:
                mapped = mmap.mmap(file.fileno(), 0)
        except (OSError, ValueError):
            return None
        header = memoryview(mapped).cast("q")
        rows, width = header[0], header[1]
        header.release()
        expected = (HEADER + rows * width) * CELL
        if width != len(COLUMNS) or not 0 <= row < rows or len(mapped) != expected:
            mapped.close()
            return None
        return cls(mapped, row)

    def write(self, key: str, own: int, total: int) -> None:
        """This process's counts now: `own` of `key` in flight, `total` in all."""
        index = self._own.get(key)
        if index is not None:
            self._cells[index] = own
        self._cells[self._total] = total

    def read(self, key: str) -> tuple[int, int] | None:
        """`key`'s requests in flight on the host, and all of them; None for an unknown key."""
        column = self._columns.get(key)
        if column is None:
            return None
        cells, width = self._cells, self._width
        return sum(cells[column::width]), sum(cells[self._all_totals :: width])
