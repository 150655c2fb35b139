"""Cell suppression of sensitive indicator tables (geo.privacy), audited by linear programming.

The audit is independent of the module's own reasoning: it rebuilds every region total from
the raw table with numpy, reads the suppression pattern from the published outputs only
(the rows' and the regions' ``suppressed`` flags), and asks ``scipy.optimize.linprog`` for the
smallest and largest value each suppressed cell can take given every published cell, every
equation "region = sum of its children" and the lower bound an attacker knows. A cell is
recoverable when max - min <= 1e-6 x max(1, |its value|). To keep 1,000 tables within CI
time, a few whole-table LPs (minimise / maximise the sum, two random objectives) come first:
a cell that takes two values more than the tolerance apart among those feasible points (or
the true values) has max - min > tolerance already; only the remaining cells get their own
min and max LPs, one cell per independent LP at a time, all solved as one block-diagonal LP.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.optimize import linprog

from geo.errors import IndicatorTableError
from geo.indicators import add_indicator_table
from geo.privacy import (
    FLAG_COLUMN,
    Hierarchy,
    PrivacySpec,
    protect_table,
    protection,
    read_privacy,
    regions_path,
    suppress,
)

LENGTHS = (2, 4, 6, 10)
LEVEL_OF = {2: "provinsi", 4: "kabkota", 6: "kecamatan", 10: "desa"}
RELATIVE_TOL = 1e-6


# -- the audit ---------------------------------------------------------------------------------


def _frame(
    codes: list[str], count: list[float], **values: list[float | str | None]
) -> pd.DataFrame:
    """A table as ``add_indicator_table`` builds it before storing."""
    frame = pd.DataFrame({"kode": pd.array(codes, dtype="string")})
    frame["level"] = pd.array([LEVEL_OF[len(codes[0])]] * len(codes), dtype="string")
    frame["kode_known"] = True
    frame["n"] = np.asarray(count, dtype="float64")
    for name, column in values.items():
        if all(v is None or isinstance(v, float | int) for v in column):
            frame[name] = np.asarray([np.nan if v is None else v for v in column], dtype="float64")
        else:
            frame[name] = pd.array(column, dtype="string")
    return frame


def _value_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("kode", "level", "kode_known")]


def _quantities(raw: pd.DataFrame) -> dict[str, tuple[np.ndarray, float]]:
    """Additive quantities per row (what regions publish as totals) and their lower bounds."""
    n = raw["n"].to_numpy(dtype="float64")
    out = {"n": (n, 0.0)}
    for name in _value_columns(raw):
        if name == "n" or not pd.api.types.is_float_dtype(raw[name].dtype):
            continue
        v = raw[name].to_numpy(dtype="float64")
        present = ~np.isnan(v)
        if not present[n > 0].any():
            continue  # no value to protect, no region value published
        lower = 0.0 if (v[present] >= 0).all() else -np.inf
        out[f"{name}*n"] = (np.where(present, v, 0.0) * n, lower)
        if not (present | (n == 0)).all():
            out[f"n[{name}]"] = (np.where(present, n, 0.0), 0.0)
    return out


def _cells(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every cell (the rows, then each region prefix) with its values (sums of its rows)."""
    codes = np.asarray(codes, dtype=str)
    width = len(codes[0])
    cells, sums = [codes], [values]
    for n in (n for n in LENGTHS if n < width):
        prefixes, where = np.unique(codes.astype(f"<U{n}"), return_inverse=True)
        total = np.zeros((len(prefixes), values.shape[1]))
        np.add.at(total, where, values)
        cells.append(prefixes)
        sums.append(total)
    return np.concatenate(cells), np.concatenate(sums)


def _incidence(cells: np.ndarray) -> sparse.csr_matrix:
    """One row per region: +1 for the region, -1 for each child one level down."""
    widths = np.char.str_len(cells)
    present = sorted(set(widths.tolist()))
    rows, cols, data, offset = [], [], [], 0
    for upper, lower in zip(present[:-1], present[1:], strict=False):
        parents = np.flatnonzero(widths == upper)
        children = np.flatnonzero(widths == lower)
        order = np.argsort(cells[parents])
        row_of = np.searchsorted(cells[parents][order], cells[children].astype(f"<U{upper}"))
        rows += [offset + np.arange(len(parents)), offset + order[row_of]]
        cols += [parents[order], children]
        data += [np.ones(len(parents)), -np.ones(len(children))]
        offset += len(parents)
    if not rows:
        return sparse.csr_matrix((0, len(cells)))
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    return sparse.csr_matrix((d, (r, c)), shape=(offset, len(cells)))


@dataclass
class _Block:
    """The LP of one quantity of one table: hidden cells x, ``a @ x = b``, bounds."""

    a: sparse.csr_matrix
    b: np.ndarray
    bounds: tuple[float, float]
    truth: np.ndarray
    tol: np.ndarray
    names: list[tuple[str, str]]


@dataclass
class _Cells:
    """A raw table's cells (rows, then regions) with every additive quantity's values."""

    codes: np.ndarray
    quantities: list[str]
    lower: list[float]
    values: np.ndarray  # cells x quantities

    @classmethod
    def of(cls, raw: pd.DataFrame) -> _Cells:
        quantities = _quantities(raw)
        rows = np.column_stack([v for v, _ in quantities.values()])
        codes, values = _cells(raw["kode"].astype(str).to_numpy(), rows)
        return cls(codes, list(quantities), [lb for _, lb in quantities.values()], values)


def _blocks(raw: _Cells, hidden: set[str], label: str = "") -> list[_Block]:
    """The audit LPs of a table published with ``hidden`` cells suppressed."""
    cells, values = raw.codes, raw.values
    is_hidden = np.isin(cells, list(hidden))
    if not is_hidden.any():
        return []
    incidence = _incidence(cells)
    involved = np.asarray(abs(incidence[:, is_hidden]).sum(axis=1)).ravel() > 0
    a_hidden = incidence[involved][:, is_hidden]
    a_published = incidence[involved][:, ~is_hidden]
    out = []
    for j, (q, lb) in enumerate(zip(raw.quantities, raw.lower, strict=True)):
        x = values[:, j]
        scale = max(1.0, float(np.abs(x).max()))
        top = 2.0 * scale + 10.0  # above every true value: bounds that change no answer
        out.append(
            _Block(
                a=a_hidden,
                b=-(a_published @ x[~is_hidden]),
                bounds=(max(lb, -top), top),
                truth=x[is_hidden],
                tol=RELATIVE_TOL * np.maximum(1.0, np.abs(x[is_hidden])),
                names=[(f"{label}{q}", str(c)) for c in cells[is_hidden]],
            )
        )
    return out


def _pinned(blocks: list[_Block]) -> list[tuple[str, str]]:
    """Names of the cells whose max - min over their block's LP is within its tolerance.

    All blocks are independent, so they are solved as one block-diagonal LP: an objective
    touching one cell per block gives every block's min (or max) of that cell at once.
    """
    if not blocks:
        return []
    a_eq = sparse.block_diag([b.a for b in blocks], format="csr")
    b_eq = np.concatenate([b.b for b in blocks])
    bounds = np.concatenate([np.tile(b.bounds, (len(b.truth), 1)) for b in blocks])
    truth = np.concatenate([b.truth for b in blocks])
    tol = np.concatenate([b.tol for b in blocks])
    block = np.repeat(np.arange(len(blocks)), [len(b.truth) for b in blocks])
    names = [name for b in blocks for name in b.names]

    def solve(c: np.ndarray) -> np.ndarray:
        if a_eq.shape[0] == 0:
            result = linprog(c, bounds=bounds, method="highs")
        else:
            result = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        assert result.status == 0, result.message
        return np.asarray(result.x)

    rng = np.random.default_rng(0)
    size = len(truth)
    points = [truth] + [
        solve(c) for c in (np.ones(size), -np.ones(size), *rng.normal(size=(2, size)))
    ]
    low, high = np.min(points, axis=0), np.max(points, axis=0)
    pinned: list[tuple[str, str]] = []
    open_ = high - low <= tol
    while open_.any():
        _, first = np.unique(block[open_], return_index=True)
        chosen = np.flatnonzero(open_)[first]  # one open cell per block
        c = np.zeros(size)
        c[chosen] = 1.0
        for x in (solve(c), solve(-c)):
            low, high = np.minimum(low, x), np.maximum(high, x)
        pinned += [names[i] for i in chosen if high[i] - low[i] <= tol[i]]
        open_ &= high - low <= tol
        open_[chosen] = False
    return pinned


def _recoverable(raw: pd.DataFrame, hidden: set[str]) -> list[tuple[str, str]]:
    """(quantity, code) of every hidden cell whose value the published cells pin down."""
    return _pinned(_blocks(_Cells.of(raw), hidden))


def _check_published(raw: pd.DataFrame, k: int, label: str = "") -> tuple[list[str], list[_Block]]:
    """What is wrong with the published form of ``raw``, and its audit LPs (not solved)."""
    values = _value_columns(raw)
    protected = protect_table(raw, PrivacySpec("n", k), value_columns=values)
    rows, regions = protected.table, protected.regions
    problems = []
    hidden_rows = rows[FLAG_COLUMN].to_numpy(dtype=bool)
    hidden_regions = regions[FLAG_COLUMN].to_numpy(dtype=bool)
    shown = np.repeat(~hidden_rows[:, None], len(values), axis=1)
    if not rows[values].equals(raw[values].where(shown)):
        problems.append("published rows differ from the raw ones where shown, or are not null")
    region_n = regions["n"].to_numpy(dtype="float64")
    row_n = rows["n"].to_numpy(dtype="float64")
    for n in (row_n[~hidden_rows], region_n[~hidden_regions]):
        if ((n > 0) & (n < k)).any():
            problems.append("a published cell has 0 < n < k")
    cells = _Cells.of(raw)
    at = pd.Index(cells.codes).get_indexer(regions["kode"].astype(str))
    column = {q: cells.values[at, j] for j, q in enumerate(cells.quantities)}
    expected_n = np.where(hidden_regions, np.nan, column["n"])
    if not np.allclose(region_n, expected_n, equal_nan=True):
        problems.append("published region counts differ from the raw totals")
    for name in (q[:-2] for q in cells.quantities if q.endswith("*n")):
        weight = column.get(f"n[{name}]", column["n"])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(weight > 0, column[f"{name}*n"] / weight, np.nan)
        mean[hidden_regions] = np.nan
        if not np.allclose(regions[name].to_numpy(dtype="float64"), mean, equal_nan=True):
            problems.append(f"region means of {name} are wrong")
    codes = raw["kode"].astype(str).to_numpy()
    hidden = set(codes[hidden_rows]) | set(regions.loc[hidden_regions, "kode"].astype(str))
    return problems, _blocks(cells, hidden, label)


# -- random hierarchical tables ----------------------------------------------------------------


def _random_codes(rng: np.random.Generator, levels: int) -> list[str]:
    """Codes of a random hierarchy: 1-3 provinces, 1-6 children per region, ``levels`` deep."""
    codes = [f"{11 + p}" for p in range(int(rng.integers(1, 4)))]
    for depth in range(1, levels):
        width = LENGTHS[depth] - LENGTHS[depth - 1]
        first = 2001 if width == 4 else 1
        codes = [
            f"{code}{first + i:0{width}d}" for code in codes for i in range(int(rng.integers(1, 7)))
        ]
    return codes


def random_table(seed: int) -> tuple[pd.DataFrame, int]:
    """A random sensitive table (2-4 levels) and its k; rows in random order."""
    rng = np.random.default_rng(seed)
    codes = _random_codes(rng, int(rng.integers(2, 5)))
    k = int(rng.choice([2, 3, 5, 10]))
    size = len(codes)
    u = rng.random(size)
    n = np.where(
        u < 0.15, 0, np.where(u < 0.55, rng.integers(1, k, size), rng.integers(k, 80, size))
    )
    share = rng.random(size).round(2)
    share[rng.random(size) < 0.3] = 0.0
    columns: dict[str, list[float | str | None]] = {
        "share": [
            None if m else float(s) for s, m in zip(share, rng.random(size) < 0.08, strict=True)
        ]
    }
    if rng.random() < 0.3:  # a column that can be negative: no lower bound to lean on
        columns["change"] = list(rng.normal(size=size).round(3))
    if rng.random() < 0.3:
        columns["status"] = list(rng.choice(["A", "B"], size))
    frame = _frame(codes, list(n.astype(float)), **columns)
    return frame.iloc[rng.permutation(size)].reset_index(drop=True), k


# -- the property test -------------------------------------------------------------------------


def test_random_tables_publish_nothing_small_or_recoverable() -> None:
    """1,000 random hierarchical tables: no 0 < n < k published, no suppressed cell recoverable."""
    wall, cpu = time.perf_counter(), time.process_time()
    failures, blocks = [], []
    for seed in range(1000):
        raw, k = random_table(seed)
        problems, audit = _check_published(raw, k, label=f"table {seed}: ")
        failures += [f"table {seed}: {p}" for p in problems]
        blocks += audit
    checked = time.perf_counter() - wall, time.process_time() - cpu
    for start in range(0, len(blocks), 400):  # LPs of a few thousand cells each
        failures += [
            f"{q} of {code} recoverable" for q, code in _pinned(blocks[start : start + 400])
        ]
    audited = time.perf_counter() - wall - checked[0], time.process_time() - cpu - checked[1]
    print(
        f"\n1000 tables: suppression and checks {checked[0]:.1f} s ({checked[1]:.1f} s CPU), "
        f"LP audit of {sum(len(b.truth) for b in blocks)} hidden cell values "
        f"{audited[0]:.1f} s ({audited[1]:.1f} s CPU)"
    )
    assert not failures, failures[:10]


# -- the audit can fail ------------------------------------------------------------------------


def _one_kecamatan(counts: list[float], shares: list[float] | None = None) -> pd.DataFrame:
    codes = [f"340401{2001 + i}" for i in range(len(counts))]
    return _frame(codes, counts, share=shares or [0.5] * len(counts))


def test_audit_finds_a_lone_suppression_recoverable() -> None:
    """Village suppressed, kecamatan total published, siblings published: recoverable."""
    raw = _one_kecamatan([3.0, 20.0, 30.0])
    assert ("n", "3404012001") in _recoverable(raw, {"3404012001"})
    assert _recoverable(raw, {"3404012001", "3404012002"}) == []


def test_audit_finds_two_suppressed_zeros_recoverable() -> None:
    """Two suppressed villages whose shares are both 0: their share totals are pinned at 0."""
    raw = _one_kecamatan([3.0, 4.0, 30.0, 40.0], [0.0, 0.0, 0.5, 0.1])
    pinned = _recoverable(raw, {"3404012001", "3404012002"})
    assert ("share*n", "3404012001") in pinned and ("n", "3404012001") not in pinned


@pytest.mark.parametrize("seed", range(40))
def test_protection_agrees_with_the_lp(seed: int) -> None:
    """The tree test of geo.privacy says 'determined' exactly where the LP audit does."""
    raw, _ = random_table(seed)
    rng = np.random.default_rng(seed)
    h = Hierarchy.from_codes(raw["kode"].astype(str).to_numpy())
    hidden = rng.random(h.n_cells) < 0.4
    quantities = _quantities(raw)
    values = h.aggregate(np.column_stack([v for v, _ in quantities.values()]))
    lower = np.array([lb for _, lb in quantities.values()])
    state = protection(h, values, lower, hidden)
    said = {
        (q, str(h.codes[c]))
        for c in np.flatnonzero(hidden)
        for j, q in enumerate(quantities)
        if not state.protected[c, j]
    }
    assert said == set(_recoverable(raw, {str(c) for c in h.codes[hidden]}))


# -- hand-made tables --------------------------------------------------------------------------


def _hidden(frame: pd.DataFrame, k: int = 5) -> tuple[set[str], set[str]]:
    """(suppressed rows, suppressed regions) of ``frame`` protected with count n."""
    protected = protect_table(frame, PrivacySpec("n", k), value_columns=_value_columns(frame))
    rows = protected.table.loc[protected.table[FLAG_COLUMN], "kode"]
    regions = protected.regions.loc[protected.regions[FLAG_COLUMN], "kode"]
    return set(rows.astype(str)), set(regions.astype(str))


HAND = _frame(
    # kecamatan 01: one small village; 02: none; 03: two small ones, itself small (2 + 1 < 5)
    [
        "3404012001",
        "3404012002",
        "3404012003",
        "3404022001",
        "3404022002",
        "3404032001",
        "3404032002",
    ],  # fmt: skip
    [3, 8, 20, 30, 40, 2, 1],
    share=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
)


def test_hand_made_table() -> None:
    """Known primary and complementary suppressions, counted in the summary."""
    protected = protect_table(HAND, PrivacySpec("n", 5), value_columns=["n", "share"])
    rows, regions = _hidden(HAND)
    # primary: villages 01-2001 (3), 03-2001 (2), 03-2002 (1) and kecamatan 03 (3);
    # complementary: village 01-2002, the smallest other in kecamatan 01, and kecamatan 01
    # (31 households), which beside kecamatan 03 hides it in kab 3404; kecamatan 02 (70
    # households, none hidden yet) would have cost 70 plus a village.
    assert rows == {"3404012001", "3404012002", "3404032001", "3404032002"}
    assert regions == {"340401", "340403"}
    summary = protected.summary.to_dict()
    assert (summary["primary"], summary["complementary"]) == (3, 1)
    assert (summary["region_primary"], summary["region_complementary"]) == (1, 1)
    assert summary["by_level"]["kecamatan"] == {"cells": 3, "primary": 1, "complementary": 1}
    assert _recoverable(HAND, rows | regions) == []
    published = protected.regions.set_index("kode")
    assert published.loc["3404", "n"] == 104 and not published.loc["3404", FLAG_COLUMN]
    expected_share = (HAND["n"] * HAND["share"]).sum() / 104
    assert published.loc["34", "share"] == pytest.approx(expected_share)


def test_single_suppression_gets_a_complement() -> None:
    """One small village: the smallest non-zero sibling is hidden with it, no more."""
    raw = _one_kecamatan([4.0, 0.0, 25.0, 12.0, 60.0])
    assert _hidden(raw) == ({"3404012001", "3404012004"}, set())


def test_parent_level_recovery_is_prevented() -> None:
    """Primary suppression alone leaves the village recoverable from its kecamatan total."""
    raw = _one_kecamatan([3.0, 20.0, 30.0])
    assert ("n", "3404012001") in _recoverable(raw, {"3404012001"})
    rows, regions = _hidden(raw)
    assert "3404012001" in rows and len(rows) == 2 and not regions
    assert _recoverable(raw, rows | regions) == []


def test_lone_child_hides_its_parent() -> None:
    """A kecamatan with a single small village equals it: the kecamatan goes too."""
    codes = ["3404012001", "3404022001", "3404022002", "3404032001"]
    raw = _frame(codes, [3.0, 20.0, 30.0, 40.0], share=[0.1, 0.2, 0.3, 0.4])
    rows, regions = _hidden(raw)
    assert "3404012001" in rows and "340401" in regions
    assert _recoverable(raw, rows | regions) == []


def test_zero_counts_are_not_sensitive() -> None:
    """n = 0 and n >= k stay published; 0 < n < k does not."""
    raw = _one_kecamatan([0.0, 5.0, 4.0, 1.0, 0.0, 30.0])
    rows, _ = _hidden(raw, k=5)
    assert {"3404012003", "3404012004"} <= rows
    assert not {"3404012001", "3404012002", "3404012005"} & rows


def test_two_zero_shares_get_a_positive_complement() -> None:
    """Two small villages with share 0 would pin each other at 0: a third one is hidden."""
    raw = _one_kecamatan([2.0, 3.0, 60.0, 50.0, 0.0], [0.0, 0.0, 0.1, 0.5, 0.0])
    rows, _ = _hidden(raw)
    assert rows == {"3404012001", "3404012002", "3404012004"}
    assert _recoverable(raw, rows) == []


def test_an_empty_value_column_costs_nothing() -> None:
    """A numeric column without values has no totals to protect: one complement, as without."""
    raw = _one_kecamatan([4.0, 25.0, 12.0, 60.0]).assign(empty=np.nan)
    assert _hidden(raw) == ({"3404012001", "3404012003"}, set())
    protected = protect_table(raw, PrivacySpec("n", 5), value_columns=["n", "share", "empty"])
    assert protected.regions["empty"].isna().all()


def test_deterministic_and_independent_of_row_order() -> None:
    raw, k = random_table(7)
    first = protect_table(raw, PrivacySpec("n", k), value_columns=_value_columns(raw))
    again = protect_table(raw, PrivacySpec("n", k), value_columns=_value_columns(raw))
    shuffled = raw.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other = protect_table(shuffled, PrivacySpec("n", k), value_columns=_value_columns(raw))
    pd.testing.assert_frame_equal(first.table, again.table)
    pd.testing.assert_frame_equal(first.regions, other.regions)
    by_code = other.table.set_index("kode").loc[first.table["kode"]].reset_index()
    pd.testing.assert_frame_equal(first.table, by_code)
    assert first.summary == other.summary


def test_suppress_on_the_tree_directly() -> None:
    """The numpy core: a group of three with one primary gets its smallest sibling."""
    h = Hierarchy.from_codes(["110101", "110102", "110103"])
    values = h.aggregate(np.array([[3.0], [9.0], [7.0]]))
    primary = (values[:, 0] > 0) & (values[:, 0] < 5)
    hidden = suppress(h, values, np.array([0.0]), primary)
    assert [str(c) for c in h.codes[hidden]] == ["110101", "110103"]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([3.0, -1.0, 20.0], "1 counts negative, e.g. 3404012002 (-1)"),
        ([3.0, 2.5, 20.0], "1 counts not whole numbers, e.g. 3404012002 (2.5)"),
        ([3.0, None, 20.0], "1 counts missing or not a number"),
    ],
)
def test_bad_counts_are_refused(counts: list[float | None], message: str) -> None:
    raw = _one_kecamatan([0.0, 0.0, 0.0])
    raw["n"] = np.array([np.nan if c is None else c for c in counts])
    with pytest.raises(IndicatorTableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        protect_table(raw, PrivacySpec("n", 5), value_columns=["n", "share"])


def test_missing_or_text_count_column_is_refused() -> None:
    raw = _one_kecamatan([3.0, 20.0, 30.0])
    with pytest.raises(IndicatorTableError, match="count column 'households' not in the table"):
        protect_table(raw, PrivacySpec("households", 5), value_columns=["n", "share"])
    raw["label"] = pd.array(["a", "b", "c"], dtype="string")
    with pytest.raises(IndicatorTableError, match="'label' is not numeric"):
        protect_table(raw, PrivacySpec("label", 5), value_columns=["n", "share", "label"])


def test_flag_column_name_is_reserved() -> None:
    raw = _one_kecamatan([3.0, 20.0, 30.0])
    raw[FLAG_COLUMN] = 1.0
    with pytest.raises(IndicatorTableError, match="cannot have a column named 'suppressed'"):
        protect_table(raw, PrivacySpec("n", 5), value_columns=["n", "share", FLAG_COLUMN])


@pytest.mark.parametrize("k", [1, 0, -3, True, 2.5])
def test_k_below_two_is_refused(k: object) -> None:
    with pytest.raises(IndicatorTableError, match="k must be an integer of at least 2"):
        PrivacySpec("n", k)  # type: ignore[arg-type]


# -- stored for publishing ---------------------------------------------------------------------


def _write_csv(path: Path, raw: pd.DataFrame) -> Path:
    table = raw.drop(columns=["level", "kode_known"]).rename(columns={"kode": "kode_desa"})
    table = table.rename(columns={"n": "Jumlah KK"})
    table.to_csv(path, index=False)
    return path


def test_stored_table_holds_no_raw_value(tmp_path: Path) -> None:
    """Only the suppressed table, its regions and the metadata are written; nothing raw."""
    raw = HAND.assign(share=[0.111, 0.222, 0.333, 0.444, 0.555, 0.666, 0.777])
    source = _write_csv(tmp_path / "poor.csv", raw)
    products = tmp_path / "products"
    spec = PrivacySpec("Jumlah KK", 5)  # the source's name: matched as stored (snake_case)
    master = list(raw["kode"])  # the Kemendagri list is not what this test is about
    add_indicator_table(
        source, products_dir=products, name="poor", key="kode_desa", master=master, privacy=spec
    )
    folder = products / "indicators"
    assert sorted(p.name for p in products.rglob("*") if p.is_file()) == [
        "poor.parquet",
        "poor.regions.parquet",
        "poor.report.json",
    ]
    stored = pd.read_parquet(folder / "poor.parquet")
    assert stored[FLAG_COLUMN].dtype == bool and int(stored[FLAG_COLUMN].sum()) == 4
    assert stored.loc[stored[FLAG_COLUMN], ["jumlah_kk", "share"]].isna().all().all()
    hidden_shares = [0.111, 0.222, 0.666, 0.777]
    for path in folder.iterdir():  # the hidden raw shares appear in no file, in any form
        text = path.read_bytes()
        for value in hidden_shares:
            assert str(value).encode() not in text
            assert np.float64(value).tobytes() not in text
    privacy = json.loads((folder / "poor.report.json").read_text())["privacy"]
    assert privacy["sensitive"] is True and privacy["k"] == 5
    assert privacy["count_column"] == "jumlah_kk" and privacy["flag_column"] == FLAG_COLUMN
    assert (privacy["primary"], privacy["complementary"]) == (3, 1)
    assert (privacy["region_primary"], privacy["region_complementary"]) == (1, 1)
    assert read_privacy(folder / "poor.parquet") == privacy
    regions = pd.read_parquet(regions_path(folder / "poor.parquet"))
    assert list(regions.columns) == ["kode", "level", "jumlah_kk", "share", FLAG_COLUMN]


def test_readding_as_public_removes_the_region_rows(tmp_path: Path) -> None:
    source = _write_csv(tmp_path / "t.csv", HAND)
    products = tmp_path / "products"
    options = {"products_dir": products, "name": "t", "key": "kode_desa", "master": list(HAND.kode)}
    add_indicator_table(source, **options, privacy=PrivacySpec("jumlah_kk", 5))  # type: ignore[arg-type]
    table = products / "indicators" / "t.parquet"
    assert regions_path(table).is_file() and read_privacy(table) is not None
    add_indicator_table(source, **options)  # type: ignore[arg-type]
    assert not regions_path(table).exists() and read_privacy(table) is None


def test_a_flagged_table_without_report_counts_as_sensitive(tmp_path: Path) -> None:
    table = tmp_path / "x.parquet"
    pd.DataFrame({"kode": ["34"], FLAG_COLUMN: [False]}).to_parquet(table)
    assert read_privacy(table) == {"sensitive": True, "flag_column": FLAG_COLUMN}
    pd.DataFrame({"kode": ["34"]}).to_parquet(table)
    assert read_privacy(table) is None
