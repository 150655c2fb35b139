"""Region names to Kemendagri codes: normalise names, match them level by level.

Tables that carry only names (``Provinsi``, ``Kab/Kota``, ...) are keyed by matching each
name, coarse to fine, to the Kemendagri 2025 master list (:func:`geo.codes.kemendagri_names`):
a kab/kota name is looked up only among the kab/kota of its matched province, a kecamatan
only inside its matched kab/kota, and so on. A name matches a region when their normalised
forms (:func:`name_key`) are equal: case, accents, spacing, punctuation, ``Kep.`` and the
designations ``Kab.``/``Kabupaten``/``Kota``/``Kota Adm.`` (and ``Provinsi``, ``DI``, ``DKI``,
``Kec.``, ``Desa``, ``Kel.``) do not count, except that a designation, when written, must
agree with the region's kind. The older names of :data:`NAME_VARIANTS` match their regions
too. A name with no candidate is unmatched, one with several is ambiguous: neither gets a
code, and neither do rows that land on the same region (:func:`match_names`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import pandas as pd

from geo.codes import LEVEL_LENGTHS, CodeLevel, CodeSample, kemendagri_names, village_kinds

__all__ = [
    "NAME_LEVELS",
    "NAME_VARIANTS",
    "PROVINCE_SPLITS",
    "NameMatch",
    "NameReport",
    "NameVariant",
    "match_names",
    "name_key",
]

#: The levels a name column can hold, coarsest first.
NAME_LEVELS: Final[tuple[CodeLevel, ...]] = ("provinsi", "kabkota", "kecamatan", "desa")


class NameVariant(NamedTuple):
    """An older name of a region, valid inside one parent region."""

    level: CodeLevel
    parent: str  # code of the parent region
    old: str
    new: str  # the name in the 2025 list
    note: str


#: Older names for regions the 2025 list names otherwise. Each was found unmatched when
#: matching the BPS 2021 poverty table (``Klasifikasi Tingkat Kemiskinan di Indonesia.csv``,
#: 514 kab/kota) and checked against the 2025 list; all are kabupaten.
NAME_VARIANTS: Final[tuple[NameVariant, ...]] = (
    NameVariant("kabkota", "12", "Toba Samosir", "Toba", "renamed Toba in 2020"),
    NameVariant("kabkota", "61", "Pontianak", "Mempawah", "Kab. Pontianak renamed in 2014"),
    NameVariant("kabkota", "64", "Mahakam Hulu", "Mahakam Ulu", "spelling"),
    NameVariant(
        "kabkota",
        "71",
        "Siau Tagulandang Biaro",
        "Kep. Siau Tagulandang Biaro",
        "the 2025 name begins with Kep.",
    ),
    NameVariant("kabkota", "76", "Mamuju Utara", "Pasangkayu", "renamed in 2017"),
    NameVariant("kabkota", "81", "Maluku Tenggara Barat", "Kepulauan Tanimbar", "renamed in 2019"),
)

#: Provinces split since older tables were published: old code -> codes of the provinces
#: made from it (Papua Selatan, Tengah, Pegunungan and Papua Barat Daya, created in 2022). A
#: child named under the old province is looked up in these too.
PROVINCE_SPLITS: Final[dict[str, tuple[str, ...]]] = {"91": ("93", "94", "95"), "92": ("96",)}

# Leading designations per level (normalised words) and the kind of region each declares.
_DESIGNATIONS: Final[dict[CodeLevel, tuple[tuple[str, str], ...]]] = {
    "provinsi": (
        ("provinsi", ""),
        ("prov", ""),
        ("daerah khusus ibukota", ""),
        ("daerah khusus", ""),
        ("daerah istimewa", ""),
        ("dki", ""),
        ("di", ""),
    ),
    "kabkota": (
        ("kabupaten adm", "kabupaten"),
        ("kabupaten", "kabupaten"),
        ("kab adm", "kabupaten"),
        ("kab", "kabupaten"),
        ("kota adm", "kota"),
        ("kota", "kota"),
    ),
    "kecamatan": (("kecamatan", ""), ("kec", "")),
    "desa": (("kelurahan", "kelurahan"), ("kel", "kelurahan"), ("desa", "desa")),
}
_SYNONYMS: Final = {"kep": "kepulauan", "administrasi": "adm"}


class NameKey(NamedTuple):
    """A name's normalised form: the kind its designation declares ('' if none) and its key."""

    kind: str
    key: str
    whole: str  # the key with the designation kept ("Kota Baru" -> "kotabaru")


def _words(text: str) -> list[str]:
    """Lower-case ASCII words; runs of single letters joined (``D. I.`` -> ``di``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    plain = re.sub(r"['`]", "", plain)
    words: list[str] = []
    in_run = False
    for token in re.sub(r"[^0-9a-z]+", " ", plain).split():
        single = len(token) == 1 and token.isalpha()
        if single and in_run:
            words[-1] += token
            continue
        words.append(token)
        in_run = single
    return [_SYNONYMS.get(w, w) for w in words]


def name_key(name: object, level: CodeLevel) -> NameKey:
    """The normalised form of a region name at ``level``.

    ``KAB. ADM. KEP. SERIBU`` and ``Kabupaten Administrasi Kepulauan Seribu`` both give kind
    ``kabupaten`` and key ``kepulauanseribu``; ``D I YOGYAKARTA`` gives ``yogyakarta``.
    """
    words = [] if name is None or name is pd.NA or name != name else _words(str(name))
    whole = "".join(words)
    text = " ".join(words)
    for designation, kind in _DESIGNATIONS[level]:
        if text.startswith(designation + " "):
            return NameKey(kind, text[len(designation) + 1 :].replace(" ", ""), whole)
    return NameKey("", whole, whole)


@dataclass(frozen=True)
class _Region:
    code: str
    name: str
    kind: str
    variant: bool = False


@functools.cache
def _index(level: CodeLevel, variants: tuple[NameVariant, ...]) -> _Index:
    """The master list of one level, with variants, built once."""
    return _Index(level, variants)


class _Index:
    """The master list of one level by parent code and key."""

    def __init__(self, level: CodeLevel, variants: tuple[NameVariant, ...]) -> None:
        self.level = level
        self.by_key: dict[tuple[str, str], list[_Region]] = defaultdict(list)
        names = kemendagri_names(level)
        parent_length = 0 if level == "provinsi" else LEVEL_LENGTHS[_parent_level(level)]
        kinds: dict[str, str] = {}
        if level == "desa":
            codes = pd.Series(list(names), dtype="string")
            kinds = dict(zip(codes, village_kinds(codes).fillna(""), strict=True))
        for code, title in names.items():
            key = name_key(title, level)
            kind = kinds.get(code, key.kind) if level == "desa" else key.kind
            self.by_key[(code[:parent_length], key.key)].append(_Region(code, title, kind))
        for variant in variants:
            if variant.level != level:
                continue
            new = self.by_key.get((variant.parent, name_key(variant.new, level).key), [])
            if len(new) != 1:  # a wrong table entry must not go unnoticed
                raise ValueError(f"name variant {variant} does not name one 2025 region")
            old = name_key(variant.old, level).key
            region = new[0]
            self.by_key[(variant.parent, old)].append(
                _Region(region.code, region.name, region.kind, variant=True)
            )

    def candidates(self, parents: Sequence[str], key: NameKey) -> list[_Region]:
        """Regions under ``parents`` whose key is the name's (and kind, when written)."""
        found = [r for p in parents for r in self.by_key.get((p, key.key), [])]
        if key.kind:
            found = [r for r in found if r.kind in ("", key.kind)]
        if not found and key.whole != key.key:  # "Kota Baru" may be Kabupaten Kotabaru
            found = [r for p in parents for r in self.by_key.get((p, key.whole), [])]
        return list({r.code: r for r in found}.values())


def _parent_level(level: CodeLevel) -> CodeLevel:
    return NAME_LEVELS[NAME_LEVELS.index(level) - 1]


@dataclass(frozen=True)
class NameReport:
    """How the names of a table matched the 2025 list."""

    columns: tuple[str, ...]
    level: CodeLevel
    rows: int
    matched: int
    unmatched: CodeSample
    ambiguous: CodeSample
    duplicates: CodeSample
    variants: CodeSample
    split_provinces: CodeSample

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "columns": list(self.columns),
            "level": self.level,
            "rows": self.rows,
            "matched": self.matched,
            "unmatched": self.unmatched.to_dict(),
            "ambiguous": self.ambiguous.to_dict(),
            "duplicates": self.duplicates.to_dict(),
            "name_variants_used": self.variants.to_dict(),
            "found_in_split_province": self.split_provinces.to_dict(),
        }

    def lines(self) -> list[str]:
        """Lines for the terminal."""
        out = [f"  names matched to the 2025 list: {self.matched}/{self.rows} rows"]
        for label, sample in (
            ("unmatched names (not stored)", self.unmatched),
            ("ambiguous names (not stored)", self.ambiguous),
            ("rows naming the same region (not stored)", self.duplicates),
            ("older names matched", self.variants),
            ("found in a province split off since", self.split_provinces),
        ):
            if sample.count:
                out.append(f"  {label}: {sample.count}, e.g. {'; '.join(sample.examples[:5])}")
        return out


@dataclass(frozen=True)
class NameMatch:
    """Codes of the matched rows (``<NA>`` elsewhere), indexed like the table, and the report."""

    codes: pd.Series
    report: NameReport


def match_names(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    variants: Sequence[NameVariant] = NAME_VARIANTS,
    splits: Mapping[str, tuple[str, ...]] = PROVINCE_SPLITS,
) -> NameMatch:
    """Match the names in ``columns`` (coarse to fine, 1-4 levels from province) to codes.

    Every row either gets the code of the one region its names denote at the finest level,
    or ``<NA>`` and a place in the report (unmatched, ambiguous, or several rows for one
    region).

    Args:
        frame: the table.
        columns: its name columns, coarse to fine, starting at the province.
        variants: older names accepted (default :data:`NAME_VARIANTS`).
        splits: provinces split since (default :data:`PROVINCE_SPLITS`).
    """
    if not 1 <= len(columns) <= len(NAME_LEVELS):
        raise ValueError(f"1 to {len(NAME_LEVELS)} name columns, coarse to fine; got {columns}")
    levels = NAME_LEVELS[: len(columns)]
    indexes = [_index(level, tuple(variants)) for level in levels]
    keys = {
        column: [name_key(v, level) for v in frame[column].tolist()]
        for column, level in zip(columns, levels, strict=True)
    }
    texts = [
        " / ".join(str(v) if isinstance(v, str) else "<empty>" for v in row)
        for row in frame[list(columns)].itertuples(index=False, name=None)
    ]
    parents: list[list[str]] = [[""] for _ in range(len(frame))]
    failed: dict[int, str] = {}
    unmatched, ambiguous, renamed, elsewhere = [], [], [], []
    for depth, (column, index) in enumerate(zip(columns, indexes, strict=True)):
        row_keys = keys[column]
        # kinds written explicitly in the table ("Kota Bogor"), by parent and key
        explicit = {
            (parents[i][0], k.key, k.kind)
            for i, k in enumerate(row_keys)
            if i not in failed and k.kind
        }
        for i, key in enumerate(row_keys):
            if i in failed:
                continue
            if not key.key:
                failed[i] = "unmatched"
                unmatched.append(f"{texts[i]} (empty {index.level} name)")
                continue
            found = index.candidates(parents[i], key)
            if len(found) > 1 and not key.kind:  # "Kota Bogor" elsewhere: "Bogor" is the kab
                found = [r for r in found if (parents[i][0], key.key, r.kind) not in explicit]
            if not found:
                failed[i] = "unmatched"
                unmatched.append(f"{texts[i]} ({index.level} not found)")
                continue
            if len(found) > 1:
                failed[i] = "ambiguous"
                listed = ", ".join(f"{r.code} {r.name}" for r in found)
                ambiguous.append(f"{texts[i]} ({index.level}: {listed})")
                continue
            region = found[0]
            if region.variant:
                renamed.append(f"{frame[column].iloc[i]} -> {region.code} {region.name}")
            if depth and not region.code.startswith(parents[i][0]):
                elsewhere.append(f"{texts[i]} -> {region.code} {region.name}")
            parents[i] = [region.code, *splits.get(region.code, ())]
    codes = pd.Series(
        [pd.NA if i in failed else parents[i][0] for i in range(len(frame))],
        index=frame.index,
        dtype="string",
    )
    repeated = codes.notna() & codes.duplicated(keep=False)
    duplicates = [f"{texts[i]} -> {codes.iloc[i]}" for i in range(len(frame)) if repeated.iloc[i]]
    codes = codes.mask(repeated)
    report = NameReport(
        columns=tuple(columns),
        level=levels[-1],
        rows=len(frame),
        matched=int(codes.notna().sum()),
        unmatched=CodeSample.of(unmatched),
        ambiguous=CodeSample.of(ambiguous),
        duplicates=CodeSample.of(duplicates),
        variants=CodeSample.of(renamed),
        split_provinces=CodeSample.of(elsewhere),
    )
    return NameMatch(codes=codes, report=report)
