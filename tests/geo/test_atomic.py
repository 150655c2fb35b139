"""Leftovers of killed writers are removed where one writer owns the files."""

from __future__ import annotations

from pathlib import Path

from geo.atomic import atomic_target, remove_leftovers, temporary_sibling


def test_leftovers_of_a_target_are_removed_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "villages.parquet"
    stale = [temporary_sibling(target) for _ in range(2)]
    other = temporary_sibling(tmp_path / "villages.csv")
    hidden = tmp_path / ".villages.parquet.notes"  # not our temporary name
    for p in (*stale, other, hidden):
        p.write_text("x")
    assert remove_leftovers(target) == 2
    assert not any(p.exists() for p in stale) and other.exists() and hidden.exists()


def test_a_folder_loses_every_temporary_file_inside_it(tmp_path: Path) -> None:
    (tmp_path / "ndvi.tif").write_text("kept")
    stale = temporary_sibling(tmp_path / "ndbi.tif")
    stale.write_text("half")
    assert remove_leftovers(tmp_path, tmp_path / "missing" / "x.json") == 1
    assert not stale.exists() and (tmp_path / "ndvi.tif").read_text() == "kept"


def test_atomic_target_leaves_no_temporary_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    try:
        with atomic_target(target) as tmp:
            tmp.write_text("half")
            raise OSError("disk full")
    except OSError:
        pass
    assert list(tmp_path.iterdir()) == []
