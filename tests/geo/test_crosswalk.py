"""BPS codes through a crosswalk: reading it, converting, refusing, and the code-system evidence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.codes import kemendagri_codes
from geo.errors import IndicatorTableError
from geo.indicators.crosswalk import (
    check_bps_codes,
    code_system_evidence,
    convert_bps,
    read_crosswalk,
)
from tests.geo.poverty_bps import CROSSWALK, poverty_in_bps_codes

# Real pairs, and made-up ones for what the real crosswalk does not have: a BPS code mapped
# to two Kemendagri codes (1101), two BPS codes mapped to one (1102, 1103 -> 1101), a target
# retired since (9401 -> 9101, as in the real 2020 crosswalk).
PAIRS = """kode_bps,nama_bps,kode_dagri,nama_dagri
3171,JAKARTA SELATAN,3174,KOTA ADM. JAKARTA SELATAN
3173,JAKARTA PUSAT,3171,KOTA ADM. JAKARTA PUSAT
3471,YOGYAKARTA,3471,KOTA YOGYAKARTA
1101,made up,1109,made up
1101,made up,1110,made up
1102,made up,1101,made up
1103,made up,1101,made up
9401,MERAUKE,9101,KAB. MERAUKE
3471,YOGYAKARTA,3471,KOTA YOGYAKARTA
"""


@pytest.fixture
def crosswalk_csv(tmp_path: Path) -> Path:
    path = tmp_path / "cw.csv"
    path.write_text(PAIRS)
    return path


def codes(*values: str) -> pd.Series:
    return pd.Series(list(values), dtype="string")


def test_converts_and_refuses_by_reason(crosswalk_csv: Path) -> None:
    table = codes("3171", "3173", "3471", "1101", "1102", "9401", "5555")
    result = convert_bps(
        table, "kabkota", read_crosswalk(crosswalk_csv), master=kemendagri_codes("kabkota")
    )
    assert result.codes.tolist() == ["3174", "3171", "3471", pd.NA, pd.NA, pd.NA, pd.NA]
    report = result.report
    assert (report.rows, report.converted, report.changed, report.refused) == (7, 3, 2, 4)
    assert report.split.examples == ("1101 -> 1109 | 1110",)
    assert report.merged.examples == ("1102 -> 1101 (also from 1103)",)
    assert report.target_not_in_master.examples == ("9401 -> 9101",)
    assert report.not_in_crosswalk.examples == ("5555",)


def test_no_raw_code_fallback(crosswalk_csv: Path) -> None:
    # 3171 and 9401 are Kemendagri 2025 codes too (Jakarta Pusat, Nabire), but as BPS codes
    # they are Jakarta Selatan and Merauke: converted or refused, never kept; 3404 (Sleman in
    # both systems) is not in this crosswalk: refused, not kept either.
    assert {"3171", "9401", "3404"} <= kemendagri_codes("kabkota")
    result = convert_bps(
        codes("3171", "9401", "3404"),
        "kabkota",
        read_crosswalk(crosswalk_csv),
        master=kemendagri_codes("kabkota"),
    )
    assert result.codes.tolist() == ["3174", pd.NA, pd.NA]


def test_duplicate_pairs_are_one_pair(crosswalk_csv: Path) -> None:
    crosswalk = read_crosswalk(crosswalk_csv)
    assert len(crosswalk.pairs) == 9
    assert (crosswalk.level("kabkota")["bps"] == "3471").sum() == 1  # not "several to one"


def test_folder_reads_every_level(shared_data: Path) -> None:
    crosswalk = read_crosswalk(shared_data / CROSSWALK)
    assert crosswalk.to_dict()["pairs"] == {
        "provinsi": 34,
        "kabkota": 514,
        "kecamatan": 6857,
        "desa": 0,
    }
    assert [f["name"] for f in crosswalk.to_dict()["files"]] == [
        "kabkota.csv",
        "kecamatan.csv",
        "provinsi.csv",
    ]
    result = convert_bps(
        codes("3171020", "3404070"), "kecamatan", crosswalk, master=kemendagri_codes("kecamatan")
    )
    assert result.codes.str.len().tolist() == [6, 6]
    assert result.codes.str.slice(0, 4).tolist() == ["3174", "3404"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kode_bps,kode_dagri\n", "has no rows"),
        ("kode,nama\n3171,x\n", "has no kode_bps column"),
        ("kode_bps,nama\n3171,x\n", "has no kode_dagri column"),
        ("kode_bps,kode_dagri\n3171,31740\n", r"not a BPS code .* e\.g\. 3171 -> 31740"),
        ("kode_bps,kode_dagri\n3171010,3174\n", r"same level .* 3171010 -> 3174"),
        ("kode_bps,kode_dagri\n31x1,3174\n", r"e\.g\. 31x1 -> 3174"),
    ],
)
def test_bad_crosswalks(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cw.csv"
    path.write_text(text)
    with pytest.raises(IndicatorTableError, match=message):
        read_crosswalk(path)


def test_missing_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(IndicatorTableError, match="crosswalk not found"):
        read_crosswalk(tmp_path / "nope.csv")
    with pytest.raises(IndicatorTableError, match="holds no .csv file"):
        read_crosswalk(tmp_path)


def test_no_pairs_of_the_level(crosswalk_csv: Path) -> None:
    with pytest.raises(IndicatorTableError, match="no kecamatan pairs .*it has: kabkota"):
        convert_bps(codes("3171010"), "kecamatan", read_crosswalk(crosswalk_csv), master=[])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["3171", "31.71"], r"not BPS codes \(e\.g\. 31\.71\)"),
        (["3171", "317101"], "not BPS codes"),  # 6 digits: a Kemendagri kecamatan code
        (["3171", "3171010"], "mixes levels"),
        (["3171", "3171"], r"3171 \(2x\)"),
        (["3171", None], "<empty>"),
    ],
)
def test_bad_bps_codes(values: list[str | None], message: str) -> None:
    with pytest.raises(IndicatorTableError, match=message):
        check_bps_codes(pd.Series(values, dtype=object), "kode")


def test_bps_codes_from_numbers() -> None:
    parsed, level = check_bps_codes(pd.Series([3171010, 1101010.0]), "kode")
    assert (parsed.tolist(), level) == (["3171010", "1101010"], "kecamatan")


# -- evidence ----------------------------------------------------------------------------------


def test_evidence_counts(crosswalk_csv: Path) -> None:
    # 1102, 1103 and 9401: in both lists (1102 and 1103 convert elsewhere); 3173: BPS only
    # (it is no 2025 code); 3174: Kemendagri only; 5555: neither.
    evidence = code_system_evidence(
        codes("1102", "1103", "3471", "3173", "3174", "5555"),
        master=kemendagri_codes("kabkota") - {"3173"},
        crosswalk=read_crosswalk(crosswalk_csv),
    )
    assert evidence.codes == 6
    assert evidence.bps_only.examples == ("3173",)
    assert evidence.kemendagri_only.examples == ("3174",)
    assert (evidence.both, evidence.neither) == (3, 1)
    assert evidence.both_elsewhere.examples == ("1102", "1103")
    assert not evidence.looks_like_bps() and not evidence.looks_like_kemendagri()


def test_evidence_by_shape_without_a_crosswalk() -> None:
    # 3273010001 has the BPS village shape (desa segment 0001); 3273021002 is Lebak Gede
    evidence = code_system_evidence(
        codes("3273010001", "3273021002"), master=kemendagri_codes("desa"), crosswalk=None
    )
    assert evidence.bps_shaped.examples == ("3273010001",)
    assert evidence.looks_like_bps()
    assert "1 of 2 codes cannot be Kemendagri village codes" in evidence.describe()
    assert evidence.bps_list == ""


def test_evidence_on_the_real_tables(shared_data: Path) -> None:
    crosswalk = read_crosswalk(shared_data / CROSSWALK)
    master = kemendagri_codes("kabkota")
    bps_table, mapping = poverty_in_bps_codes(shared_data)
    bps = code_system_evidence(bps_table["kode_bps"], master=master, crosswalk=crosswalk)
    kemendagri = code_system_evidence(mapping["kode_kab"], master=master, crosswalk=crosswalk)
    cw = pd.read_csv(shared_data / CROSSWALK / "kabkota.csv", dtype=str)
    only_bps = set(cw["kode_bps"]) - master
    assert (bps.bps_only.count, bps.kemendagri_only.count, bps.both) == (35, 0, 479)
    assert len(only_bps) == 35
    assert (kemendagri.bps_only.count, kemendagri.kemendagri_only.count) == (0, 35)
    assert bps.looks_like_bps() and not kemendagri.looks_like_bps()
    assert kemendagri.looks_like_kemendagri()
    # 164 of the 479 shared codes denote another kab/kota as BPS codes (3171, 9401, ...)
    assert bps.both_elsewhere.count == 164
    assert bps.describe().startswith("35 of 514 codes exist only as BPS codes")
