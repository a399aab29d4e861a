"""Posting lists packed into flat arrays (CSR): key -> a slice of one array of ids (and one
of weights), for the index's many small lists.

A numpy array costs about 130 bytes before its data; 100x knowledge has some 150,000
term and feature postings of a few entries each, so one array pair per key was tens of
MB. Here a key costs a dict entry and an offset, and the arrays handed out are views made
when a key is read (a fraction of a microsecond, a few dozen per question).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar, overload

import numpy as np

_T = TypeVar("_T")
Pair = tuple[np.ndarray, np.ndarray]


def offsets_of(lengths: list[int]) -> array[int]:
    """Where each of rows of these lengths starts in one flat array, and the total."""
    offsets = array("q", [0])
    total = 0
    for length in lengths:
        total += length
        offsets.append(total)
    return offsets


class _Rows:
    """What both packings share: key -> row number, and the mapping methods on the keys."""

    __slots__ = ()
    _rows: dict[str, int]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


class PackedIds(_Rows, Mapping[str, np.ndarray]):
    """key -> int32 ids, all in one array."""

    __slots__ = ("_ids", "_offsets", "_rows")

    def __init__(
        self, lists: Mapping[str, array[int]], rows: dict[str, int] | None = None
    ) -> None:
        """From typed arrays ('i'), copied in the mapping's order; or, given `rows` (key ->
        row, rows 0..n-1, a dict shared with other arrays over the same keys), in row
        order, with no ids for a key of `rows` the lists lack."""
        if rows is None:
            rows = {key: n for n, key in enumerate(lists)}
        elif lists.keys() - rows.keys():
            raise ValueError("every key of the lists needs a row")
        self._rows = rows
        keys = sorted(rows, key=rows.__getitem__)
        empty = array("i")
        self._offsets = offsets_of([len(lists.get(key, empty)) for key in keys])
        self._ids = np.empty(self._offsets[-1], dtype=np.int32)
        for n, key in enumerate(keys):
            values = lists.get(key)
            if values:
                start, end = self._offsets[n], self._offsets[n + 1]
                self._ids[start:end] = np.frombuffer(values, np.int32)

    @classmethod
    def empty(cls) -> PackedIds:
        """No keys: the index's postings before it is built."""
        return cls({})

    def __getitem__(self, key: str) -> np.ndarray:
        n = self._rows[key]
        return self._ids[self._offsets[n] : self._offsets[n + 1]]

    @overload
    def get(self, key: str, /) -> np.ndarray | None: ...
    @overload
    def get(self, key: str, default: np.ndarray, /) -> np.ndarray: ...
    @overload
    def get(self, key: str, default: _T, /) -> np.ndarray | _T: ...
    def get(self, key: str, default: object = None, /) -> object:
        n = self._rows.get(key)
        if n is None:
            return default
        return self._ids[self._offsets[n] : self._offsets[n + 1]]


class PackedPostings(_Rows, Mapping[str, Pair]):
    """key -> (ids, weights), all in two arrays, as PostingsFiller fills them. The
    weights are float32, or uint16 steps of `_scale` (unit=True); what is handed out is
    the weight."""

    __slots__ = ("_ids", "_offsets", "_rows", "_scale", "_weights")

    def __init__(
        self,
        rows: dict[str, int],
        offsets: array[int],
        ids: np.ndarray,
        weights: np.ndarray,
        scale: float = 1.0,
    ) -> None:
        """From arrays already packed (PostingsFiller.done): key -> row, row n at
        offsets[n]:offsets[n + 1]; each weight is `weights[i] * scale`."""
        self._rows, self._offsets = rows, offsets
        self._ids, self._weights, self._scale = ids, weights, scale

    @classmethod
    def empty(cls) -> PackedPostings:
        """No keys: the index's postings before it is built."""
        return PostingsFiller({}, []).done()

    def _row(self, n: int) -> Pair:
        start, end = self._offsets[n], self._offsets[n + 1]
        weights = self._weights[start:end]
        return self._ids[start:end], weights if self._scale == 1.0 else weights * self._scale

    def __getitem__(self, key: str) -> Pair:
        return self._row(self._rows[key])

    @overload
    def get(self, key: str, /) -> Pair | None: ...
    @overload
    def get(self, key: str, default: Pair, /) -> Pair: ...
    @overload
    def get(self, key: str, default: _T, /) -> Pair | _T: ...
    def get(self, key: str, default: object = None, /) -> object:
        n = self._rows.get(key)
        return default if n is None else self._row(n)

    def accumulate(self, items: Iterable[tuple[str, float]], size: int) -> np.ndarray:
        """Sum over the given keys of value * weight, per id (0..size-1): a sparse vector
        times these postings in a few numpy calls instead of one per key."""
        starts: list[int] = []
        lengths: list[int] = []
        values: list[float] = []
        for key, value in items:
            n = self._rows.get(key)
            if n is not None and self._offsets[n + 1] > self._offsets[n]:
                starts.append(self._offsets[n])
                lengths.append(self._offsets[n + 1] - self._offsets[n])
                values.append(value * self._scale)
        if not starts:
            return np.zeros(size, dtype=np.float64)
        counts = np.array(lengths, dtype=np.intp)
        begin = np.repeat(np.array(starts, dtype=np.intp) - np.cumsum(counts) + counts, counts)
        index = begin + np.arange(int(counts.sum()), dtype=np.intp)
        weights = self._weights[index] * np.repeat(np.array(values, dtype=np.float64), counts)
        summed: np.ndarray = np.bincount(self._ids[index], weights=weights, minlength=size)
        return summed


class PostingsFiller:
    """Rows of known lengths filled in place, in one flat pair of typed arrays: no growing
    array per row that is then copied (most of an index build's peak on a large base).

    With `unit=True` (weights of unit vectors, all in 0..1) a weight is kept as one of
    65,535 steps (uint16, within 0.00001 of it): half of float32's memory, 14 MB on 100x
    knowledge. (float16 would be as small, but numpy converts it in software: the engine
    was a quarter slower.)"""

    __slots__ = ("_ids", "_next", "_offsets", "_rows", "_steps", "_weights")

    def __init__(
        self,
        rows: dict[str, int],
        lengths: list[int],
        *,
        unit: bool = False,
        ids_below: int | None = None,
    ) -> None:
        """`rows`: key -> row number; `lengths[n]`: how many entries row n will get. Ids
        all below `ids_below` (when given) of 65,536 or less are kept in 2 bytes, not 4
        (the intents of a base of under 65,536 intents)."""
        self._rows = rows
        self._offsets = offsets_of(lengths)
        self._next = self._offsets.tolist()
        small = ids_below is not None and ids_below <= _SHORT_IDS
        self._ids = array("H" if small else "i", [0]) * self._offsets[-1]
        self._steps = _UNIT_STEPS if unit else 0
        self._weights: array[Any] = (array("H", [0]) if unit else array("f", [0.0])) * (
            self._offsets[-1]
        )

    def add(self, row: int, id_: int, weight: float) -> None:
        """The next entry of a row (entries keep the order they are added in)."""
        slot = self._next[row]
        self._next[row] = slot + 1
        self._ids[slot] = id_
        if self._steps:
            self._weights[slot] = min(self._steps, max(0, round(weight * self._steps)))
        else:
            self._weights[slot] = weight  # stored as float32

    def done(self) -> PackedPostings:
        """The postings, viewing the filled arrays without a copy."""
        ids = np.frombuffer(self._ids, dtype=np.uint16 if self._ids.typecode == "H" else np.int32)
        if self._steps:
            steps = np.frombuffer(self._weights, dtype=np.uint16)
            return PackedPostings(self._rows, self._offsets, ids, steps, 1 / self._steps)
        weights = np.frombuffer(self._weights, dtype=np.float32)
        return PackedPostings(self._rows, self._offsets, ids, weights)


_UNIT_STEPS = 65535
_SHORT_IDS = 65536
