"""Where scenes come from: a named service, any STAC API URL, or a local static catalog."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stac.errors import StacSourceError
from stac.settings import StacSettings

__all__ = ["SourceKind", "StacSource", "resolve_source", "CATALOG_FILES", "NAMED_SOURCES"]

SourceKind = Literal["earth-search", "planetary-computer", "api", "local"]

# The root document of a static catalog folder, in order of preference.
CATALOG_FILES = ("catalog.json", "collection.json")
NAMED_SOURCES = ("earth-search", "planetary-computer")

_HINT = (
    "pass 'earth-search', 'planetary-computer', the http(s) URL of a STAC API, "
    "or the folder of a static STAC catalog (holding catalog.json or collection.json)"
)


@dataclass(frozen=True)
class StacSource:
    """A resolved STAC source: what it is, where it is, which collection, how to sign hrefs.

    ``patch_url`` is applied to asset hrefs just before pixels are read (odc-stac's
    ``patch_url=`` hook); items returned by search stay unsigned.
    """

    kind: SourceKind
    url_or_path: str
    collection: str | None
    patch_url: Callable[[str], str] | None = None

    @property
    def is_local(self) -> bool:
        """True for a local static catalog folder."""
        return self.kind == "local"

    def __str__(self) -> str:
        where = f"{self.kind} {self.url_or_path}"
        return f"{where} [{self.collection}]" if self.collection else where


def resolve_source(
    spec: str,
    *,
    collection: str | None = None,
    settings: StacSettings | None = None,
) -> StacSource:
    """Turn a ``--stac`` value (service name, API URL or catalog folder) into a StacSource."""
    settings = settings or StacSettings()
    text = spec.strip()
    if not text:
        raise StacSourceError(f"empty STAC source: {_HINT}")
    name = text.lower()
    if name == "earth-search" or _same_url(text, settings.earth_search_url):
        return StacSource(
            "earth-search",
            settings.earth_search_url,
            collection or settings.default_collection,
        )
    if name == "planetary-computer" or _same_url(text, settings.planetary_computer_url):
        return StacSource(
            "planetary-computer",
            settings.planetary_computer_url,
            collection or settings.planetary_computer_collection,
            patch_url=_planetary_computer_signer(),
        )
    if name.startswith(("http://", "https://")):
        return StacSource("api", text.rstrip("/"), collection or settings.default_collection)
    return StacSource("local", str(_catalog_folder(text)), collection)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def _planetary_computer_signer() -> Callable[[str], str]:
    # Imported here: signing is only needed for this one service. planetary-computer 1.0
    # declares pydantic v1-style configs, which pydantic 2 warns about on import.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="planetary_computer")
        import planetary_computer

    sign: Callable[[str], str] = planetary_computer.sign
    return sign


def _catalog_folder(text: str) -> Path:
    """The folder of a local static catalog, or a StacSourceError saying what to pass."""
    path = Path(text).expanduser()
    if path.is_file() and path.name in CATALOG_FILES:
        path = path.parent
    if not path.exists():
        close = difflib.get_close_matches(text.lower(), NAMED_SOURCES, n=1)
        guess = f" (did you mean '{close[0]}'?)" if close else ""
        raise StacSourceError(f"unknown STAC source {text!r}{guess}: no such folder; {_HINT}")
    if not path.is_dir():
        raise StacSourceError(f"STAC source {text!r} is a file, not a catalog folder; {_HINT}")
    if not any((path / name).is_file() for name in CATALOG_FILES):
        raise StacSourceError(
            f"folder {text!r} holds no {' or '.join(CATALOG_FILES)}; {_HINT}. "
            "Write one with pystac (Catalog.normalize_hrefs + save) around your item JSON files."
        )
    return path.resolve()
