"""Side-of-border confidence: is a site really in the country its coordinates put it in?

A site 300 m from the border surveyed with 50 m accuracy is on its side; one 200 m away
with 2 km accuracy may well be across. This module turns (distance to the border, location
accuracy, boundary uncertainty) into a probability and a label.

Error model
-----------
Only the error perpendicular to the border matters. It has two independent parts, each
taken as normal with zero mean:

* the **site's position error**, with standard deviation ``accuracy_m``. Field devices
  report "accuracy" as a radius holding about 68 % of fixes (Android, ODK, KoBo), which is
  about 1.5 sigma per axis; reading it as sigma itself overstates the error, so the probabilities
  here err on the side of "ambiguous";
* the **boundary line's position error**, standard deviation ``boundary_uncertainty_m``
  (default 100 m, typical of OpenStreetMap-derived boundaries; Natural Earth 1:10m lines
  are off by a mean 0.6-2.7 km and deserve a larger value).

So the true signed distance is normal with mean ``distance_m`` and
sigma = sqrt(accuracy² + boundary²), and the probability that the site lies on the side it
appears on is Phi(|distance| / sigma).

Labels: ``confident`` when that probability is at least 0.99 (about 2.3 sigma), ``likely`` from
0.90 (1.3 sigma), ``ambiguous`` below, ``unknown`` when the accuracy or the distance is missing
(NaN) or the accuracy is negative.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
SideLabel = Literal["confident", "likely", "ambiguous", "unknown"]

DEFAULT_BOUNDARY_UNCERTAINTY_M: Final = 100.0
CONFIDENT_PROBABILITY: Final = 0.99
LIKELY_PROBABILITY: Final = 0.90
LABELS: Final[tuple[SideLabel, ...]] = ("confident", "likely", "ambiguous", "unknown")


def side_probability(
    distance_m: npt.ArrayLike,
    accuracy_m: npt.ArrayLike,
    boundary_uncertainty_m: npt.ArrayLike = DEFAULT_BOUNDARY_UNCERTAINTY_M,
) -> FloatArray:
    """Probability that each site is on the side of the border where it appears.

    Parameters
    ----------
    distance_m
        Distance to the border (m); the sign is ignored, so signed distances work too.
    accuracy_m
        Location accuracy (m, read as one standard deviation); NaN when unknown.
    boundary_uncertainty_m
        Standard deviation of the border line's position (m), scalar or per site.

    Returns
    -------
    ndarray of float
        Between 0.5 (on the line) and 1; NaN when the distance or accuracy is missing or
        the accuracy is negative. With no error at all (sigma = 0) a site off the line gets 1.

    Examples
    --------
    >>> side_probability([300.0, 200.0], [50.0, 2000.0]).round(3).tolist()
    [0.996, 0.54]
    """
    distance = np.abs(np.asarray(distance_m, dtype=np.float64))
    accuracy = np.asarray(accuracy_m, dtype=np.float64)
    boundary = np.asarray(boundary_uncertainty_m, dtype=np.float64)
    if (boundary < 0).any():
        raise ValueError("boundary_uncertainty_m must not be negative")
    sigma = np.sqrt(accuracy**2 + boundary**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # d/0 is +inf off the line (probability 1) and NaN on it, fixed to 0.5 below.
        z = distance / sigma
    z = np.where((sigma == 0) & (distance == 0), 0.0, z)
    probability = np.asarray(ndtr(z), dtype=np.float64)
    missing = np.isnan(distance) | np.isnan(accuracy) | (accuracy < 0)
    return np.where(missing, np.nan, probability)


def side_label(probability: npt.ArrayLike) -> ObjectArray:
    """``confident`` / ``likely`` / ``ambiguous`` / ``unknown`` (NaN) for each probability."""
    p = np.asarray(probability, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        code = np.select(
            [np.isnan(p), p >= CONFIDENT_PROBABILITY, p >= LIKELY_PROBABILITY],
            [3, 0, 1],
            default=2,
        )
    labels: ObjectArray = np.asarray(LABELS, dtype=object)[code]
    return labels


def side_of_border(
    distance_m: npt.ArrayLike,
    accuracy_m: npt.ArrayLike,
    boundary_uncertainty_m: npt.ArrayLike = DEFAULT_BOUNDARY_UNCERTAINTY_M,
) -> tuple[FloatArray, ObjectArray]:
    """Probability and label that each site is on the side where it appears (vectorised).

    See the module docstring for the error model and thresholds.

    Examples
    --------
    >>> p, label = side_of_border([300.0, 200.0, 500.0], [50.0, 2000.0, float("nan")], 100.0)
    >>> label.tolist()
    ['confident', 'ambiguous', 'unknown']
    """
    probability = side_probability(distance_m, accuracy_m, boundary_uncertainty_m)
    return probability, side_label(probability)
