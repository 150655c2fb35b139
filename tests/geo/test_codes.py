"""Kemendagri codes: one behaviour per test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.codes import (
    CodeSample,
    code_level,
    is_valid_village_code,
    normalize_code,
    normalize_codes,
    valid_village_mask,
    village_kind,
    village_kinds,
)
from geo.errors import InvalidCodeError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("34.04.01.2001", "3404012001"),
        ("3404012001", "3404012001"),
        ("  3404012001\t", "3404012001"),
        (3404012001, "3404012001"),
        (3404012001.0, "3404012001"),
        (np.int64(3404), "3404"),
        ("3404012001.0", "3404012001"),
        ("34", "34"),
        ("34.04", "3404"),
        ("34.04.01", "340401"),
    ],
)
def test_normalize_code_accepts_common_forms(value: object, expected: str) -> None:
    assert normalize_code(value) == expected


@pytest.mark.parametrize(
    "value",
    ["3404.01.2001", "340401200", "34.4", "", "abc", None, 3404012001.5, float("nan"), True],
)
def test_normalize_code_rejects_with_expected_forms(value: object) -> None:
    with pytest.raises(InvalidCodeError, match=r"34\.04\.01\.2001.*3404012001") as info:
        normalize_code(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("code", "level"),
    [("34", "provinsi"), ("3404", "kabkota"), ("340401", "kecamatan"), ("3404012001", "desa")],
)
def test_code_level_by_length(code: str, level: str) -> None:
    assert code_level(code) == level


def test_code_level_rejects_other_lengths() -> None:
    with pytest.raises(InvalidCodeError):
        code_level("3404012")


@pytest.mark.parametrize(
    ("code", "kind"),
    [("34.71.01.1001", "kelurahan"), ("3404012001", "desa"), ("9103012001", "desa")],
)
def test_village_kind(code: str, kind: str) -> None:
    assert village_kind(code) == kind


def test_village_kind_other() -> None:
    assert village_kind("91.03.01.3007") == "other"  # a real UPT / desa adat code


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("3404012001", True),
        ("34.71.01.1001", True),
        ("3273010001", False),  # BPS-shaped: desa segment 0001
        ("3400012001", False),  # kab 00
        ("340401", False),  # a kecamatan, not a village
        ("x", False),
    ],
)
def test_is_valid_village_code(code: str, valid: bool) -> None:
    assert is_valid_village_code(code) is valid


def test_village_kind_rejects_non_village() -> None:
    with pytest.raises(InvalidCodeError, match="not a village code"):
        village_kind("3273010001")


def test_normalize_codes_is_vectorised_over_mixed_input() -> None:
    values = pd.Series(["34.04.01.2001", " 3404 ", None, "bad", 3404012001, 34.0], dtype=object)
    codes, invalid = normalize_codes(values)
    assert codes.tolist()[:2] == ["3404012001", "3404"]
    assert codes.tolist()[4:] == ["3404012001", "34"]
    assert invalid.tolist() == [False, False, True, True, False, False]
    assert codes.index.equals(values.index)


def test_normalize_codes_float_column_keeps_digits() -> None:
    codes, invalid = normalize_codes(pd.Series([3404012001.0, np.nan, 1.5]))
    assert codes.iloc[0] == "3404012001"
    assert invalid.tolist() == [False, True, True]


def test_vectorised_village_helpers() -> None:
    codes = pd.Series(["3404012001", "3471011001", "3273010001"])
    assert valid_village_mask(codes).tolist() == [True, True, False]
    assert village_kinds(codes).tolist()[:2] == ["desa", "kelurahan"]
    assert pd.isna(village_kinds(codes).iloc[2])


def test_code_sample_keeps_ten_distinct_examples() -> None:
    sample = CodeSample.of([str(i) for i in range(30)] + ["0"])
    assert sample.count == 31
    assert len(sample.examples) == 10
    assert sample.to_dict()["examples"][0] == "0"
