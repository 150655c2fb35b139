"""Adding tables keyed by BPS codes or by names: the same joins as the Kemendagri-coded table.

The reference is the Kemendagri-coded BPS 2021 poverty table of the shared data. Its BPS-coded
twin (``tests/geo/poverty_bps.py``) and the original name-keyed table must store the same
kab/kota with the same values, and so give the same values to the same villages of all
Indonesia, except the rows they report as not converted or not matched.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.codes import kemendagri_codes
from geo.errors import IndicatorTableError
from geo.indicators import KeyOptions, add_indicator_table, joined_indicators
from tests.geo.poverty_bps import CROSSWALK, POVERTY, poverty_in_bps_codes

POVERTY_ORIGINAL = "indicators/poverty_kabkota_2021/Klasifikasi Tingkat Kemiskinan di Indonesia.csv"
# the value columns of the reference, and of the original table in the same order
VALUES = [
    "p0_persen_2021",
    "rls_tahun",
    "pengeluaran_kapita_ribu_rp",
    "uhh_tahun",
    "sanitasi_layak_persen",
    "air_minum_layak_persen",
    "tpt_persen",
    "klasifikasi_kemiskinan",
]


@pytest.fixture(scope="module")
def villages() -> list[str]:
    """Every village code of the 2025 list (83,762): the joins are compared on all of them."""
    return sorted(kemendagri_codes("desa"))


@pytest.fixture(scope="module")
def reference(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A products directory holding the Kemendagri-coded table, added by its ``kode_kab``."""
    products = tmp_path_factory.mktemp("reference")
    add_indicator_table(shared_data / POVERTY, products_dir=products, name="t", key="kode_kab")
    return products


def stored(products: Path, name: str = "t") -> pd.DataFrame:
    """A stored table indexed by its code."""
    return pd.read_parquet(products / "indicators" / f"{name}.parquet").set_index("kode")


def village_values(products: Path, villages: list[str]) -> pd.DataFrame:
    """The values each village of Indonesia gets from the stored table (villages with one)."""
    joined = joined_indicators(products, kodes=villages)[[f"t.{v}" for v in VALUES]]
    return joined.dropna(how="all")


def assert_same_join(
    products: Path, reference: Path, missing: set[str], villages: list[str]
) -> None:
    """The stored table is the reference less the kab/kota ``missing``; so are the villages'
    values (every village of those kab/kota has none)."""
    table, expected = stored(products), stored(reference)
    assert set(table.index) == set(expected.index) - missing
    expected = expected.drop(index=list(missing))[VALUES].sort_index()
    np.testing.assert_allclose(table.sort_index()[VALUES].to_numpy(), expected.to_numpy())
    got, want = village_values(products, villages), village_values(reference, villages)
    want = want[~want.index.str.slice(0, 4).isin(missing)]
    pd.testing.assert_frame_equal(got, want)
    assert len(got) > 70_000


# -- BPS codes ---------------------------------------------------------------------------------


def test_bps_coded_table_joins_like_the_kemendagri_one(
    shared_data: Path, tmp_path: Path, reference: Path, villages: list[str]
) -> None:
    table, mapping = poverty_in_bps_codes(shared_data)
    path = tmp_path / "poverty_bps.csv"
    table.to_csv(path, index=False)
    options = KeyOptions(key="kode_bps", code_system="bps", crosswalk=shared_data / CROSSWALK)
    report = add_indicator_table(path, products_dir=tmp_path / "p", name="t", key=options)
    retired = mapping[mapping["retired"]]
    assert report.keys is not None and report.keys.conversion is not None
    conversion = report.keys.conversion
    assert (conversion.rows, conversion.converted, conversion.refused) == (514, 488, 26)
    assert conversion.changed == 488 - int((mapping["kode_bps"] == mapping["kode_kab"]).sum())
    not_converted = conversion.target_not_in_master
    assert not_converted.count == 26
    assert {e.split(" -> ")[0] for e in not_converted.examples} <= set(retired["kode_bps"])
    assert conversion.not_in_crosswalk.count == conversion.split.count == 0
    assert conversion.merged.count == 0
    assert report.rows == report.matched == 488
    assert_same_join(tmp_path / "p", reference, set(retired["kode_kab"]), villages)
    # Merauke's BPS code 9401 is Nabire's Kemendagri code: Nabire gets no value
    assert "9401" not in stored(tmp_path / "p").index
    saved = json.loads((tmp_path / "p" / "indicators" / "t.report.json").read_text())
    keys = saved["keys"]
    assert (keys["method"], keys["rows_read"], keys["rows_keyed"]) == ("bps", 514, 488)
    assert keys["bps_conversion"]["not_converted"]["target_not_in_master_list"]["count"] == 26
    assert keys["bps_conversion"]["crosswalk"]["pairs"]["kabkota"] == 514
    assert keys["warnings"] == []


def test_bps_codes_added_as_kemendagri_codes_warn(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table, _ = poverty_in_bps_codes(shared_data)
    path = tmp_path / "poverty_bps.csv"
    table.to_csv(path, index=False)
    options = KeyOptions(key="kode_bps", crosswalk=shared_data / CROSSWALK)
    report = add_indicator_table(path, products_dir=tmp_path, name="t", key=options)
    assert report.keys is not None
    (warning,) = report.keys.warnings()
    assert warning.startswith("these codes look like BPS codes: 35 of 514 codes exist only as BPS")
    assert "0 only as Kemendagri 2025 codes; 479 in both, 164 of which denote another" in warning
    assert warning.endswith("add --code-system bps --crosswalk FILE to convert them")
    assert "35 of 514 codes exist only as BPS codes" in caplog.text
    assert "warning: these codes look like BPS codes" in report.summary()
    assert report.rows == 514  # stored as given (the user was warned), unknown codes flagged
    assert report.unmatched.count == 35


def test_kemendagri_table_with_a_crosswalk_does_not_warn(shared_data: Path, tmp_path: Path) -> None:
    options = KeyOptions(key="kode_kab", crosswalk=shared_data / CROSSWALK)
    report = add_indicator_table(
        shared_data / POVERTY, products_dir=tmp_path, name="t", key=options
    )
    assert report.keys is not None and report.keys.warnings() == ()
    assert report.keys.evidence is not None
    assert report.keys.evidence.kemendagri_only.count == 35


def test_bps_shaped_village_codes_warn_without_a_crosswalk(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode,v\n3273010001,1\n3273010002,2\n3273021002,3\n")
    report = add_indicator_table(path, products_dir=tmp_path, name="t", key="kode")
    assert report.keys is not None
    (warning,) = report.keys.warnings()
    assert "2 of 3 codes cannot be Kemendagri village codes" in warning


def test_bps_kecamatan_codes_without_the_option_fail_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode,v\n3171010,1\n3171020,2\n")
    with pytest.raises(IndicatorTableError, match="7-digit codes are BPS kecamatan codes"):
        add_indicator_table(path, products_dir=tmp_path / "out", name="t", key="kode")
    assert not (tmp_path / "out").exists()


# -- names -------------------------------------------------------------------------------------


def test_name_keyed_table_joins_like_the_kemendagri_one(
    shared_data: Path, tmp_path: Path, reference: Path, villages: list[str]
) -> None:
    options = KeyOptions(by_name=("Provinsi", "Kab/Kota"))
    report = add_indicator_table(
        shared_data / POVERTY_ORIGINAL, products_dir=tmp_path / "p", name="t", key=options
    )
    assert report.keys is not None and report.keys.names is not None
    names = report.keys.names
    assert (names.rows, names.matched, names.unmatched.count, names.ambiguous.count) == (
        514,
        514,
        0,
        0,
    )
    assert (names.variants.count, names.split_provinces.count) == (6, 26)
    assert report.key_column == "Provinsi, Kab/Kota"
    table = stored(tmp_path / "p")
    assert "provinsi" not in table.columns and "kab_kota" not in table.columns
    table.columns = [*table.columns[:2], *VALUES]  # the original's long names, same order
    table.reset_index().to_parquet(tmp_path / "p" / "indicators" / "t.parquet")
    assert_same_join(tmp_path / "p", reference, set(), villages)


def test_names_not_sure_of_are_reported_and_left_out(
    shared_data: Path, tmp_path: Path, reference: Path, villages: list[str]
) -> None:
    text = (shared_data / POVERTY_ORIGINAL).read_text(encoding="utf-8")
    lines = text.splitlines()
    edited = [line for line in lines if not line.startswith("JAWA BARAT;Kota Bogor;")]
    edited = [line.replace("D I YOGYAKARTA;Sleman;", "D I YOGYAKARTA;Slemann;") for line in edited]
    bantul = next(line for line in edited if line.startswith("D I YOGYAKARTA;Bantul;"))
    edited.append(bantul.replace(";Bantul;", ";Kab. Bantul;"))
    assert len(edited) == len(lines)
    path = tmp_path / "edited.csv"
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    report = add_indicator_table(
        path,
        products_dir=tmp_path / "p",
        name="t",
        key=KeyOptions(by_name=("Provinsi", "Kab/Kota")),
    )
    assert report.keys is not None and report.keys.names is not None
    names = report.keys.names
    assert names.unmatched.examples == ("D I YOGYAKARTA / Slemann (kabkota not found)",)
    assert names.ambiguous.examples == (
        "JAWA BARAT / Bogor (kabkota: 3201 Kabupaten Bogor, 3271 Kota Bogor)",
    )
    assert names.duplicates.examples == (
        "D I YOGYAKARTA / Bantul -> 3402",
        "D I YOGYAKARTA / Kab. Bantul -> 3402",
    )
    assert (names.rows, names.matched, report.rows) == (514, 510, 510)
    table = stored(tmp_path / "p")
    table.columns = [*table.columns[:2], *VALUES]
    table.reset_index().to_parquet(tmp_path / "p" / "indicators" / "t.parquet")
    # Kota Bogor's row was removed from the file; the others are reported
    assert_same_join(tmp_path / "p", reference, {"3404", "3201", "3271", "3402"}, villages)


# -- bad input: an error, nothing written ------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (KeyOptions(by_name=("Provinsi", "Kabupaten")), r"'Kabupaten' not in t\.csv"),
        (KeyOptions(key="kode", by_name=("Provinsi",)), "not both"),
        (KeyOptions(), "give a key column"),
        (KeyOptions(key="kode", code_system="bps"), "need a key column and a crosswalk"),
        (KeyOptions(by_name=tuple("abcde")), "1 to 4 name columns"),
        (KeyOptions(by_name=("Provinsi",), crosswalk=Path("cw")), "not to names"),
        (KeyOptions(by_name=("Provinsi",)), "no row of t.csv could be matched"),
    ],
)
def test_bad_options_write_nothing(tmp_path: Path, options: KeyOptions, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode;Provinsi;v\n3404;Atlantis;1,5\n")
    with pytest.raises(IndicatorTableError, match=message):
        add_indicator_table(path, products_dir=tmp_path / "out", name="t", key=options)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("crosswalk", "message"),
    [
        ("kode_bps,kode_dagri\n", "has no rows"),
        (
            "kode_bps,kode_dagri\n9999,3404\n",
            r"(?s)nothing stored.*not in the crosswalk, e.g. 3404",
        ),
        ("kode_bps,kode_dagri\n3404010,340401\n", "no kabkota pairs"),
    ],
)
def test_unusable_crosswalk_writes_nothing(tmp_path: Path, crosswalk: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kode,v\n3404,1\n")
    (tmp_path / "cw.csv").write_text(crosswalk)
    options = KeyOptions(key="kode", code_system="bps", crosswalk=tmp_path / "cw.csv")
    with pytest.raises(IndicatorTableError, match=message):
        add_indicator_table(path, products_dir=tmp_path / "out", name="t", key=options)
    assert not (tmp_path / "out").exists()
