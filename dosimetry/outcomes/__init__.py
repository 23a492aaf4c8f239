"""Correlating outcomes (toxicity, control) with dosimetric metrics across a cohort.

* :mod:`.table`: reading and validating an outcomes CSV, binary endpoints such as
  ``worst_toxicity_grade>=3``;
* :mod:`.logistic`: univariable logistic regression (odds ratio per unit with Wald CI,
  likelihood-ratio p-value, metric value at 50 % probability with delta-method CI);
* :mod:`.discrimination`: ROC AUC and the Mann-Whitney U test;
* :mod:`.multiplicity`: Holm adjustment of p-values;
* :mod:`.survival`: Kaplan-Meier with Greenwood confidence intervals (statsmodels);
* :mod:`.timetoevent`: Kaplan-Meier by group with numbers at risk and the log-rank test, Cox
  proportional hazards with the proportional-hazards check (lifelines);
* :mod:`.multivariable`: multivariable logistic regression (statsmodels; Firth by firthmodels);
* :mod:`.lkb_fit`: the LKB NTCP model fitted to a cohort's DVHs (profile-likelihood intervals,
  bootstrap, calibration from :mod:`.calibration`); :mod:`.simulate` and :mod:`.coverage` draw
  cohorts from known models and check the intervals' coverage;
* :mod:`.profile`: the profile-likelihood interval routine every fit shares.

Heavy modules (lifelines, firthmodels) are imported only inside the functions that need them.

The orchestration over a batch output lives in :mod:`pipelines.correlate`.
"""

from dosimetry.errors import ModelFitError, OutcomesTableError
from dosimetry.outcomes.discrimination import (
    Discrimination,
    discrimination,
    mann_whitney_u,
    roc_auc,
)
from dosimetry.outcomes.logistic import LogisticFit, check_fittable, fit_logistic
from dosimetry.outcomes.multiplicity import holm_adjust
from dosimetry.outcomes.survival import KaplanMeier, kaplan_meier
from dosimetry.outcomes.table import (
    DEFAULT_ENDPOINT,
    Comparator,
    Endpoint,
    EndpointValues,
    OutcomesTable,
    endpoint_values,
    parse_endpoint,
    read_outcomes_csv,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "Comparator",
    "Discrimination",
    "Endpoint",
    "EndpointValues",
    "KaplanMeier",
    "LogisticFit",
    "ModelFitError",
    "OutcomesTable",
    "OutcomesTableError",
    "check_fittable",
    "discrimination",
    "endpoint_values",
    "fit_logistic",
    "holm_adjust",
    "kaplan_meier",
    "mann_whitney_u",
    "parse_endpoint",
    "read_outcomes_csv",
    "roc_auc",
]
