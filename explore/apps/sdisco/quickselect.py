"""In-place selection of order statistics (Hoare's quickselect), compiled with numba.

:func:`quickselect` serves the per-pixel quantiles of :mod:`explore.apps.sdisco.selection`;
:func:`select_smallest`, a branch-free variant, the k-nearest-neighbour buffers of
:mod:`explore.apps.sdisco.weirdness`. Finding a few order statistics this way costs O(n) where a full
sort costs O(n log n).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["quickselect", "select_smallest"]


@numba.njit(cache=True)
def quickselect(a: np.ndarray, lo: int, hi: int, kth: int) -> None:
    """Rearrange ``a[lo:hi]`` in place so that ``a[kth]`` holds the value of that rank, with no larger
    value before it and no smaller value after it (Hoare 1961, median-of-three pivot)."""
    hi -= 1
    while hi > lo:
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            return


@numba.njit(cache=True, nogil=True)
def select_smallest(a: np.ndarray, n: int, k: int, scratch: np.ndarray) -> float:
    """Move the ``k`` smallest values of ``a[:n]`` to ``a[:k]`` (in any order) and return the largest
    of them, the k-th smallest. ``a[k:n]`` is left undefined.

    The same selection as :func:`quickselect`, but each partition writes every value to a scratch array
    (``scratch``, at least ``n`` long) without a branch on its value: on random data a branching
    partition mispredicts about half of its comparisons, and this runs about twice as fast.
    """
    lo = 0
    hi = n
    while hi - lo > 24:
        m = hi - lo
        x0 = a[lo]
        x1 = a[lo + m // 2]
        x2 = a[hi - 1]
        pivot = max(min(x0, x1), min(max(x0, x1), x2))  # median of three
        # values below the pivot fill scratch from the front, the others from the back
        left = 0
        right = m - 1
        for i in range(lo, hi):
            x = a[i]
            below = x < pivot
            scratch[left] = x
            scratch[right] = x
            left += below
            right -= 1 - below
        if left == 0:
            # the pivot is the smallest value: split off the values equal to it instead
            right = m - 1
            for i in range(lo, hi):
                x = a[i]
                below = x <= pivot
                scratch[left] = x
                scratch[right] = x
                left += below
                right -= 1 - below
            if lo + left >= k:
                for i in range(left):
                    a[lo + i] = scratch[i]
                return pivot  # a[lo:k] all hold the pivot's value
        if lo + left >= k:  # the k-th smallest is below the pivot: the rest can go
            for i in range(left):
                a[lo + i] = scratch[i]
            hi = lo + left
        else:  # all values below the pivot are among the k smallest: keep them, go on above
            for i in range(m):
                a[lo + i] = scratch[i]
            lo += left
    for i in range(lo + 1, hi):  # a short range: insertion sort
        x = a[i]
        j = i - 1
        while j >= lo and a[j] > x:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = x
    return a[k - 1]
