"""Built-up methods against real spectra they were not calibrated on, in the same run.

    python bench/bench_truth.py [--mixtures 20000] [--seed 7] [--speed-px 1000000]

For the rule (``geo.products.BUILT_UP_RULE`` over NDBI/NDVI/MNDWI/BSI computed from the
spectra) and each unmixing method of ``geo.unmixing.METHODS``, on the held-out real spectra
of ``geo.spectra.validation_set()`` (other place or instrument than the calibration set; see
docs/built-up.md) it prints:

* the confusion of built-up / soil / vegetation / water (npv counted as vegetation; a
  method's call is its largest class fraction, the rule's call is built-up where the rule
  holds, else water where MNDWI > 0, else vegetation where NDVI >= 0.2, else soil);
* per-class recall and the 4-class balanced accuracy, and the built-up vs not balanced
  accuracy (impervious fraction >= 0.5);
* the mean absolute error and the bias of the impervious fraction on seeded random linear
  mixtures of 1-3 held-out spectra (the rule's fraction is its 0/1 call);
* the same figures on the calibration spectra, for comparison (pattern 16), and pixels per
  second of each method on one core of this machine.

This is a benchmark, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from geo.products import BUILT_UP_RULE, normalized_difference  # noqa: E402
from geo.spectra import CLASSES, SpectralSet, calibration_set, validation_set  # noqa: E402
from geo.unmixing import (  # noqa: E402
    DEFAULT_METHOD,
    METHODS,
    class_fractions,
    impervious_fraction,
    synthetic_mixtures,
)

CALLS = ("built-up", "soil", "vegetation", "water")
# class of geo.spectra -> call of the confusion (npv is dry vegetation)
_TO_CALL = {"impervious": 0, "soil": 1, "vegetation": 2, "npv": 2, "water": 3}


def rule_calls(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calls, 0/1 built-up) of the rule over (n, 6) reflectance."""
    blue, green, red, nir, swir16, _ = x.T
    ndvi = normalized_difference(nir, red)
    ndbi = normalized_difference(swir16, nir)
    mndwi = normalized_difference(green, swir16)
    bsi = normalized_difference(swir16 + red, nir + blue)
    built = BUILT_UP_RULE(ndbi, ndvi, mndwi, bsi)
    calls = np.where(built == 1, 0, np.where(mndwi > 0, 3, np.where(ndvi >= 0.2, 2, 1)))
    return calls, built


def method_calls(x: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(calls, impervious fraction) of an unmixing method over (n, 6) reflectance."""
    f = class_fractions(*x.T, method=method).T  # (n, 5)
    merged = np.stack([f[:, 0], f[:, 1], f[:, 2] + f[:, 3], f[:, 4]], axis=1)
    return merged.argmax(axis=1), f[:, 0]


def evaluate(name: str, spectra: SpectralSet, mixtures: tuple[np.ndarray, np.ndarray]) -> dict:
    """Confusion, recalls, balanced accuracies and mixture errors of one method."""
    calls_of = (lambda x: rule_calls(x)) if name == "rule" else (lambda x: method_calls(x, name))
    truth = np.array([_TO_CALL[c] for c in spectra.classes])
    calls, frac = calls_of(spectra.reflectance)
    confusion = np.zeros((4, 4), dtype=int)
    np.add.at(confusion, (truth, calls), 1)
    present = confusion.sum(axis=1) > 0
    recall = np.diag(confusion)[present] / confusion.sum(axis=1)[present]
    built_true, built_called = truth == 0, frac >= 0.5
    binary = 0.5 * (built_called[built_true].mean() + (~built_called[~built_true]).mean())
    x_mix, f_mix = mixtures
    _, f_pred = calls_of(x_mix)
    err = f_pred - f_mix[:, CLASSES.index("impervious")]
    return {
        "confusion": confusion,
        "recall": dict(zip(np.array(CALLS)[present], recall, strict=True)),
        "balanced4": float(recall.mean()),
        "binary": float(binary),
        "mae": float(np.abs(err).mean()),
        "bias": float(err.mean()),
    }


def speed(name: str, n: int, seed: int) -> float:
    """Pixels per second of one method over ``n`` random positive reflectance pixels.

    Times what the pipeline runs: ``impervious_fraction`` on numpy bands (its own threads,
    BLAS held to one thread each) and the rule over the four indices.
    """
    n = min(n, 100_000) if name == "fcls" else n  # 63 active sets: slow, timed on less
    rng = np.random.default_rng(seed)
    bands = [rng.uniform(0.01, 0.5, n).astype(np.float32) for _ in range(6)]
    if name == "rule":
        x = np.stack(bands, axis=1)
        start = time.perf_counter()
        rule_calls(x)
    else:
        impervious_fraction(*(b[:1000] for b in bands), method=name)  # fit outside timing
        start = time.perf_counter()
        impervious_fraction(*bands, method=name)
    return n / (time.perf_counter() - start)


def report(
    title: str, spectra: SpectralSet, methods: list[str], n_mix: int, seed: int
) -> dict[str, dict]:
    counts = {c: spectra.classes.count(c) for c in CLASSES}
    print(f"\n## {title}: {len(spectra)} spectra {counts}")
    mixtures = synthetic_mixtures(spectra, n_mix, seed=seed, shade=False)
    rows = []
    for name in methods:
        r = evaluate(name, spectra, mixtures)
        rows.append((name, r))
        print(f"\n{name}: confusion (rows truth, columns call: {', '.join(CALLS)})")
        for call, line in zip(CALLS, r["confusion"], strict=True):
            print(f"  {call:>10} " + " ".join(f"{v:6d}" for v in line))
        print("  recall " + ", ".join(f"{k} {v:.3f}" for k, v in r["recall"].items()))
    print(
        f"\n{'method':<11} {'bal.acc 4':>9} {'bal.acc built-up':>16} {'MAE mix':>8} {'bias mix':>8}"
    )
    base = dict(rows)["rule"]
    for name, r in rows:
        print(
            f"{name:<11} {r['balanced4']:9.3f} {r['binary']:16.3f} {r['mae']:8.3f} "
            f"{r['bias']:+8.3f}   MAE/rule {r['mae'] / base['mae']:.2f}"
        )
    return dict(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mixtures", type=int, default=20_000, help="mixtures per set")
    parser.add_argument("--seed", type=int, default=7, help="seed of the mixtures")
    parser.add_argument("--speed-px", type=int, default=1_000_000, help="pixels timed")
    args = parser.parse_args(argv)
    methods = ["rule", *METHODS]
    held_out = report(
        "held-out real spectra (validation)", validation_set(), methods, args.mixtures, args.seed
    )
    report(
        "calibration spectra (for comparison only)",
        calibration_set(),
        methods,
        args.mixtures,
        args.seed,
    )
    best = max(METHODS, key=lambda m: held_out[m]["binary"])
    default, rule = held_out[DEFAULT_METHOD], held_out["rule"]
    print(
        f"\ndefault method {DEFAULT_METHOD!r} on held-out real spectra: built-up balanced "
        f"accuracy {default['binary']:.3f} vs rule {rule['binary']:.3f}, fraction MAE "
        f"{default['mae']:.3f} vs {rule['mae']:.3f}; best unmixing method here: {best!r}"
        + ("" if best == DEFAULT_METHOD else "  <- DEFAULT_METHOD is not the best: change it")
    )
    print(f"\nspeed, {args.speed_px} px (fcls 100000), one process, machine load included:")
    rule_speed = None
    for name in methods:
        px_s = speed(name, args.speed_px, args.seed)
        rule_speed = rule_speed or px_s
        print(f"  {name:<11} {px_s / 1e6:7.2f} Mpx/s   ratio to rule {px_s / rule_speed:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
