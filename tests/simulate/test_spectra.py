"""The simulator's mixtures: made of real held-out spectra only, with a true impervious share."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from geo.spectra import CLASSES, calibration_set, validation_set, validation_spectra
from simulate import LandCover, MaterialPalette, draw_palette
from simulate.spectra import IMPERVIOUS_LEVELS, PALETTE_SIZE, material_code

from .conftest import manifest_of, read

IMP = CLASSES.index("impervious")


@pytest.fixture(scope="module")
def palette() -> MaterialPalette:
    return draw_palette(np.random.default_rng(5))


def _codes(cls: LandCover) -> np.ndarray:
    return material_code(cls, np.arange(PALETTE_SIZE)).astype(int)


def test_every_component_is_a_held_out_spectrum_times_illumination(palette) -> None:
    library = validation_spectra()
    used = 0
    for code in range(1, len(palette.shares)):
        for c, name in enumerate(CLASSES):
            picks = [i for i in palette.sources[code, c] if i >= 0]
            if palette.shares[code, c] == 0:
                continue
            assert picks, (code, name)
            expected = np.mean([library[name][i] for i in picks], axis=0)
            expected = expected * palette.illumination[code]
            np.testing.assert_allclose(palette.spectra[code, c], expected, rtol=1e-6)
            used += 1
    assert used > 4 * PALETTE_SIZE
    assert np.all((palette.illumination[1:] >= 0.9) & (palette.illumination[1:] <= 1.1))


def test_no_calibration_spectrum_is_used(palette) -> None:
    # validation and calibration are disjoint by name, and no palette component equals a
    # calibration spectrum at any illumination (their band shares would match)
    assert not set(validation_set().names) & set(calibration_set().names)
    calibration = calibration_set().reflectance.astype(np.float64)
    cal_shape = calibration / calibration.sum(axis=1, keepdims=True)
    components = palette.spectra[1:][palette.shares[1:] > 0]
    shape = components / components.sum(axis=1, keepdims=True)
    nearest = np.abs(shape[:, None, :] - cal_shape[None]).max(axis=2).min(axis=1)
    assert nearest.min() > 1e-6


def test_palette_draws_from_across_the_library(palette) -> None:
    roofs = {int(i) for i in palette.sources[_codes(LandCover.BUILT), IMP].ravel() if i >= 0}
    soils = palette.sources[_codes(LandCover.BARE), CLASSES.index("soil")].ravel()
    assert len(roofs) >= 40  # of 146 held-out urban spectra
    assert len({int(i) for i in soils if i >= 0}) >= 40


def test_shares_sum_to_one_and_only_built_pixels_are_impervious(palette) -> None:
    np.testing.assert_allclose(palette.shares[1:].sum(axis=1), 1.0, atol=1e-12)
    assert (palette.shares >= 0).all() and (palette.shares[0] == 0).all()
    built = palette.shares[_codes(LandCover.BUILT), IMP]
    assert built.min() >= 0.45 and built.max() <= 1.0 and built.std() > 0.1
    for cls in (LandCover.WATER, LandCover.VEGETATION, LandCover.BARE):
        assert (palette.shares[_codes(cls), IMP] == 0).all()
    # kampung pixels are mixtures: most hold some canopy too
    assert (palette.shares[_codes(LandCover.BUILT), CLASSES.index("vegetation")] > 0).mean() > 0.9


def test_true_impervious_share_is_exact_in_its_levels(palette) -> None:
    levels = palette.impervious.astype(float)
    np.testing.assert_array_equal(levels / IMPERVIOUS_LEVELS, palette.shares[:, IMP])


def test_mixture_reflectance_is_the_area_weighted_sum(palette) -> None:
    # in mid-May and mid-November the season weight is ~0: plain linear mixing
    day = date(2021, 5, 16)
    code = int(_codes(LandCover.BUILT)[7])
    expected = palette.shares[code] @ palette.spectra[code]
    np.testing.assert_allclose(palette.reflectance(day)[code], expected, rtol=0.002)


def test_mixtures_look_like_their_class(palette) -> None:
    r = palette.reflectance(date(2021, 6, 1))
    veg, water = r[_codes(LandCover.VEGETATION)], r[_codes(LandCover.WATER)]
    assert (veg[:, 3] > 3 * veg[:, 2]).all()  # red edge: NIR well above red
    assert (water[:, 4] < water[:, 1]).all()  # water absorbs the SWIR
    assert (r[1:] > 0).all() and (r[1:] < 1).all()


def test_palette_round_trips_through_json(palette) -> None:
    back = MaterialPalette.from_dict(json.loads(json.dumps(palette.to_dict())))
    np.testing.assert_array_equal(
        back.reflectance(date(2022, 2, 1)), palette.reflectance(date(2022, 2, 1))
    )
    np.testing.assert_array_equal(back.impervious, palette.impervious)


def test_simulation_pixels_use_only_their_class_materials(sim) -> None:
    manifest = manifest_of(sim)
    for year in ("2021", "2022"):
        classes = read(sim.catalog_dir / manifest["land_cover"][year]).astype(int)
        codes = read(sim.catalog_dir / manifest["materials"][year]).astype(int)
        assert ((codes - 1) // PALETTE_SIZE + 1 == classes).all()
        assert len(np.unique(codes[classes == LandCover.BUILT])) >= 20
