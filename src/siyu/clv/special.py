"""Gauss's hypergeometric function where scipy's `hyp2f1` gives up.

scipy (cephes) returns inf or nan for some real arguments with z close to 1: when c - a - b
is an integer, and for large b with small c - a - b (many purchases, very different α and
β), where it is also off by up to 1e-6 when it does return a number. The models only need
z ∈ [0, 1).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import hyp2f1

Floats = NDArray[np.float64]
_MAX_TERMS = 200_000
_SERIES_SAFE = 0.9  # below this z scipy sums the power series directly: reliable
_NUDGE = 1e-7


def hyp2f1_safe(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> Floats:
    """scipy's 2F1; where it fails (c - a - b an integer), the mean at c(1 ± 1e-7).

    The two sides' first-order errors cancel, leaving ~1e-14 relative.
    """
    a_, b_, c_, z_ = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, c, z)))
    value = np.array(hyp2f1(a_, b_, c_, z_), np.float64)
    bad = ~np.isfinite(value)
    if bad.any():
        args, step = (a_[bad], b_[bad]), c_[bad] * _NUDGE
        above = hyp2f1(*args, c_[bad] + step, z_[bad])
        below = hyp2f1(*args, c_[bad] - step, z_[bad])
        value[bad] = (above + below) / 2
    return value


def hyp2f1_one(b: ArrayLike, c: ArrayLike, z: ArrayLike) -> Floats:
    """2F1(1, b; c; z) for c > b > 0, 0 ≤ z < 1: scipy for z ≤ 0.9, else Gauss's fraction.

    With 2F1(1, b; c; z) = 2F1(b, 1; c; z) / 2F1(b, 0; c - 1; z) (the denominator is 1),
    Gauss's fraction gives 1 / (1 - k1 z / (1 - k2 z / (1 - ...))) with
    k(2i+1) = (b + i)(c - 1 + i) / ((c - 1 + 2i)(c + 2i)),
    k(2i+2) = (i + 1)(c - b + i) / ((c + 2i)(c + 2i + 1)),
    all positive here, so it converges for every z < 1 (about 1 / sqrt(1 - z) steps).
    """
    b_, c_, z_ = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (b, c, z)))
    value = np.array(hyp2f1(1.0, b_, c_, z_), np.float64)
    bad = ~np.isfinite(value) | (z_ > _SERIES_SAFE)
    if bad.any():
        value[bad] = _gauss_fraction(b_[bad], c_[bad], z_[bad])
    return value


def _gauss_fraction(b: Floats, c: Floats, z: Floats) -> Floats:
    """Modified Lentz evaluation of the fraction above, for all entries at once."""
    tiny = 1e-300
    f = np.ones_like(z)  # the denominator 1 - k1 z / (1 - ...), inverted at the end
    big_c = np.ones_like(z)
    d = np.zeros_like(z)
    done = np.zeros(z.shape, bool)
    for step in range(1, _MAX_TERMS):
        i, odd = divmod(step - 1, 2)
        if odd == 0:
            k = (b + i) * (c - 1 + i) / ((c - 1 + 2 * i) * (c + 2 * i))
        else:
            k = (i + 1) * (c - b + i) / ((c + 2 * i) * (c + 2 * i + 1))
        term = -k * z
        d = 1 + term * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        big_c = 1 + term / big_c
        big_c = np.where(np.abs(big_c) < tiny, tiny, big_c)
        d = 1 / d
        delta = big_c * d
        f = np.where(done, f, f * delta)
        done |= np.abs(delta - 1) < 1e-16
        if done.all():
            break
    return np.asarray(1 / f, np.float64)
