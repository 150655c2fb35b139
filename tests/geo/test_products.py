"""The product registry: formulas against hand-computed values, storage, validation, lookup."""

from __future__ import annotations

import cloudpickle
import dask.array as da
import numpy as np
import pytest

from geo.products import (
    BUILT_UP_METHODS,
    BUILT_UP_RULE,
    COUNT_INPUT,
    INDEX_STATISTICS,
    PRODUCTS,
    Product,
    ProductRegistry,
    normalized_difference,
    with_built_up,
)
from geo.spectra import validation_set
from geo.unmixing import DEFAULT_METHOD, impervious_fraction

# A vegetation pixel; every expected value below is written out from the index's published
# definition over these numbers, e.g. NDVI = (0.35 - 0.035) / (0.35 + 0.035) = 0.8181...
PIXEL = {"blue": 0.03, "green": 0.06, "red": 0.035, "nir": 0.35, "swir16": 0.18, "swir22": 0.09}
INDEX_NAMES = ("ndvi", "ndbi", "mndwi", "bsi")
RULE = with_built_up("rule")


def _inputs(spectrum: dict[str, float], count: float = 5) -> dict[str, np.ndarray]:
    values = {k: np.array([v], dtype=np.float32) for k, v in spectrum.items()}
    values[COUNT_INPUT] = np.array([count], dtype=np.float32)
    return values


def _product(name: str, inputs: tuple[str, ...], **kwargs: object) -> Product:
    options: dict = {
        "title": name,
        "title_id": name,
        "description": name,
        "inputs": inputs,
        "formula": normalized_difference,
        "valid_range": (-1.0, 1.0),
        **kwargs,
    }
    return Product(name=name, **options)


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ndvi", (0.35 - 0.035) / (0.35 + 0.035)),
        ("ndbi", (0.18 - 0.35) / (0.18 + 0.35)),
        ("mndwi", (0.06 - 0.18) / (0.06 + 0.18)),
        ("bsi", ((0.18 + 0.035) - (0.35 + 0.03)) / ((0.18 + 0.035) + (0.35 + 0.03))),
    ],
)
def test_index_matches_hand_value(name: str, expected: float) -> None:
    assert PRODUCTS.compute(_inputs(PIXEL))[name][0] == pytest.approx(expected, rel=1e-6)


def test_indices_are_float32() -> None:
    out = PRODUCTS.compute(_inputs(PIXEL))
    assert all(out[n].dtype == np.float32 for n in (*INDEX_NAMES, "clear_count", "rgb"))


def test_clear_count_is_the_count() -> None:
    assert PRODUCTS.compute(_inputs(PIXEL, count=7))["clear_count"][0] == 7.0


def test_rgb_stacks_red_green_blue() -> None:
    rgb = PRODUCTS.compute(_inputs(PIXEL))["rgb"]
    assert rgb.shape == (3, 1)
    np.testing.assert_allclose(rgb[:, 0], [0.035, 0.06, 0.03], rtol=1e-6)


def test_products_stay_lazy_on_dask() -> None:
    values = {k: da.full((4, 4), v, dtype=np.float32, chunks=2) for k, v in PIXEL.items()}
    values[COUNT_INPUT] = da.full((4, 4), 3, dtype=np.uint8, chunks=2)
    out = PRODUCTS.compute(values)
    assert all(isinstance(v, da.Array) for v in out.values())
    expected = (0.35 - 0.035) / (0.35 + 0.035)
    assert float(out["ndvi"][0, 0].compute(scheduler="sync")) == pytest.approx(expected, rel=1e-6)


def test_zero_denominator_gives_nan_without_warning() -> None:
    zero = np.zeros(1, dtype=np.float32)
    with np.errstate(all="raise"):
        out = normalized_difference(zero, zero)
    assert np.isnan(out[0])


@pytest.mark.parametrize(
    ("spectrum", "built"),
    [
        # roofs/concrete/asphalt mix: flat spectrum
        ({"blue": 0.09, "green": 0.10, "red": 0.11, "nir": 0.15, "swir16": 0.20}, 1.0),
        # dry bare soil: reflectance rising into the SWIR -> BSI ~0.27
        ({"blue": 0.07, "green": 0.10, "red": 0.16, "nir": 0.22, "swir16": 0.34}, 0.0),
        (PIXEL, 0.0),  # vegetation
        ({"blue": 0.06, "green": 0.07, "red": 0.05, "nir": 0.03, "swir16": 0.015}, 0.0),  # water
    ],
)
def test_built_up_rule_separates_classes(spectrum: dict[str, float], built: float) -> None:
    spectrum = {"swir22": 0.1, **spectrum}
    assert RULE.compute(_inputs(spectrum))["built_up"][0] == built


@pytest.mark.parametrize("method", list(BUILT_UP_METHODS))
def test_no_reflectance_is_no_built_up_value(method: str) -> None:
    nan = {b: float("nan") for b in PIXEL}
    out = with_built_up(method).compute(_inputs(nan, count=0))["built_up"][0]
    assert np.isnan(out)
    assert with_built_up(method)["built_up"].encode(np.array([out]))[0] == 255


def test_rule_is_documented() -> None:
    assert "NDBI > 0" in str(BUILT_UP_RULE)
    assert str(BUILT_UP_RULE) in RULE["built_up"].description


# --------------------------------------------------------------------------- built-up methods


def test_default_built_up_is_the_default_unmixing_fraction_in_percent() -> None:
    built = PRODUCTS["built_up"]
    assert built == BUILT_UP_METHODS[DEFAULT_METHOD] == BUILT_UP_METHODS["unmixing"]
    assert (built.dtype, built.scale, built.nodata, built.legend) == (
        "uint8",
        100,
        255,
        "continuous",
    )
    assert built.inputs == ("blue", "green", "red", "nir", "swir16", "swir22")
    assert built.overview_resampling == "average" and built.rescale == ((0, 100),)
    assert dict(built.statistics) == {"built_up_fraction": "mean"}


@pytest.mark.parametrize("method", ["regression", "fcls"])
def test_fraction_product_is_the_unmixing_fraction(method: str) -> None:
    # two real held-out spectra, a roof and a soil, and their 30/70 mixture
    held_out = validation_set()
    roof, soil = held_out.spectrum("fscgye.013-"), held_out.spectrum("FS21_FS754")
    x = np.stack([roof, soil, 0.3 * roof + 0.7 * soil]).astype(np.float32)
    bands = dict(zip(("blue", "green", "red", "nir", "swir16", "swir22"), x.T, strict=True))
    got = with_built_up(method).compute({**bands, COUNT_INPUT: np.ones(3, np.float32)})
    expected = impervious_fraction(*x.T, method=method)
    np.testing.assert_array_equal(got["built_up"], expected)
    assert got["built_up"][0] > got["built_up"][2] > got["built_up"][1]


def test_fraction_is_stored_as_whole_percent() -> None:
    values = np.array([0.0, 0.234, 0.996, 1.0, np.nan], dtype=np.float32)
    stored = PRODUCTS["built_up"].encode(values)
    # 0.234 -> 23.4 % -> 23 (the cast truncates); 99.6 % -> 99; 100 % stays off nodata 255
    assert stored.dtype == np.uint8 and stored.tolist() == [0, 23, 99, 100, 255]


def test_built_up_method_swaps_only_built_up_in_place() -> None:
    fcls = with_built_up("fcls")
    assert tuple(fcls) == tuple(PRODUCTS)
    assert all(fcls[n] == PRODUCTS[n] for n in PRODUCTS if n != "built_up")
    assert RULE["built_up"].inputs == ("ndbi", "ndvi", "mndwi", "bsi")


def test_recipes_differ_per_method() -> None:
    recipes = {m: p.recipe for m, p in BUILT_UP_METHODS.items()}
    assert recipes["unmixing"] == recipes["regression"]
    assert len({recipes["regression"], recipes["fcls"], recipes["rule"]}) == 3
    assert "fcls" in recipes["fcls"] and "NDBI > 0" in recipes["rule"]


def test_unknown_built_up_method_lists_the_methods() -> None:
    with pytest.raises(ValueError, match="unknown built-up method 'svm'; .*regression.*rule"):
        with_built_up("svm")


def test_rule_needs_its_indices_in_the_base_registry() -> None:
    with pytest.raises(ValueError, match="needs ndbi"):
        with_built_up("rule", PRODUCTS.select(("built_up",)))


# --------------------------------------------------------------------------- storage


def test_float_encoding_keeps_values_and_nan() -> None:
    values = np.array([0.5, np.nan, -1.0], dtype=np.float64)
    stored = PRODUCTS["ndvi"].encode(values)
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, np.array([0.5, np.nan, -1.0], dtype=np.float32))


def test_class_encoding_puts_nodata_where_nan() -> None:
    stored = RULE["built_up"].encode(np.array([0.0, 1.0, np.nan], dtype=np.float32))
    assert stored.dtype == np.uint8 and stored.tolist() == [0, 1, 255]


def test_count_encoding_clips_to_uint8() -> None:
    stored = PRODUCTS["clear_count"].encode(np.array([0, 40, 300], dtype=np.float32))
    assert stored.dtype == np.uint8 and stored.tolist() == [0, 40, 255]


def test_scaled_encoding_keeps_data_off_nodata() -> None:
    # reflectance x 10000: 0.1234 -> 1234; 0 is nodata, so a 0.0 reflectance is stored as 1;
    # 7.0 is above uint16 and is clipped to 65535
    values = np.array([0.1234, np.nan, 0.0, 7.0], dtype=np.float32)
    stored = PRODUCTS["rgb"].encode(values)
    assert stored.dtype == np.uint16 and stored.tolist() == [1234, 0, 1, 65535]


# --------------------------------------------------------------------------- the registry


def test_bands_are_what_the_products_need_in_band_order() -> None:
    assert PRODUCTS.bands == ("blue", "green", "red", "nir", "swir16", "swir22")
    assert RULE.bands == ("blue", "green", "red", "nir", "swir16")
    assert PRODUCTS.select(("ndvi",)).bands == ("red", "nir")


def test_columns_follow_registry_order() -> None:
    per_index = [f"{i}_{s}" for i in INDEX_NAMES for s in ("mean", "median", "std", "p10", "p90")]
    assert PRODUCTS.columns == (*per_index, "built_up_fraction", "n_obs")
    assert INDEX_STATISTICS == ("mean", "median", "std", "p10", "p90")


def test_column_titles() -> None:
    titles = PRODUCTS.column_titles()
    assert titles["ndvi_p10"] == "NDVI p10"
    assert set(titles) == set(PRODUCTS.columns)


def test_column_titles_in_indonesian() -> None:
    titles = PRODUCTS.column_titles("id")
    assert set(titles) == set(PRODUCTS.columns)
    assert titles["ndvi_mean"] == "NDVI rata-rata" and titles["bsi_std"] == "BSI simpangan baku"
    assert titles["built_up_fraction"] == "Fraksi lahan terbangun"
    assert RULE.column_titles("id")["built_up_fraction"] == "Fraksi lahan terbangun"


@pytest.mark.parametrize(
    "product", [*PRODUCTS.values(), *BUILT_UP_METHODS.values()], ids=lambda p: p.name
)
def test_every_product_is_described_in_indonesian(product: Product) -> None:
    assert product.title_id and product.description_id
    assert product.description_id != product.description


def test_recipes_name_the_formulas_where_they_are_declared() -> None:
    # the recipe is part of every product fingerprint: moving the Product class to
    # geo.product_model must not change it (a rerun would recompute every unit)
    assert PRODUCTS["ndvi"].recipe == (
        "geo.products.normalized_difference(nir, red) -> float32 x1 nodata nan"
    )
    assert PRODUCTS["rgb"].recipe == "geo.products._rgb(red, green, blue) -> uint16 x10000 nodata 0"
    assert RULE["built_up"].recipe.startswith("geo.products.NDBI > 0.0 and NDVI < 0.2")
    assert PRODUCTS["built_up"].recipe.startswith("geo.unmixing.impervious fraction, regression")


def test_select_keeps_what_a_product_needs() -> None:
    assert tuple(RULE.select(("built_up",))) == ("ndvi", "ndbi", "mndwi", "bsi", "built_up")
    assert tuple(PRODUCTS.select(("built_up",))) == ("built_up",)
    assert tuple(PRODUCTS.select(("rgb", "ndvi"))) == ("ndvi", "rgb")


def test_register_returns_a_new_registry() -> None:
    ndmi = _product("ndmi", ("nir", "swir16"), statistics={"ndmi_mean": "mean"})
    extended = PRODUCTS.register(ndmi)
    assert tuple(extended)[-1] == "ndmi" and "ndmi" not in PRODUCTS
    assert extended.columns[-1] == "ndmi_mean"
    x = _inputs(PIXEL)
    assert extended.compute(x)["ndmi"][0] == pytest.approx((0.35 - 0.18) / (0.35 + 0.18), 1e-6)


def test_register_refuses_an_existing_name_unless_replacing() -> None:
    other = _product("ndvi", ("nir", "red"), label="NDVI2")
    with pytest.raises(ValueError, match="'ndvi' exists"):
        PRODUCTS.register(other)
    swapped = PRODUCTS.register(other, replace=True)
    assert tuple(swapped) == tuple(PRODUCTS) and swapped["ndvi"].label == "NDVI2"


def test_unknown_product_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown product 'ndmi'; known: ndvi"):
        PRODUCTS["ndmi"]


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ((_product("a", ("nir", "nope")),), "needs nope"),
        ((_product("b", ("a", "nir")), _product("a", ("nir", "red"))), "needs a"),
        ((_product("a", ("nir", "red")), _product("a", ("red", "nir"))), "declared twice"),
        ((_product("red", ("nir", "red")),), "shadows an input"),
        ((_product("count", ("nir", "red")),), "shadows an input"),
        ((_product("NDVI", ("nir", "red")),), "lower-case"),
        ((_product("a-b", ("nir", "red")),), "lower-case"),
        (
            (
                _product("a", ("nir", "red"), statistics={"x_mean": "mean"}),
                _product("b", ("nir", "red"), statistics={"x_mean": "mean"}),
            ),
            "column 'x_mean' of 'b' is also a's",
        ),
    ],
    ids=[
        "unknown-input",
        "input-declared-later",
        "duplicate-name",
        "shadows-band",
        "shadows-count",
        "upper-case",
        "not-identifier",
        "duplicate-column",
    ],
)
def test_invalid_registry_is_refused(products: tuple[Product, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProductRegistry(products)


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        PRODUCTS["ndvi"] = PRODUCTS["ndbi"]  # type: ignore[index]


def test_registry_pickles_with_lambdas() -> None:
    """Workers receive the registry through cloudpickle, custom formulas included."""
    reg = PRODUCTS.register(
        _product("twice_red", ("red",), formula=lambda red: red * 2, valid_range=(0, 2))
    )
    back = cloudpickle.loads(cloudpickle.dumps(reg))
    assert tuple(back) == tuple(reg)
    assert back.compute(_inputs(PIXEL))["twice_red"][0] == pytest.approx(0.07, rel=1e-6)
