"""Test fixture: the Kemendagri-coded poverty table recoded to BPS codes through the crosswalk.

The shared data has the BPS 2021 poverty table only by name and with Kemendagri 2025 codes
added (``poverty_ipm_kabkota_2021_with_kemendagri_code.csv``). BPS publishes such tables with
BPS codes; this rebuilds one by inverting the BPS-Kemendagri bridging table of 2020
(``codes/bps_kemendagri_bridging_2020/kabkota.csv``, BPS code -> 2020 Kemendagri code):

* 488 kab/kota keep their 2020 Kemendagri code in 2025: their BPS code is the crosswalk row
  whose ``kode_dagri`` is that code;
* the 26 kab/kota of the Papua provinces created in 2022 have new codes, and their 2020 codes
  are in no 2025 list: their BPS code is the crosswalk row whose 2020 Kemendagri *name*
  (``nama_dagri``) is theirs (each of the 26 names is found once).

Adding the result with ``--code-system bps`` must store the 488 under their Kemendagri code and
report the 26 as not convertible (their crosswalk targets are retired codes).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from geo.codes import kemendagri_names

POVERTY = "indicators/poverty_kabkota_2021/poverty_ipm_kabkota_2021_with_kemendagri_code.csv"
CROSSWALK = "codes/bps_kemendagri_bridging_2020"


def _plain(name: str) -> str:
    """Upper-case letters of a kab/kota name without the kabupaten designation."""
    upper = re.sub(r"^(KABUPATEN|KAB\.?)\s+", "", name.upper().strip())
    return re.sub(r"[^A-Z]", "", upper)


def poverty_in_bps_codes(shared_data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the poverty table keyed by ``kode_bps``, its rows' BPS -> Kemendagri 2025 codes).

    The second frame has ``kode_bps``, ``kode_kab`` (2025) and ``retired`` (True for the 26
    whose crosswalk target is a retired 2020 code).
    """
    table = pd.read_csv(shared_data / POVERTY, dtype={"kode_kab": str, "kode_kab_dotted": str})
    crosswalk = pd.read_csv(shared_data / CROSSWALK / "kabkota.csv", dtype=str)
    names = kemendagri_names("kabkota")
    by_code = dict(zip(crosswalk["kode_dagri"], crosswalk["kode_bps"], strict=True))
    retired = crosswalk[~crosswalk["kode_dagri"].isin(names)]
    by_name: dict[str, list[str]] = {}
    for bps, name in zip(retired["kode_bps"], retired["nama_dagri"], strict=True):
        by_name.setdefault(_plain(name), []).append(bps)
    bps_codes, was_retired = [], []
    for code in table["kode_kab"]:
        if code in by_code:
            bps_codes.append(by_code[code])
            was_retired.append(False)
        else:
            (found,) = by_name[_plain(names[code])]  # exactly one, or the fixture is wrong
            bps_codes.append(found)
            was_retired.append(True)
    mapping = pd.DataFrame(
        {"kode_bps": bps_codes, "kode_kab": table["kode_kab"], "retired": was_retired}
    )
    assert mapping["kode_bps"].is_unique
    recoded = table.drop(columns=["kode_kab", "kode_kab_dotted"])
    recoded.insert(0, "kode_bps", bps_codes)
    return recoded, mapping
