"""Protocol constants and closed sets of the trial design, importable without numpy/scipy.

They are defined here (and re-exported by :mod:`dosimetry.trial.crm_model`,
:mod:`dosimetry.trial.logistic` and :mod:`dosimetry.trial.next_dose`, where they are used) so that
the ``dosimetry trial`` parser can show them as defaults and choices without loading the models.
"""

from __future__ import annotations

import enum

#: Table 1 of the protocol: initial pDLT guesses of dose levels 1-6 (level 1 is "<5 %", taken as 5 %).
PROTOCOL_SKELETON: tuple[float, ...] = (0.05, 0.10, 0.20, 0.30, 0.40, 0.50)
#: Protocol target pDLT (MTD defined as DLT rate below 25 %).
PROTOCOL_TARGET: float = 0.25
#: Prior variance of beta (dfcrm's default ``scale = sqrt(1.34)``).
DEFAULT_PRIOR_VARIANCE: float = 1.34
#: Total dose (GyE) of dose levels 1-6 (Table 1: 2.5 GyE x 21..26 fractions).
PROTOCOL_TOTAL_DOSE_GYE: tuple[float, ...] = (52.5, 55.0, 57.5, 60.0, 62.5, 65.0)


class IntegrationMethod(enum.Enum):
    """Numerical integration method of the posterior."""

    QUAD = "quad"
    GAUSS_HERMITE = "gauss-hermite"


class SelectionRule(enum.Enum):
    """How the model's recommended level is chosen from the estimated pDLT per level."""

    CLOSEST_NOT_ABOVE_TARGET = "closest-not-above-target"
    CLOSEST_TO_TARGET = "closest-to-target"
