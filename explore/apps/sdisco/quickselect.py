"""In-place selection of order statistics (Hoare's quickselect), compiled with numba.

Used by the k-nearest-neighbour buffers of :mod:`explore.apps.sdisco.weirdness` and the per-pixel
quantiles of :mod:`explore.apps.sdisco.selection`: finding a few order statistics this way costs
O(n) where a full sort costs O(n log n).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["quickselect"]


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
