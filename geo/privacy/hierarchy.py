"""Cell suppression on a hierarchical table: province > kab/kota > kecamatan > village.

A :class:`Hierarchy` holds every cell of a table keyed by Kemendagri codes: the table's rows
(the leaves) and each region above them (a code prefix of 2, 4 or 6 digits). Each internal
cell is the sum of its children, one equation per internal cell; the top cells (provinces,
or the table's coarsest regions) have no equation above them, since no national total is
published.

:func:`protection` decides exactly, per additive column, which suppressed cells an attacker
who knows every published cell, every equation and the lower bound of the column can pin to
one value (the linear-programming question "is max - min of this cell > 0?", answered on the
tree). A suppressed cell can move when it can go up or down by a small amount with the
equations kept:

* inside its own equation (its children), which needs a chain of suppressed cells down to a
  leaf (to go down, every cell of the chain must be above the lower bound);
* inside its parent's equation, which needs a suppressed parent that can move the same way,
  or a suppressed sibling that can move the other way inside its own children.

Both halves lie in disjoint parts of the tree, so they combine; any feasible move decomposes
into such chains, so the test is exact. :func:`suppress` starts from the primary
suppressions and adds complementary ones until every suppressed cell can move in every
column: it sweeps the levels bottom-up and repeats until nothing changes, and fixes a cell
that cannot move with the cheapest published sibling that can move the other way (fewest
units; one that still needs a suppressed child costs that child too), else its parent,
else (the parent being suppressed already) the same fix one level up; an internal cell with
no suppressed child gets its smallest non-zero child. With positive counts this is the
classic rule "no equation with exactly one suppressed cell"; value columns with zeros need
the extra care (two suppressed zeros in one group would both be pinned at 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = ["LENGTHS", "Hierarchy", "Protection", "protection", "suppress"]

#: Code length of each level of the Kemendagri hierarchy, coarsest first.
LENGTHS: Final = (2, 4, 6, 10)


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """The cells of a hierarchical table, ordered by depth then code.

    Children of one parent are contiguous and in their parent's order, so group sums are
    ``np.add.reduceat`` over each depth's slice.
    """

    codes: np.ndarray  # str, one per cell
    depth: np.ndarray  # 0 for the coarsest level
    parent: np.ndarray  # cell index of the parent, -1 at the top
    rows: np.ndarray  # cell index of each input row (a leaf)
    starts: tuple[int, ...]  # first cell of each depth, then the number of cells
    lengths: tuple[int, ...]  # code length of each depth
    child_lo: np.ndarray  # first child of each cell (== child_hi for a leaf)
    child_hi: np.ndarray

    @classmethod
    def from_codes(cls, codes: Sequence[str] | np.ndarray) -> Hierarchy:
        """The hierarchy of distinct digit codes of one length (2, 4, 6 or 10).

        Raises:
            ValueError: mixed lengths, a length that is not a level, or duplicate codes.
        """
        leaves = np.asarray(codes, dtype=str)
        widths = np.unique(np.char.str_len(leaves)) if leaves.size else np.array([LENGTHS[-1]])
        if widths.size != 1 or int(widths[0]) not in LENGTHS:
            raise ValueError(f"codes must all have one length of {LENGTHS}, not {widths}")
        length = int(widths[0])
        lengths = tuple(n for n in LENGTHS if n < length and leaves.size) + (length,)
        levels = [np.unique(leaves.astype(f"<U{n}")) for n in lengths]
        if levels[-1].size != leaves.size:
            raise ValueError("codes must be distinct")
        sizes = [lv.size for lv in levels]
        starts = tuple(int(s) for s in np.cumsum([0, *sizes]))
        parent = np.full(starts[-1], -1, dtype=np.int64)
        for d in range(1, len(levels)):
            prefixes = levels[d].astype(f"<U{lengths[d - 1]}")
            parent[starts[d] : starts[d + 1]] = (
                np.searchsorted(levels[d - 1], prefixes) + starts[d - 1]
            )
        child_lo = np.zeros(starts[-1], dtype=np.int64)
        child_hi = np.zeros(starts[-1], dtype=np.int64)
        cells = np.arange(starts[-1])
        child_lo[:], child_hi[:] = cells, cells  # leaves: an empty range
        for d in range(len(levels) - 1):
            kids = parent[starts[d + 1] : starts[d + 2]]
            bounds = np.searchsorted(kids, cells[starts[d] : starts[d + 1]])
            ends = np.searchsorted(kids, cells[starts[d] : starts[d + 1]], side="right")
            child_lo[starts[d] : starts[d + 1]] = bounds + starts[d + 1]
            child_hi[starts[d] : starts[d + 1]] = ends + starts[d + 1]
        return cls(
            codes=np.concatenate(levels) if levels else leaves,
            depth=np.repeat(np.arange(len(levels)), sizes),
            parent=parent,
            rows=np.searchsorted(levels[-1], leaves) + starts[-2],
            starts=starts,
            lengths=lengths,
            child_lo=child_lo,
            child_hi=child_hi,
        )

    @property
    def n_cells(self) -> int:
        """Number of cells (rows and regions)."""
        return self.starts[-1]

    @property
    def levels(self) -> int:
        """Number of levels (depths)."""
        return len(self.lengths)

    @property
    def leaf(self) -> np.ndarray:
        """True for the table's own rows."""
        return self.depth == self.levels - 1

    def groups(self, d: int) -> np.ndarray:
        """Offsets (inside depth ``d``'s slice, ``d >= 1``) where each parent's children start."""
        lo, hi = self.starts[d], self.starts[d + 1]
        parents = self.parent[lo:hi]
        return np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])

    def aggregate(self, leaves: np.ndarray) -> np.ndarray:
        """Values of every cell from the rows' values (rows x columns): regions are sums."""
        leaves = np.asarray(leaves, dtype="float64")
        leaves = leaves[:, None] if leaves.ndim == 1 else leaves
        cells = np.zeros((self.n_cells, leaves.shape[1]))
        cells[self.rows] = leaves
        for d in range(self.levels - 2, -1, -1):
            lo, hi = self.starts[d + 1], self.starts[d + 2]
            cells[self.starts[d] : self.starts[d + 1]] = np.add.reduceat(
                cells[lo:hi], self.groups(d + 1), axis=0
            )
        return cells


@dataclass(frozen=True)
class Protection:
    """Which suppressed cells can move, per column (cells x columns; see the module doc)."""

    down_inc: np.ndarray  # (cells,) own equation absorbs an increase
    down_dec: np.ndarray  # own equation absorbs a decrease
    up_inc: np.ndarray  # parent's equation absorbs an increase
    up_dec: np.ndarray  # parent's equation absorbs a decrease

    @property
    def protected(self) -> np.ndarray:
        """True where the cell's value is not determined by the published cells."""
        return (self.down_inc[:, None] & self.up_inc) | (self.down_dec & self.up_dec)


def _group_sum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values.astype(np.int64), groups, axis=0)


def protection(
    h: Hierarchy, values: np.ndarray, lower: np.ndarray, suppressed: np.ndarray
) -> Protection:
    """Exact protection of each cell for each column, given a suppression pattern.

    Args:
        h: the hierarchy.
        values: cells x columns, each column additive (:meth:`Hierarchy.aggregate`).
        lower: per column, the lower bound an attacker knows (0, or ``-inf``).
        suppressed: cells that are not published.
    """
    pos = values > np.asarray(lower)[None, :]
    leaf = h.leaf
    down_inc = leaf.copy()
    down_dec = pos & leaf[:, None]
    for d in range(h.levels - 2, -1, -1):
        lo, hi = h.starts[d + 1], h.starts[d + 2]
        plo, phi = h.starts[d], h.starts[d + 1]
        s, groups = suppressed[lo:hi], h.groups(d + 1)
        down_inc[plo:phi] = _group_sum(s & down_inc[lo:hi], groups) > 0
        chains = _group_sum(s[:, None] & down_dec[lo:hi], groups) > 0
        down_dec[plo:phi] = chains & pos[plo:phi]
    up_inc = np.ones_like(pos)
    up_dec = np.ones_like(pos)
    for d in range(1, h.levels):
        lo, hi = h.starts[d], h.starts[d + 1]
        s, groups, p = suppressed[lo:hi], h.groups(d), h.parent[lo:hi]
        sizes = np.diff(np.r_[groups, hi - lo])
        own_dec = s[:, None] & down_dec[lo:hi]
        others_dec = np.repeat(_group_sum(own_dec, groups), sizes, axis=0) - own_dec
        own_inc = s & down_inc[lo:hi]
        others_inc = np.repeat(_group_sum(own_inc, groups), sizes) - own_inc
        sp = suppressed[p][:, None]
        up_inc[lo:hi] = (sp & up_inc[p]) | (others_dec > 0)
        up_dec[lo:hi] = (sp & pos[p] & up_dec[p]) | (others_inc > 0)[:, None]
    return Protection(down_inc, down_dec, up_inc, up_dec)


def _cost(h: Hierarchy, count: np.ndarray, sup: np.ndarray, state: Protection, c: int) -> float:
    """Units hidden by suppressing ``c``: its count, plus a child if it needs one."""
    if state.down_inc[c]:
        return float(count[c])
    kids = np.arange(h.child_lo[c], h.child_hi[c])
    kids = kids[~sup[kids] & (count[kids] > 0)]
    return float(count[c] + (count[kids].min() if kids.size else 0.0))


def _cheapest(
    h: Hierarchy, count: np.ndarray, sup: np.ndarray, state: Protection, cells: np.ndarray
) -> int:
    """The candidate hiding the fewest units; ties go to the first code."""
    costs = [(_cost(h, count, sup, state, int(c)), int(c)) for c in cells]
    return min(costs)[1]


def _fix_up(
    h: Hierarchy,
    values: np.ndarray,
    pos: np.ndarray,
    sup: np.ndarray,
    state: Protection,
    e: int,
    columns: np.ndarray,
) -> bool:
    """Let ``e`` move inside its parent's equation in ``columns``; True when a cell was added."""
    p = int(h.parent[e])
    if p < 0 or not columns.size:
        return False  # a top cell is free above
    siblings = np.arange(h.child_lo[p], h.child_hi[p])
    siblings = siblings[~sup[siblings] & pos[siblings, 0]]  # never a zero-count cell
    for rule in (np.all, np.any):
        fits = siblings[rule(pos[np.ix_(siblings, columns)], axis=1)]
        if fits.size:
            sup[_cheapest(h, values[:, 0], sup, state, fits)] = True
            return True
    if not sup[p]:
        sup[p] = True
        return True
    return _fix_up(h, values, pos, sup, state, p, columns[~state.up_inc[p, columns]])


def suppress(
    h: Hierarchy,
    values: np.ndarray,
    lower: np.ndarray,
    primary: np.ndarray,
) -> np.ndarray:
    """Primary plus complementary suppressions (a mask over cells).

    Args:
        h: the hierarchy.
        values: cells x columns, additive; column 0 is the count, the size of a cell.
        lower: per column, the lower bound an attacker knows (column 0: 0).
        primary: cells that must not be published.

    Raises:
        RuntimeError: a suppressed cell is still determined (a bug, never published).
    """
    sup = np.asarray(primary, dtype=bool).copy()
    pos = values > np.asarray(lower)[None, :]
    state = protection(h, values, lower, sup)
    for _ in range(h.n_cells + 1):
        changed = stale = False
        for d in range(h.levels - 1, -1, -1):
            if stale:  # judge each depth on the cells hidden so far
                state, stale = protection(h, values, lower, sup), False
            failing = sup[:, None] & ~state.protected
            touched: set[int] = set()
            for e in np.flatnonzero(failing.any(axis=1) & (h.depth == d)):
                group = int(h.parent[e])
                if group in touched:
                    continue  # judged again on the next sweep, with this group's fix
                if not state.down_inc[e]:
                    kids = np.arange(h.child_lo[e], h.child_hi[e])
                    kids = kids[~sup[kids]]
                    if not kids.size:
                        continue  # every child suppressed: fixed at their own depth
                    nonzero = kids[values[kids, 0] > 0]
                    pick = nonzero if nonzero.size else kids
                    sup[_cheapest(h, values[:, 0], sup, state, pick)] = True
                    stale = True
                else:
                    columns = np.flatnonzero(failing[e])
                    stale |= _fix_up(h, values, pos, sup, state, int(e), columns)
                if group >= 0:
                    touched.add(group)
            changed |= stale
        if not changed:
            break
    if stale:
        state = protection(h, values, lower, sup)
    if (sup[:, None] & ~state.protected).any():
        raise RuntimeError("cell suppression left a suppressed cell determined; nothing stored")
    return sup
