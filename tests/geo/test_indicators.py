"""Indicator tables: real IDM and poverty tables joined to DIY villages; small generated ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.errors import IndicatorTableError
from geo.indicators import (
    add_indicator_table,
    infer_numeric,
    is_identifier,
    joined_indicators,
    list_indicators,
    parse_numbers,
    read_indicator_table,
)

IDM_DIY = "indicators/idm_2024_desa_34_diy.csv"
IDM_NATIONAL = "indicators/idm_2024_desa_indonesia.parquet"
POVERTY = "indicators/poverty_kabkota_2021/poverty_ipm_kabkota_2021_with_kemendagri_code.csv"
POVERTY_ORIGINAL = "indicators/poverty_kabkota_2021/Klasifikasi Tingkat Kemiskinan di Indonesia.csv"


@pytest.fixture(scope="module")
def villages_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A products ``villages.parquet`` of the 438 DIY villages over two periods."""
    boundaries = gpd.read_parquet(shared_data / "boundaries/desa_kel_34_diy.parquet")
    periods = [
        gpd.GeoDataFrame(
            {"kode": boundaries["kode_10"], "period": period, "ndvi_mean": 0.5},
            geometry=boundaries.geometry,
            crs=boundaries.crs,
        )
        for period in ("2023", "2024")
    ]
    path = tmp_path_factory.mktemp("villages") / "villages.parquet"
    pd.concat(periods, ignore_index=True).to_parquet(path)
    return path


@pytest.fixture
def products(tmp_path: Path, villages_file: Path) -> Path:
    """A products directory holding only ``villages.parquet``."""
    directory = tmp_path / "products"
    directory.mkdir()
    shutil.copy(villages_file, directory / "villages.parquet")
    return directory


@pytest.fixture(scope="module")
def diy_codes(shared_data: Path) -> pd.Series:
    """The 10-digit codes of the DIY villages, straight from the boundary file."""
    return gpd.read_parquet(shared_data / "boundaries/desa_kel_34_diy.parquet")["kode_10"]


@pytest.fixture(scope="module")
def idm_diy(shared_data: Path) -> pd.DataFrame:
    """The IDM 2024 DIY table as plain text (no Pantau parsing)."""
    return pd.read_csv(shared_data / IDM_DIY, dtype=str)


def write_csv(path: Path, text: str) -> Path:
    """Write a small CSV given as text."""
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


# -- real data ---------------------------------------------------------------------------------


def test_idm_diy_joins_every_desa(
    shared_data: Path, products: Path, diy_codes: pd.Series, idm_diy: pd.DataFrame
) -> None:
    report = add_indicator_table(
        shared_data / IDM_DIY, products_dir=products, name="idm_2024", key="kode_desa"
    )
    rows = len(idm_diy)
    assert (report.level, report.rows, report.matched, report.unmatched.count) == (
        "desa",
        rows,
        rows,
        0,
    )
    # the 7th digit of a village code is 2 for a desa, 1 for a kelurahan (Permendagri 72/2019)
    n_desa = int((diy_codes.str[6] == "2").sum())
    n_kelurahan = int((diy_codes.str[6] == "1").sum())
    assert n_desa == rows  # IDM covers every desa of DIY and no kelurahan
    assert report.villages is not None
    assert (report.villages.villages, report.villages.with_value) == (len(diy_codes), rows)
    kinds = {k.kind: (k.with_value, k.villages) for k in report.villages.by_kind}
    assert kinds == {"desa": (n_desa, n_desa), "kelurahan": (0, n_kelurahan)}
    assert "nilai_idm_2024" in report.numeric_columns
    assert "status_idm_2024" in report.categorical_columns


def test_idm_diy_stored_files(shared_data: Path, products: Path) -> None:
    add_indicator_table(
        shared_data / IDM_DIY, products_dir=products, name="idm_2024", key="kode_desa"
    )
    folder = products / "indicators"
    assert sorted(p.name for p in folder.iterdir()) == ["idm_2024.parquet", "idm_2024.report.json"]
    table = pd.read_parquet(folder / "idm_2024.parquet")
    assert list(table.columns[:3]) == ["kode", "level", "kode_known"]
    assert table["kode"].str.fullmatch(r"\d{10}").all()
    assert set(table["level"]) == {"desa"}
    assert table["nilai_idm_2024"].dtype == np.float64
    assert table["kode_kab"].iloc[0] == "3401"  # identifier columns stay text
    saved = json.loads((folder / "idm_2024.report.json").read_text())
    assert saved["matched"] == 392
    assert saved["villages"]["by_kind"]["kelurahan"] == {
        "villages": 46,
        "with_value": 0,
        "without_value": 46,
    }


def test_poverty_kabkota_joins_all_villages_by_prefix(shared_data: Path, products: Path) -> None:
    report = add_indicator_table(
        shared_data / POVERTY, products_dir=products, name="poverty_2021", key="kode_kab"
    )
    assert (report.level, report.rows, report.matched) == ("kabkota", 514, 514)
    assert report.villages is not None
    assert (report.villages.villages, report.villages.with_value) == (438, 438)
    assert report.villages.table_rows_used == 5  # the five kab/kota of DIY
    joined = joined_indicators(products)
    p0 = joined["poverty_2021.p0_persen_2021"]
    assert len(joined) == 438 and p0.notna().all()
    by_kab = p0.groupby(joined.index.str.slice(0, 4)).first().to_dict()
    assert by_kab == {"3401": 18.38, "3402": 14.04, "3403": 17.69, "3404": 8.64, "3471": 7.69}


def test_national_idm_reports_outdated_codes(shared_data: Path, tmp_path: Path) -> None:
    report = add_indicator_table(
        shared_data / IDM_NATIONAL, products_dir=tmp_path, name="idm", key="kode_desa"
    )
    assert report.rows == 75_265
    assert (report.matched, report.unmatched.count) == (74_470, 795)
    assert "3602162018" in report.unmatched.examples
    assert report.villages is None  # no villages.parquet: join skipped, table still stored
    table = pd.read_parquet(tmp_path / "indicators" / "idm.parquet", columns=["kode_known"])
    assert len(table) == 75_265  # outdated codes are kept, flagged
    assert int((~table["kode_known"]).sum()) == 795


def test_original_poverty_csv_numbers(shared_data: Path) -> None:
    original = read_indicator_table(shared_data / POVERTY_ORIGINAL)
    parsed = pd.read_csv(shared_data / POVERTY)
    numeric = original.select_dtypes("number")
    assert numeric.shape == (514, 8)  # ';'-separated, '18,38' and '11.34' both parse
    np.testing.assert_allclose(numeric.to_numpy(), parsed.iloc[:, 4:].to_numpy())
    sleman = original.loc[original["kab_kota"] == "Sleman"].iloc[0]
    assert sleman["persentase_penduduk_miskin_p0_menurut_kabupaten_kota_persen"] == 8.64


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("18,38", 18.38),
        ("11.34", 11.34),
        ("1.234.567,89", 1_234_567.89),
        ("1,234,567.5", 1_234_567.5),
        ("-0,5", -0.5),
        ("12,5%", 12.5),
        (" 7 148 ", 7148.0),
        ("1e3", 1000.0),
        ("1.23.4", np.nan),
        ("abc", np.nan),
        (None, np.nan),
    ],
)
def test_parse_numbers(text: str | None, value: float) -> None:
    parsed = parse_numbers(pd.Series([text], dtype=object)).iloc[0]
    assert parsed == value or (np.isnan(value) and np.isnan(parsed))


@pytest.mark.parametrize(
    ("name", "identifier"),
    [
        ("kode", True),
        ("kode_kab", True),
        ("kd_desa", True),
        ("status_code", True),
        ("nama_desa", True),
        ("Name", True),
        ("idm.nama_desa", True),  # a joined column: the part after the table name
        ("nilai_idm_2024", False),
        ("idm.nilai_idm_2024", False),
        ("kodeks", False),
        ("identitas", False),
    ],
)
def test_is_identifier(name: str, identifier: bool) -> None:
    assert is_identifier(name) is identifier


def test_infer_numeric_types_like_a_stored_table() -> None:
    frame = pd.DataFrame(
        {
            "t.skor": ["1,5", "2.5", None],
            "t.kelas": ["A", "B", "A"],
            "t.kode_pos": ["05511", "05512", "05513"],
            "t.n": [1, 2, 3],
        }
    )
    typed = infer_numeric(frame)
    assert typed["t.skor"].tolist()[:2] == [1.5, 2.5] and np.isnan(typed["t.skor"].iloc[2])
    assert typed["t.n"].dtype == np.float64
    assert typed["t.kelas"].tolist() == ["A", "B", "A"]
    assert typed["t.kode_pos"].tolist() == ["05511", "05512", "05513"]  # identifiers stay


def test_comma_decimals_semicolon_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "t.csv",
        """
kode;Nilai Rata-rata;kategori;kode_pos
34.04.01.2001;0,5;A;05511
34.04.01.2002;1.234,75;B;05512
34.04.01.2003;-;A;05513
""",
    )
    report = add_indicator_table(path, products_dir=tmp_path / "out", name="t", key="kode")
    table = pd.read_parquet(tmp_path / "out" / "indicators" / "t.parquet")
    assert table["kode"].tolist() == ["3404012001", "3404012002", "3404012003"]
    assert table["nilai_rata_rata"].tolist()[:2] == [0.5, 1234.75]
    assert np.isnan(table["nilai_rata_rata"].iloc[2])
    assert table["kode_pos"].tolist() == ["05511", "05512", "05513"]  # leading zeros kept
    assert report.categorical_columns == ("kategori", "kode_pos")
    assert report.unparsed_values == {}


def test_unparsed_values_are_reported(tmp_path: Path) -> None:
    rows = "\n".join(f"34.04.01.{2001 + i},{i}.5" for i in range(40))
    path = write_csv(tmp_path / "t.csv", f"kode,nilai\n{rows}\n34.04.01.2099,n.a.x")
    report = add_indicator_table(path, products_dir=tmp_path, name="t", key="kode")
    assert report.numeric_columns == ("nilai",)
    assert report.unparsed_values["nilai"].examples == ("n.a.x",)


def test_kecamatan_table_joins_by_prefix(products: Path, villages_file: Path) -> None:
    table = write_csv(products.parent / "kec.csv", "kode_kec,nilai\n34.04.01,1\n34.71.01,2")
    report = add_indicator_table(table, products_dir=products, name="kec", key="kode_kec")
    codes = pd.read_parquet(villages_file, columns=["kode"])["kode"].drop_duplicates()
    expected = int(codes.str.match("340401|347101").sum())
    assert report.level == "kecamatan"
    assert report.villages is not None
    assert report.villages.with_value == expected > 0
    joined = joined_indicators(products, kodes=["3404012001", "3471011001", "3401012001"])
    assert joined["kec.nilai"].tolist()[:2] == [1.0, 2.0]


def test_custom_master_list(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", "kode,v\n34.04,1\n34.99,2")
    report = add_indicator_table(
        path, products_dir=tmp_path, name="t", key="kode", master=["34.04", "3471"]
    )
    assert (report.matched, report.unmatched.examples) == (1, ("3499",))
    assert report.master_list == "custom"


def test_excel_with_sheet(tmp_path: Path, products: Path, diy_codes: pd.Series) -> None:
    path = tmp_path / "t.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"note": ["readme"]}).to_excel(writer, sheet_name="about", index=False)
        pd.DataFrame({"Kode Kab": [3404, 3471], "Skor": [1.5, 2.5], "Kelas": ["x", "y"]}).to_excel(
            writer, sheet_name="data", index=False
        )
    report = add_indicator_table(
        path, products_dir=products, name="skor", key="kode_kab", sheet="data"
    )
    assert (report.level, report.rows, report.key_column) == ("kabkota", 2, "Kode Kab")
    assert report.villages is not None
    assert report.villages.with_value == int(diy_codes.str.match("3404|3471").sum())
    joined = joined_indicators(products, kodes=["34.04.01.2001", "3401012001"])
    assert joined["skor.skor"].tolist()[0] == 1.5
    assert np.isnan(joined["skor.skor"].iloc[1])


def test_excel_unknown_sheet_lists_sheets(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"kode": ["34"]}).to_excel(path, sheet_name="data", index=False)
    with pytest.raises(IndicatorTableError, match="sheet 'x' not in t.xlsx; its sheets are: data"):
        add_indicator_table(path, products_dir=tmp_path, name="t", key="kode", sheet="x")


# -- validation errors: nothing is written -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("kode,v\n3404012001,1\n34.04.01.2001,2", "kode", r"duplicated codes.*3404012001 \(2x\)"),
        ("kode,v\n3404012001,1\n3404,2", "kode", r"mixes levels: .*desa.*kabkota"),
        ("kode,v\n3404012001,1\n3404012,2", "kode", r"not Kemendagri codes \(e.g. 3404012\)"),
        ("kode,v\n3404012001,1\n,2", "kode", r"not Kemendagri codes \(e.g. <empty>\)"),
        (
            "kode,v\n3404012001,1",
            "kode_desa",
            r"'kode_desa' not in t.csv; its columns are: kode, v",
        ),
    ],
)
def test_bad_tables_raise_and_write_nothing(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = write_csv(tmp_path / "t.csv", text)
    with pytest.raises(IndicatorTableError, match=message):
        add_indicator_table(path, products_dir=tmp_path / "out", name="t", key=key)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["IDM", "2024_idm", "idm-2024", "a" * 42, ""])
def test_unsafe_names(tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path / "t.csv", "kode,v\n34,1")
    with pytest.raises(IndicatorTableError, match="invalid indicator name"):
        add_indicator_table(path, products_dir=tmp_path, name=name, key="kode")


@pytest.mark.parametrize("name", ["t.json", "missing.csv"])
def test_unreadable_files(tmp_path: Path, name: str) -> None:
    if name == "t.json":
        (tmp_path / name).write_text("{}")
    with pytest.raises(IndicatorTableError, match="CSV .*Parquet .*Excel"):
        add_indicator_table(tmp_path / name, products_dir=tmp_path, name="t", key="kode")


# -- reading back ------------------------------------------------------------------------------


def test_adding_again_replaces_the_table(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", "kode,v\n34,1")
    second = write_csv(tmp_path / "b.csv", "kode,v\n34,2\n35,3")
    add_indicator_table(first, products_dir=tmp_path, name="t", key="kode")
    add_indicator_table(second, products_dir=tmp_path, name="t", key="kode")
    assert list_indicators(tmp_path)[0].rows == 2
    assert sorted(p.name for p in (tmp_path / "indicators").iterdir()) == [
        "t.parquet",
        "t.report.json",
    ]  # no temporary files left


def test_list_indicators(shared_data: Path, products: Path, idm_diy: pd.DataFrame) -> None:
    add_indicator_table(shared_data / IDM_DIY, products_dir=products, name="idm", key="kode_desa")
    add_indicator_table(shared_data / POVERTY, products_dir=products, name="pov", key="kode_kab")
    infos = {info.name: info for info in list_indicators(products)}
    assert {n: i.level for n, i in infos.items()} == {"idm": "desa", "pov": "kabkota"}
    columns = {c.name: c for c in infos["idm"].columns}
    status = columns["status_idm_2024"]
    assert (status.kind, status.field, status.categories) == (
        "categorical",
        "idm.status_idm_2024",
        ("MAJU", "MANDIRI"),
    )
    score = columns["nilai_idm_2024"]
    assert score.kind == "numeric"
    written = idm_diy["nilai_idm_2024"].astype(float)
    assert (score.minimum, score.maximum) == (written.min(), written.max())
    assert columns["nama_desa"].categories == ()  # too many to list
    assert columns["nama_desa"].n_categories > 300
    assert json.dumps([i.to_dict() for i in infos.values()])


def test_joined_indicators_columns(shared_data: Path, products: Path) -> None:
    add_indicator_table(shared_data / IDM_DIY, products_dir=products, name="idm", key="kode_desa")
    joined = joined_indicators(products)
    assert joined.index.name == "kode"
    assert len(joined) == 438
    assert "idm.nilai_idm_2024" in joined.columns
    assert joined["idm.nilai_idm_2024"].notna().sum() == 392
    assert pd.isna(joined.loc["3471011001", "idm.status_idm_2024"])  # a kelurahan


def test_joined_indicators_without_tables(products: Path) -> None:
    joined = joined_indicators(products)
    assert joined.shape == (438, 0)


def test_joined_indicators_needs_villages_or_codes(tmp_path: Path) -> None:
    with pytest.raises(IndicatorTableError, match="no villages.parquet"):
        joined_indicators(tmp_path)
    with pytest.raises(IndicatorTableError, match="not 10-digit"):
        joined_indicators(tmp_path, kodes=["3404"])
