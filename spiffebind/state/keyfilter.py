"""A compact filter over strings: no false negatives, and a hit only says "maybe".

The revocation store once mirrored every revoked ``jti`` and ``txn`` as a string in a dict,
about 280 bytes each (94 MiB of RSS with 100k held). This keeps only each string's 64-bit
``hash()`` in an open-addressing table (an ``array('q')`` at most half full, so 16 to 32
bytes a key), and answers in a probe or two. Two strings may share a hash, so a hit must be
confirmed by whoever holds the strings themselves (the store asks SQLite); a miss is
certain. ``hash()`` of a ``str`` is keyed at random per process, which is all a filter that
never leaves the process needs; with a fixed ``PYTHONHASHSEED`` a crafted collision costs
only a confirmation, never a wrong answer.

Readers take no lock: an insertion only fills an empty slot, which never cuts the probe of a
key already held, and growing or removing builds a new table that replaces the old one in a
single assignment. Writers are serialised by the caller.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator

_MIN_SLOTS = 8


def _fingerprint(key: str) -> int:
    """The key's slot value; 0 marks an empty slot, so a hash of 0 is stored as 1."""
    return hash(key) or 1


class KeyFilter:
    """A multiset of string hashes: ``may_hold`` is True for every key added and not removed."""

    def __init__(self, expected: int = 0) -> None:
        self._table = _empty(expected)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def may_hold(self, key: str) -> bool:
        """False only if ``key`` was never added (or removed since); True may be a collision."""
        table = self._table
        mask = len(table) - 1
        wanted = hash(key) or 1
        i = wanted & mask
        while True:
            slot = table[i]
            if slot == wanted:
                return True
            if not slot:
                return False
            i = (i + 1) & mask

    def add(self, key: str) -> None:
        """Hold ``key`` once more; the caller adds each distinct key once."""
        if 2 * (self._count + 1) > len(self._table):
            self._table = _filled(_values(self._table), self._count + 1)
        _put(self._table, _fingerprint(key))
        self._count += 1

    def remove(self, keys: Iterable[str]) -> None:
        """Forget one occurrence of each of ``keys``, every one of which must be held."""
        gone = Counter(_fingerprint(key) for key in keys)
        if not gone:
            return
        removed = sum(gone.values())

        def kept() -> Iterator[int]:
            for value in _values(self._table):
                if gone[value]:
                    gone[value] -= 1
                else:
                    yield value

        self._table = _filled(kept(), self._count - removed)
        self._count -= removed


def _empty(expected: int) -> array[int]:
    slots = _MIN_SLOTS
    while slots < 2 * expected:
        slots *= 2
    return array("q", bytes(8 * slots))


def _filled(values: Iterable[int], expected: int) -> array[int]:
    table = _empty(expected)
    for value in values:
        _put(table, value)
    return table


def _values(table: array[int]) -> Iterator[int]:
    return (value for value in table if value)


def _put(table: array[int], value: int) -> None:
    mask = len(table) - 1
    i = value & mask
    while table[i]:
        i = (i + 1) & mask
    table[i] = value
