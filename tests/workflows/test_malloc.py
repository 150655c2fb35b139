"""workflows.malloc: freed memory is reused while units run, and returned when they end.

Each check runs in a fresh interpreter started the way Dask's nanny starts a worker
(``MALLOC_TRIM_THRESHOLD_=65536``), so the allocator's state is known.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt/malloc_trim are glibc's; elsewhere reuse_freed_memory changes nothing",
)

PRELUDE = """
import json, resource, threading
import numpy as np
from workflows.malloc import reuse_freed_memory

def faults(n=8, mb=48):
    # minor page faults of allocating, touching and freeing an array n times
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones(mb * 2**20 // 8)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
"""


def _run(body: str) -> dict:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # as Dask's nanny does
    code = PRELUDE + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_freed_arrays_are_reused_inside_and_not_outside() -> None:
    r = _run(
        """
        faults()  # warm up
        outside = faults()
        with reuse_freed_memory():
            faults(1)  # the first allocation faults its pages in once
            inside = faults()
        after = faults()
        print(json.dumps({"outside": outside, "inside": inside, "after": after}))
        """
    )
    # outside, every 48 MB array is a fresh mapping whose pages fault in again
    assert r["outside"] > 8 * 20
    assert r["inside"] * 10 < r["outside"], r
    # the process's own settings are back once the last unit leaves
    assert r["after"] * 2 > r["outside"], r


def test_memory_is_kept_while_inside_and_returned_when_the_last_user_leaves() -> None:
    r = _run(
        """
        base = rss_mb()
        outer_entered, inner_left, release = threading.Event(), threading.Event(), threading.Event()
        held = {}

        def other_unit():
            outer_entered.wait()
            with reuse_freed_memory():
                pass
            inner_left.set()

        t = threading.Thread(target=other_unit)
        t.start()
        with reuse_freed_memory():
            outer_entered.set()
            arrays = [np.ones(2**20 * 16) for _ in range(4)]  # 4 x 128 MB
            del arrays
            inner_left.wait()
            t.join()
            held["kept"] = rss_mb() - base  # the other unit left; this one still runs
            held["inside"] = faults()
        held["returned"] = rss_mb() - base
        print(json.dumps(held))
        """
    )
    assert r["kept"] > 400, r  # freed, but kept for the next allocation
    assert r["inside"] < 8 * 20, r  # still reusing after the other unit left
    assert r["returned"] < 100, r  # trimmed when the last one left
