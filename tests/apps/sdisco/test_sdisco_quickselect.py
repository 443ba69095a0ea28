"""Selection of order statistics against a full sort."""

from __future__ import annotations

import numpy as np
import pytest

from explore.apps.sdisco.quickselect import quickselect, select_smallest


def _cases():
    rng = np.random.default_rng(11)
    for n, k in [(1, 1), (2, 1), (2, 2), (25, 1), (25, 25), (500, 250), (1274, 250), (3000, 7)]:
        yield rng.random(n, dtype=np.float32), k  # distinct values
        yield rng.integers(0, 4, n).astype(np.float32), k  # many ties
        yield np.full(n, 2.5, np.float32), k  # all equal
        yield np.arange(n, 0, -1).astype(np.float32), k  # sorted the wrong way


@pytest.mark.parametrize(("values", "k"), list(_cases()))
def test_select_smallest_keeps_the_k_smallest(values, k):
    a = values.copy()
    scratch = np.empty(a.size, np.float32)
    kth = select_smallest(a, a.size, k, scratch)
    expected = np.sort(values)
    assert kth == expected[k - 1]
    np.testing.assert_array_equal(np.sort(a[:k]), expected[:k])


def test_select_smallest_on_the_front_of_a_longer_buffer():
    # the distance buffers select among their first n values only
    a = np.array([5, 1, 4, 2, 3, 0, -1, -2], np.float32)
    kth = select_smallest(a, 5, 2, np.empty(8, np.float32))
    assert kth == 2 and sorted(a[:2]) == [1, 2]


@pytest.mark.parametrize(("values", "k"), list(_cases()))
def test_quickselect_puts_the_kth_value_in_place(values, k):
    a = values.copy()
    quickselect(a, 0, a.size, k - 1)
    expected = np.sort(values)
    assert a[k - 1] == expected[k - 1]
    assert (a[: k - 1] <= a[k - 1]).all() and (a[k:] >= a[k - 1]).all()
