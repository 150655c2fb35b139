"""Matching region names to Kemendagri 2025 codes: normalisation, hierarchy, variants, reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.codes import kemendagri_names
from geo.indicators.names import NAME_VARIANTS, PROVINCE_SPLITS, match_names, name_key
from geo.indicators.read import read_raw

POVERTY = "indicators/poverty_kabkota_2021/poverty_ipm_kabkota_2021_with_kemendagri_code.csv"
POVERTY_ORIGINAL = "indicators/poverty_kabkota_2021/Klasifikasi Tingkat Kemiskinan di Indonesia.csv"


def names(*rows: tuple[str | None, ...]) -> pd.DataFrame:
    """A table of province and kab/kota names (and finer, when the rows are longer)."""
    columns = ["Provinsi", "Kab/Kota", "Kecamatan", "Desa"][: len(rows[0])]
    return pd.DataFrame(list(rows), columns=columns)


# -- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("KAB. BANDUNG BARAT", "Kabupaten Bandung Barat", "kabkota"),
        ("Kab Bandung  Barat", "kabupaten bandung barat", "kabkota"),
        ("KAB. ADM. KEP. SERIBU", "Kabupaten Administrasi Kepulauan Seribu", "kabkota"),
        ("Kota Adm. Jakarta Selatan", "Kota Administrasi Jakarta Selatan", "kabkota"),
        ("Banjar Baru", "Kota Banjarbaru", "kabkota"),
        ("D I YOGYAKARTA", "Daerah Istimewa Yogyakarta", "provinsi"),
        ("D.I. Yogyakarta", "DI Yogyakarta", "provinsi"),
        ("DKI JAKARTA", "Daerah Khusus Ibukota Jakarta", "provinsi"),
        ("KEP. BANGKA BELITUNG", "Kepulauan Bangka Belitung", "provinsi"),
        ("Provinsi Jawa Barat", "JAWA BARAT", "provinsi"),
        ("Ra'as", "RAAS", "kecamatan"),
        ("Grong-grong", "Grong Grong", "kecamatan"),
        ("Kec. Coblong", "Coblong", "kecamatan"),
        ("Kelurahan Lebak Gede", "LEBAK GEDE", "desa"),
        ("Désa Caturtunggal", "Caturtunggal", "desa"),
    ],
)
def test_same_key(a: str, b: str, level: str) -> None:
    assert name_key(a, level).key == name_key(b, level).key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("Riau", "Kepulauan Riau", "provinsi"),  # "Kepulauan" is part of the name
        ("Papua", "Papua Barat", "provinsi"),
        ("Kota Agung", "Agung", "kecamatan"),  # "Kota" is a designation only for kab/kota
        ("Bandung", "Bandung Barat", "kabkota"),
    ],
)
def test_different_key(a: str, b: str, level: str) -> None:
    assert name_key(a, level).key != name_key(b, level).key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Kota Bogor", "kota"),
        ("KAB. BOGOR", "kabupaten"),
        ("Kabupaten Adm. Kepulauan Seribu", "kabupaten"),
        ("Bogor", ""),
        ("Kotawaringin Barat", ""),  # a word that begins with "kota" is not the designation
    ],
)
def test_kind_from_designation(name: str, kind: str) -> None:
    assert name_key(name, "kabkota").kind == kind


@pytest.mark.parametrize("empty", [None, float("nan"), pd.NA, "", " . "])
def test_empty_names_have_no_key(empty: object) -> None:
    assert name_key(empty, "kabkota").key == ""


# -- matching ----------------------------------------------------------------------------------


def test_matches_within_the_matched_parent() -> None:
    match = match_names(
        names(
            ("JAWA BARAT", "Kota Bandung"), ("D I YOGYAKARTA", "Sleman"), ("JAWA TENGAH", "Sleman")
        ),
        ["Provinsi", "Kab/Kota"],
    )
    assert match.codes.tolist() == ["3273", "3404", pd.NA]
    assert match.report.unmatched.examples == ("JAWA TENGAH / Sleman (kabkota not found)",)


def test_unmatched_province_stops_the_row() -> None:
    match = match_names(names(("JAWA BARATT", "Kota Bandung")), ["Provinsi", "Kab/Kota"])
    assert match.codes.isna().all()
    assert match.report.unmatched.examples == ("JAWA BARATT / Kota Bandung (provinsi not found)",)


def test_kab_and_kota_of_one_name_is_ambiguous() -> None:
    match = match_names(names(("JAWA BARAT", "Bogor")), ["Provinsi", "Kab/Kota"])
    assert match.codes.isna().all()
    assert match.report.ambiguous.count == 1
    assert "3201 Kabupaten Bogor, 3271 Kota Bogor" in match.report.ambiguous.examples[0]


def test_a_kota_named_explicitly_makes_the_bare_name_the_kabupaten() -> None:
    table = names(("JAWA BARAT", "Bogor"), ("JAWA BARAT", "Kota Bogor"))
    assert match_names(table, ["Provinsi", "Kab/Kota"]).codes.tolist() == ["3201", "3271"]


def test_a_written_designation_must_agree() -> None:
    # Sleman is a kabupaten: "Kota Sleman" is no region, and no match
    match = match_names(names(("DI YOGYAKARTA", "Kota Sleman")), ["Provinsi", "Kab/Kota"])
    assert match.codes.isna().all() and match.report.unmatched.count == 1


def test_rows_naming_one_region_are_all_refused() -> None:
    table = names(("JAWA BARAT", "Kab. Bandung"), ("JAWA BARAT", "Kabupaten Bandung"))
    match = match_names(table, ["Provinsi", "Kab/Kota"])
    assert match.codes.isna().all()
    assert match.report.duplicates.count == 2
    assert match.report.matched == 0


def test_variants_and_splits() -> None:
    table = names(("SUMATERA UTARA", "Toba Samosir"), ("PAPUA", "Merauke"))
    match = match_names(table, ["Provinsi", "Kab/Kota"])
    assert match.codes.tolist() == ["1212", "9301"]
    assert match.report.variants.examples == ("Toba Samosir -> 1212 Kabupaten Toba",)
    assert match.report.split_provinces.examples == ("PAPUA / Merauke -> 9301 Kabupaten Merauke",)
    bare = match_names(table, ["Provinsi", "Kab/Kota"], variants=(), splits={})
    assert bare.codes.isna().all()


def test_kecamatan_and_desa_levels() -> None:
    table = names(
        ("JAWA BARAT", "KOTA BANDUNG", "Coblong", "Lebak Gede"),
        ("DI YOGYAKARTA", "Sleman", "Kec. Depok", "Caturtunggal"),
        ("DI YOGYAKARTA", "Sleman", "Depok", "Lebak Gede"),  # a village of another kecamatan
    )
    match = match_names(table, ["Provinsi", "Kab/Kota", "Kecamatan", "Desa"])
    desa = kemendagri_names("desa")
    assert desa[match.codes.iloc[0]] == "Lebak Gede" and match.codes.iloc[0].startswith("327302")
    assert desa[match.codes.iloc[1]] == "Caturtunggal" and match.codes.iloc[1].startswith("3404")
    assert pd.isna(match.codes.iloc[2])
    assert match.report.level == "desa"
    assert match.report.unmatched.examples == (
        "DI YOGYAKARTA / Sleman / Depok / Lebak Gede (desa not found)",
    )


def test_one_level() -> None:
    match = match_names(pd.DataFrame({"p": ["Bali", "Atlantis"]}), ["p"])
    assert match.codes.tolist() == ["51", pd.NA]
    assert match.report.level == "provinsi"


@pytest.mark.parametrize("columns", [[], ["a", "b", "c", "d", "e"]])
def test_one_to_four_levels(columns: list[str]) -> None:
    with pytest.raises(ValueError, match="1 to 4 name columns"):
        match_names(pd.DataFrame({c: ["x"] for c in columns}), columns)


def test_every_variant_names_one_2025_kabupaten() -> None:
    kabs = kemendagri_names("kabkota")
    for variant in NAME_VARIANTS:
        keys = [name_key(n, "kabkota") for c, n in kabs.items() if c.startswith(variant.parent)]
        new = name_key(variant.new, "kabkota").key
        assert [k.kind for k in keys if k.key == new] == ["kabupaten"], variant
        # no 2025 kabupaten of that province has the old name (else the variant is not needed)
        old = name_key(variant.old, "kabkota").key
        assert all(k.kind != "kabupaten" for k in keys if k.key == old), variant
    assert set(PROVINCE_SPLITS) == {"91", "92"}


# -- the real name-keyed poverty table ---------------------------------------------------------


@pytest.fixture(scope="module")
def poverty_names(shared_data: Path) -> pd.DataFrame:
    """The original BPS 2021 poverty table (names only, ';'-separated)."""
    return read_raw(shared_data / POVERTY_ORIGINAL, None)


@pytest.fixture(scope="module")
def poverty_codes(shared_data: Path) -> pd.Series:
    """The Kemendagri kab/kota code of each row, as the shared data's derived table has it."""
    return pd.read_csv(shared_data / POVERTY, dtype={"kode_kab": str})["kode_kab"]


@pytest.mark.parametrize(
    ("variants", "splits", "matched", "unmatched"),
    [
        # normalised names only; "Pontianak" (the old name of Kab. Mempawah) then lands on
        # Kota Pontianak, which the table names too: both rows are refused
        ((), {}, 481, 31),
        ((), PROVINCE_SPLITS, 507, 5),  # + Papua's and Papua Barat's kab/kota in the 2022 ones
        (NAME_VARIANTS, PROVINCE_SPLITS, 514, 0),  # + the six older kabupaten names
    ],
)
def test_poverty_table_matches(
    poverty_names: pd.DataFrame,
    poverty_codes: pd.Series,
    variants: tuple,
    splits: dict,
    matched: int,
    unmatched: int,
) -> None:
    match = match_names(poverty_names, ["Provinsi", "Kab/Kota"], variants=variants, splits=splits)
    report = match.report
    assert (report.rows, report.matched, report.ambiguous.count) == (514, matched, 0)
    assert (report.unmatched.count, report.duplicates.count) == (
        unmatched,
        514 - matched - unmatched,
    )
    found = match.codes.notna()
    # every match is the code the shared data's own (independent) matching found
    assert match.codes[found].tolist() == poverty_codes[found].tolist()
    if not variants:
        left_out = set(poverty_names.loc[~found, "Kab/Kota"])
        assert {v.old for v in NAME_VARIANTS} <= left_out


def test_poverty_kab_named_like_a_kota(poverty_names: pd.DataFrame) -> None:
    # 26 kabupaten share their name with a kota of their province (Bogor, Solok, ...): the
    # table's "Kota Bogor" rows make its bare "Bogor" the kabupaten; without them, ambiguous
    no_kota = poverty_names[~poverty_names["Kab/Kota"].str.startswith("Kota ")]
    report = match_names(no_kota, ["Provinsi", "Kab/Kota"]).report
    assert (report.rows, report.matched, report.ambiguous.count) == (415, 389, 26)
