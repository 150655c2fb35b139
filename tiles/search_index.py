"""A name and code index of places: prefix search in O(log n + matches), never a full scan.

Names are compared in a normal form (:func:`normalise`): Unicode NFKD with combining marks
dropped (``Ngémplak`` -> ``ngemplak``), case-folded, apostrophes dropped (``Ba'u`` ->
``bau``), every other run of punctuation or space one separator. A query matches a place

* by **exact name** (tier 0): the normal forms are equal;
* by **name prefix** (tier 1): the name starts with the query;
* by **word prefix** (tier 2): a word of the name, or the rest of the name from a word on,
  starts with the query (``sleman`` finds ``Kabupaten Sleman``, ``tunggal`` does not find
  ``Caturtunggal``).

Results come by tier, then coarser level first (province, kab/kota, kecamatan, village),
then by normal-form name, then by code. A query of digits (dots and spaces allowed:
``34.04.07``) matches codes by prefix instead, coarser levels (the code itself) first.

The index holds every word-start suffix of every normal-form name in one sorted list
(``bisect`` finds the range of suffixes that start with the query) with, per suffix, the
place's rank in result order and whether the suffix is the whole name; a query sorts only
the ``limit``-smallest ranks of its range (``numpy.partition``). Codes are sorted per level.
:meth:`NameIndex.scan` answers the same query by a linear scan: the reference the tests and
``bench/bench_search.py`` compare against.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Final

import numpy as np

from tiles.places import PLACE_LEVELS, Place

__all__ = ["NameIndex", "code_prefix", "normalise"]

_APOSTROPHES: Final = dict.fromkeys(map(ord, "'’‘`ʼ"), None)
_SEPARATORS: Final = re.compile(r"[\W_]+")
_WORD_START: Final = re.compile(r"(?:^|(?<= ))\S")
_CODE_QUERY: Final = re.compile(r"^[0-9][0-9. ]*$")
_LEVEL_RANK: Final = {level: i for i, level in enumerate(PLACE_LEVELS)}
#: Sorts after every character of a normal form: ``q + _END`` bounds the range of prefix q.
_END: Final = "\U0010ffff"


def normalise(text: str) -> str:
    """The normal form of a name or query: accents and case dropped, words single-spaced."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = bare.casefold().translate(_APOSTROPHES)
    return " ".join(_SEPARATORS.sub(" ", folded).split())


def code_prefix(query: str) -> str | None:
    """The digits of a code query (``34.04.07`` -> ``340407``), or None for a name query."""
    text = unicodedata.normalize("NFKC", query).strip()  # full-width digits too
    return text.replace(".", "").replace(" ", "") if _CODE_QUERY.match(text) else None


def _smallest_unique(scores: np.ndarray, n: int, limit: int) -> np.ndarray:
    """Ranks (``score % n``) of the ``limit`` places with the smallest scores, best first.

    A place appears once per matching suffix, and its best (smallest) score counts. Sorting
    the ``take`` smallest scores is enough when they hold ``limit`` distinct places: a place
    missing from them scores above all of them.
    """
    m = len(scores)
    take = min(m, 2 * limit)
    while True:
        part = np.sort(scores if take >= m else np.partition(scores, take - 1)[:take])
        ranks = part % n
        first = np.sort(np.unique(ranks, return_index=True)[1])  # each place's best score
        if len(first) >= limit or take >= m:
            return ranks[first][:limit]
        take = min(m, take * 4)


class NameIndex:
    """Prefix search over the names and codes of places (see the module docstring)."""

    def __init__(self, places: Sequence[Place]) -> None:
        norms = [normalise(p.name) for p in places]
        order = sorted(
            range(len(places)),
            key=lambda i: (_LEVEL_RANK[places[i].level], norms[i], places[i].kode),
        )
        #: places in result order within a tier: rank -> place
        self.ranked: tuple[Place, ...] = tuple(places[i] for i in order)
        self._norms: tuple[str, ...] = tuple(norms[i] for i in order)
        suffixes: list[tuple[str, int, bool]] = []
        for rank, norm in enumerate(self._norms):
            for match in _WORD_START.finditer(norm):
                suffixes.append((norm[match.start() :], rank, match.start() == 0))
        suffixes.sort()
        self._keys: list[str] = [s[0] for s in suffixes]
        self._ranks = np.array([s[1] for s in suffixes], dtype=np.int64)
        self._whole = np.array([s[2] for s in suffixes], dtype=bool)
        self._codes: dict[str, tuple[list[str], list[Place]]] = {}
        for level in PLACE_LEVELS:
            found = sorted((p.kode, p) for p in places if p.level == level)
            self._codes[level] = ([k for k, _ in found], [p for _, p in found])

    def __len__(self) -> int:
        return len(self.ranked)

    def search(self, query: str, limit: int) -> list[Place]:
        """Places matching ``query`` by name or code, best first, at most ``limit``."""
        digits = code_prefix(query)
        if digits is not None:
            return self._by_code(digits, limit)
        q = normalise(query)
        if not q or limit <= 0:
            return []
        lo = bisect_left(self._keys, q)
        hi = bisect_left(self._keys, q + _END, lo)
        if lo == hi:
            return []
        equal = bisect_right(self._keys, q, lo, hi)
        whole = self._whole[lo:hi]
        tier = np.where(whole, 1, 2)
        tier[: equal - lo][whole[: equal - lo]] = 0
        n = len(self.ranked)
        ranks = _smallest_unique(tier * n + self._ranks[lo:hi], n, limit)
        return [self.ranked[int(r)] for r in ranks]

    def _by_code(self, digits: str, limit: int) -> list[Place]:
        found: list[Place] = []
        for kodes, places in self._codes.values():  # coarsest level first
            if len(found) >= limit:
                break
            lo = bisect_left(kodes, digits)
            hi = bisect_left(kodes, digits + _END, lo)
            found.extend(places[lo : min(hi, lo + limit - len(found))])
        return found

    def scan(self, query: str, limit: int) -> list[Place]:
        """The same answer as :meth:`search` by a linear scan over every place (reference)."""
        digits = code_prefix(query)
        if digits is not None:
            hits = [(_LEVEL_RANK[p.level], p.kode, p) for p in self.ranked]
            return [p for _, kode, p in sorted(hits) if kode.startswith(digits)][:limit]
        q = normalise(query)
        if not q:
            return []
        scored = []
        for rank, norm in enumerate(self._norms):
            if norm == q:
                scored.append((0, rank))
            elif norm.startswith(q):
                scored.append((1, rank))
            elif any(norm[m.start() :].startswith(q) for m in _WORD_START.finditer(norm)):
                scored.append((2, rank))
        return [self.ranked[rank] for _, rank in sorted(scored)[:limit]]
