"""One board period's listed users in board order, in memory: exact positions and ranks.

Board order is score descending, then who reached their score first (``reached``, in
microseconds), then the user id: the order ``leaderboards._ranked`` sorts by. Each entry is
one key whose natural order is that order:

- while every score is an int, one Python int packing ``-score``, ``reached`` and the user
  id's UTF-8 bytes (padded with NULs to the longest id seen; ids hold no control
  characters, so padding never ties two ids). About 60 bytes an entry, list slot included:
  a million users take about 60 MB.
- once a score is not an int (a points or custom board with real values), a tuple
  ``(-score, reached, user_id)``, so ints and floats compare exactly as Python compares
  them. About three times the memory.

Keys live in sorted chunks of at most ``2 * load`` (a list of lists with each chunk's last
key and length, the layout of ``sortedcontainers.SortedList`` without its positional
index): a position is the lengths of the chunks before plus a bisect inside one, so every
read is a few microseconds at any size and an insert or removal moves at most one chunk.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable
from itertools import islice
from typing import Any

__all__ = ["Order"]

_REACHED_BITS = 64
_REACHED_OFFSET = 2**62  # reached can be before 1970: keep its field non-negative
_FIRST_WIDTH = 16  # bytes of user id an empty order's int keys make room for

# An int, or a (-score, reached, user_id) tuple: never both in one order, so typed loosely.
Key = Any
Entry = tuple[str, float, int]  # (user_id, score, reached)


class Order:
    """The listed users of one period, best first."""

    __slots__ = ("_chunks", "_ints", "_lens", "_load", "_maxes", "_width")

    def __init__(self, rows: Iterable[Entry], load: int) -> None:
        self._load = load
        self._ints = True
        self._width = _FIRST_WIDTH
        # Unsorted pieces while building: a re-key (see _widen) converts them all.
        self._chunks: list[list[Key]] = []
        self._maxes: list[Key] = []
        self._lens: list[int] = []
        rows = iter(rows)
        while batch := list(islice(rows, 4096)):
            self._encode(batch)
        keys = [key for piece in self._chunks for key in piece]
        self._chunks = []
        keys.sort()  # all ints or all tuples
        self._chunks = [keys[i : i + load] for i in range(0, len(keys), load)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._lens = [len(chunk) for chunk in self._chunks]

    # -- keys ---------------------------------------------------------------------------

    def _encode(self, batch: list[Entry]) -> None:
        """Add the keys of ``batch`` to the pieces being built; in one comprehension while
        they fit the int keys (the build of a million users spends most of its time here)."""
        encoded = [user_id.encode() for user_id, _, _ in batch]
        if not self._chunks:  # the first batch: as wide as its ids (a byte saved is 1 MB)
            self._width = max(1, *map(len, encoded))
        width = self._width
        fits = self._ints and max(map(len, encoded)) <= width
        if fits and all(type(row[1]) is int for row in batch):
            bits = 8 * width
            high = _REACHED_BITS + bits
            offset = _REACHED_OFFSET
            pad, number = bytes.ljust, int.from_bytes
            self._chunks.append(
                [
                    ((-int(score)) << high)
                    + ((reached + offset) << bits)
                    + number(pad(uid, width, b"\0"), "big")
                    for uid, (_, score, reached) in zip(encoded, batch, strict=True)
                ]
            )
            return
        piece: list[Key] = []
        self._chunks.append(piece)
        for user_id, score, reached in batch:
            if not self._fits(user_id, score):
                self._rekey(user_id, score)  # converts ``piece`` too: it is in the chunks
                piece = []
                self._chunks.append(piece)
            piece.append(self._key(user_id, score, reached))

    def _key(self, user_id: str, score: float, reached: int) -> Key:
        if not self._ints:
            return (-score, reached, user_id)
        bits = 8 * self._width
        uid = int.from_bytes(user_id.encode().ljust(self._width, b"\0"), "big")
        return (
            ((-int(score)) << (_REACHED_BITS + bits)) + ((reached + _REACHED_OFFSET) << bits) + uid
        )

    def _floor(self, score: float) -> Key:
        """The smallest key any entry with ``score`` can have: entries before it score higher."""
        if not self._ints:
            return (-score,)  # shorter tuples sort first: before every entry with score
        return (-int(score)) << (_REACHED_BITS + 8 * self._width)

    def _entry(self, key: Key) -> Entry:
        if not isinstance(key, int):
            return key[2], -key[0], key[1]
        bits = 8 * self._width
        uid = (key & ((1 << bits) - 1)).to_bytes(self._width, "big").rstrip(b"\0").decode()
        reached = ((key >> bits) & ((1 << _REACHED_BITS) - 1)) - _REACHED_OFFSET
        return uid, -(key >> (_REACHED_BITS + bits)), reached

    def _fits(self, user_id: str, score: float) -> bool:
        return not self._ints or (type(score) is int and len(user_id.encode()) <= self._width)

    def _widen(self, keys: list[Key], user_id: str, score: float) -> list[Key]:
        """Re-encode ``keys`` so that ``(user_id, score)`` fits: wider int keys for a longer
        id, tuple keys for a score that is not an int. Rare: at most once per doubling of
        the longest id, and once per period for real scores."""
        entries = [self._entry(key) for key in keys]
        if type(score) is not int:
            self._ints = False
        else:
            self._width = max(2 * self._width, len(user_id.encode()))
        return [self._key(*entry) for entry in entries]

    def _rekey(self, user_id: str, score: float) -> None:
        flat = [key for chunk in self._chunks for key in chunk]
        flat = self._widen(flat, user_id, score)
        load = self._load
        self._chunks = [flat[i : i + load] for i in range(0, len(flat), load)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._lens = [len(chunk) for chunk in self._chunks]

    # -- changes ------------------------------------------------------------------------

    def add(self, user_id: str, score: float, reached: int) -> None:
        if not self._fits(user_id, score):
            self._rekey(user_id, score)
        key = self._key(user_id, score, reached)
        maxes, chunks = self._maxes, self._chunks
        if not chunks:
            chunks.append([key])
            maxes.append(key)
            self._lens.append(1)
            return
        at = bisect_left(maxes, key)
        if at == len(maxes):
            at -= 1
            chunks[at].append(key)
            maxes[at] = key
        else:
            insort(chunks[at], key)
        self._lens[at] += 1
        if self._lens[at] > 2 * self._load:
            chunk = chunks[at]
            half = len(chunk) // 2
            chunks[at : at + 1] = [chunk[:half], chunk[half:]]
            maxes[at : at + 1] = [chunk[half - 1], chunk[-1]]
            self._lens[at : at + 1] = [half, len(chunk) - half]

    def remove(self, user_id: str, score: float, reached: int) -> None:
        """Remove an entry that is present (the log only removes what it added)."""
        if not self._fits(user_id, score):
            self._rekey(user_id, score)
        key = self._key(user_id, score, reached)
        at = bisect_left(self._maxes, key)
        chunk = self._chunks[at]
        i = bisect_left(chunk, key)
        if chunk[i] != key:
            raise LookupError(f"{user_id!r} is not in the order with {score!r}, {reached!r}")
        del chunk[i]
        if chunk:
            self._lens[at] -= 1
            self._maxes[at] = chunk[-1]
        else:
            del self._chunks[at], self._maxes[at], self._lens[at]

    # -- reads --------------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(self._lens)

    def _position(self, key: Key) -> int:
        at = bisect_left(self._maxes, key)
        if at == len(self._maxes):
            return len(self)
        return sum(self._lens[:at]) + bisect_left(self._chunks[at], key)

    def higher(self, score: float) -> int:
        """How many entries score more than ``score``: the competition rank is this + 1."""
        if self._ints and type(score) is not int:
            # Every entry is an int, and an int is above a real s exactly when it is above
            # floor(s): a hidden user's real score needs no re-keying of the listed ones.
            score = math.floor(score)
        return self._position(self._floor(score))

    def index(self, user_id: str, score: float, reached: int) -> int:
        """The 0-based position of an entry that is present."""
        if not self._fits(user_id, score):
            self._rekey(user_id, score)
        return self._position(self._key(user_id, score, reached))

    def entries(self, start: int, stop: int) -> list[Entry]:
        """Entries ``start`` to ``stop`` (0-based, stop excluded), best first."""
        out: list[Entry] = []
        before = 0
        for chunk, n in zip(self._chunks, self._lens, strict=True):
            if before + n > start:
                for key in chunk[max(0, start - before) : stop - before]:
                    out.append(self._entry(key))
            before += n
            if before >= stop:
                break
        return out
