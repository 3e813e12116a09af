"""Output warping: make observed values look Gaussian before the GP sees them.

Validation losses are heavy-tailed: a diverged run returns 1e3 or 1e12 next to losses
of 0.3. Standardizing such values squashes every good run onto one number. We apply,
as HEBO does, a robust centring and scaling (median and inter-quartile range), then a
Yeo-Johnson power transform with its maximum-likelihood exponent, then standardize.
The map is monotone (so the ranking of configurations is kept) and invertible, which
lets plots show the posterior in the objective's own units.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["OutputWarp", "fit_output_warp"]

logger = logging.getLogger(__name__)

# Exponents beyond 2 make the warp strongly convex on the good side: a cluster of
# near-equal best values then looks like a plateau at the top and expected improvement
# keeps polishing it (seen on Branin: stuck at a boundary minimum, 1.94 vs 0.398).
_LAMBDA_BOUNDS = (-2.0, 2.0)
_EXTRAPOLATE = 4.0
# Values more than this many robust scales worse than the median (a diverged run's 1e12)
# are log-compressed before the power transform, which alone cannot tame them within
# the exponent bounds.
_TAIL = 3.0


def _yj(x: np.ndarray, lmb: float) -> np.ndarray:
    out = np.empty_like(x)
    pos = x >= 0
    if abs(lmb) < 1e-8:
        out[pos] = np.log1p(x[pos])
    else:
        out[pos] = (np.power(x[pos] + 1.0, lmb) - 1.0) / lmb
    if abs(lmb - 2.0) < 1e-8:
        out[~pos] = -np.log1p(-x[~pos])
    else:
        out[~pos] = -(np.power(1.0 - x[~pos], 2.0 - lmb) - 1.0) / (2.0 - lmb)
    return out


def _yj_inv(y: np.ndarray, lmb: float) -> np.ndarray:
    out = np.empty_like(y)
    pos = y >= 0
    if abs(lmb) < 1e-8:
        out[pos] = np.expm1(y[pos])
    else:
        base = np.maximum(lmb * y[pos] + 1.0, 1e-300)
        out[pos] = np.power(base, 1.0 / lmb) - 1.0
    if abs(lmb - 2.0) < 1e-8:
        out[~pos] = -np.expm1(-y[~pos])
    else:
        base = np.maximum(1.0 - (2.0 - lmb) * y[~pos], 1e-300)
        out[~pos] = 1.0 - np.power(base, 1.0 / (2.0 - lmb))
    return out


def _yj_loglik(u: np.ndarray, lmb: float) -> float:
    t = _yj(u, lmb)
    var = np.var(t)
    if not np.isfinite(var) or var <= 0:
        return -np.inf
    # log-likelihood of a normal fit to t plus the log-Jacobian of the transform
    return -0.5 * u.size * np.log(var) + (lmb - 1.0) * np.sum(np.sign(u) * np.log1p(np.abs(u)))


def _yj_mle(u: np.ndarray) -> float:
    """Maximum-likelihood Yeo-Johnson exponent within ``_LAMBDA_BOUNDS``."""
    with np.errstate(all="ignore"):
        res = optimize.minimize_scalar(lambda lm: -_yj_loglik(u, lm), bounds=_LAMBDA_BOUNDS,
                                       method="bounded", options={"xatol": 1e-3})
    return float(res.x)


def _compress(u: np.ndarray) -> np.ndarray:
    """Log-compress the bad tail below ``-_TAIL`` robust units (identity above)."""
    out = np.array(u, dtype=float)
    low = out < -_TAIL
    out[low] = -_TAIL - np.log1p(-(out[low] + _TAIL))
    return out


def _compress_inv(t: np.ndarray) -> np.ndarray:
    out = np.array(t, dtype=float)
    low = out < -_TAIL
    out[low] = -_TAIL - np.expm1(-(out[low] + _TAIL))
    return out


@dataclass(frozen=True)
class OutputWarp:
    """A fitted monotone map ``y -> z``: robust scale, Yeo-Johnson, standardize.

    Attributes:
        center: Median of the raw values.
        scale: Robust scale (IQR / 1.349, or the std when the IQR is zero).
        lmbda: Yeo-Johnson exponent (None: no power transform).
        mean: Mean after the power transform.
        std: Std after the power transform.
        z_range: Observed range in model units; :meth:`inverse` clips its input to this
            range widened by ``_EXTRAPOLATE`` model standard deviations (a power warp
            fitted on the data says nothing far beyond it, and its inverse explodes).
    """

    center: float
    scale: float
    lmbda: float | None
    mean: float
    std: float
    z_range: tuple[float, float] = (-np.inf, np.inf)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Raw values (``n``) to model values (``n``)."""
        u = (np.asarray(y, dtype=float) - self.center) / self.scale
        if self.lmbda is not None:
            u = _yj(_compress(u), self.lmbda)
        return (u - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Model values (any shape) back to raw values."""
        lo, hi = self.z_range
        z = np.clip(np.asarray(z, dtype=float), lo - _EXTRAPOLATE, hi + _EXTRAPOLATE)
        u = z * self.std + self.mean
        if self.lmbda is not None:
            shape = u.shape
            u = _compress_inv(_yj_inv(u.reshape(-1), self.lmbda)).reshape(shape)
        return u * self.scale + self.center


def fit_output_warp(y: np.ndarray, power: bool = True) -> OutputWarp:
    """Fit the warp on raw values ``y`` (``n``, finite, maximize orientation).

    Never raises: degenerate inputs (one value, all equal) give an identity-like warp,
    and a failing power fit falls back to plain standardization.
    """
    y = np.asarray(y, dtype=float)
    center = float(np.median(y)) if y.size else 0.0
    q75, q25 = (np.percentile(y, [75, 25]) if y.size else (1.0, 0.0))
    scale = float(q75 - q25) / 1.349
    if not np.isfinite(scale) or scale <= 1e-12:
        scale = float(np.std(y)) if y.size > 1 else 0.0
    if not np.isfinite(scale) or scale <= 1e-12:
        scale = 1.0
    u = (y - center) / scale
    lmbda: float | None = None
    if power and y.size >= 3 and np.ptp(u) > 0:
        uc = _compress(u)
        try:
            lm = _yj_mle(uc)
            if np.isfinite(lm):
                lmbda = float(np.clip(lm, *_LAMBDA_BOUNDS))
                t = _yj(uc, lmbda)
                if not np.all(np.isfinite(t)) or np.ptp(t) <= 0:
                    lmbda = None
                else:
                    u = t
        except (ValueError, FloatingPointError, RuntimeError) as e:  # pragma: no cover
            logger.debug("Yeo-Johnson fit failed (%s); plain standardization", e)
            lmbda = None
    mean = float(np.mean(u)) if u.size else 0.0
    std = float(np.std(u)) if u.size > 1 else 1.0
    if not np.isfinite(std) or std <= 1e-12:
        std = 1.0
    z = (u - mean) / std
    z_range = (float(z.min()), float(z.max())) if z.size else (-np.inf, np.inf)
    return OutputWarp(center=center, scale=scale, lmbda=lmbda, mean=mean, std=std,
                      z_range=z_range)
