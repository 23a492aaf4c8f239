"""Multivariable logistic regression of a binary endpoint on dose metrics and clinical covariates.

* Maximum likelihood: statsmodels ``Logit`` (Newton), Wald 95 % intervals of each log odds ratio,
  exponentiated (so an odds-ratio interval never leaves (0, inf)), Wald p-values.
* Firth's penalised likelihood (Firth 1993; Heinze and Schemper 2002) when the data are separated
  (detected before fitting by the linear-programming test of Konis 2007) or when asked: the
  maintained ``firthmodels`` package (``FirthLogisticRegression``), with profile penalised-likelihood
  95 % intervals and penalised likelihood-ratio p-values. statsmodels has no Firth estimator.

Every result carries the events-per-parameter count; fewer than :data:`EVENTS_PER_PARAMETER_WARNING`
events (or non-events, whichever is fewer) per estimated coefficient adds a small-sample warning.
"""

from __future__ import annotations

import enum
import logging
import math
import warnings as _warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dosimetry.errors import ArgumentError, ModelFitError

logger = logging.getLogger(__name__)

EVENTS_PER_PARAMETER_WARNING = 10
Z_95 = 1.959963984540054


class LogisticMethod(enum.Enum):
    MAXIMUM_LIKELIHOOD = "maximum likelihood (statsmodels Logit)"
    FIRTH = "Firth penalised likelihood (firthmodels)"


@dataclass(frozen=True)
class OddsRatio:
    """One covariate: log odds ratio per unit, odds ratio and its 95 % interval, p-value."""

    name: str
    log_odds_ratio: float
    standard_error: float
    odds_ratio: float
    ci95: tuple[float, float]
    p_value: float

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "log_odds_ratio": self.log_odds_ratio,
            "standard_error": self.standard_error,
            "odds_ratio": self.odds_ratio,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class MultivariableLogistic:
    method: LogisticMethod
    n: int
    events: int
    intercept: float
    terms: tuple[OddsRatio, ...]
    separation: bool
    interval_method: str
    warnings: tuple[str, ...] = ()

    @property
    def events_per_parameter(self) -> float:
        return min(self.events, self.n - self.events) / len(self.terms)

    def as_dict(self) -> dict[str, object]:
        return {
            "method": self.method.value,
            "n": self.n,
            "events": self.events,
            "events_per_parameter": self.events_per_parameter,
            "intercept": self.intercept,
            "separation_detected": self.separation,
            "interval_method": self.interval_method,
            "terms": [t.as_dict() for t in self.terms],
            "warnings": list(self.warnings),
        }


def _design(covariates: Mapping[str, ArrayLike], y: ArrayLike) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not covariates:
        raise ArgumentError("multivariable logistic regression: no covariates given")
    names = list(covariates)
    columns = [np.asarray(covariates[name], dtype=float) for name in names]
    ya = np.asarray(y, dtype=float)
    for name, column in zip(names, columns):
        if column.shape != ya.shape or column.ndim != 1:
            raise ArgumentError(f"covariate {name}: {column.shape} values for {ya.shape} outcomes")
        if not np.all(np.isfinite(column)):
            raise ModelFitError(f"covariate {name}: non-finite values (missing values must be left out before fitting)")
        if np.ptp(column) == 0.0:
            raise ModelFitError(f"covariate {name}: constant ({column[0]:g}) across the {ya.size} patients")
    if not np.all((ya == 0.0) | (ya == 1.0)):
        raise ArgumentError("multivariable logistic regression: the endpoint must be 0/1")
    return names, np.column_stack(columns), ya


def fit_multivariable_logistic(
    covariates: Mapping[str, ArrayLike], y: ArrayLike, *, firth: bool | None = None
) -> MultivariableLogistic:
    """Fit ``logit P = b0 + sum_k b_k x_k``. ``firth=None`` uses Firth exactly when the data are
    separated; ``True``/``False`` force the method (``False`` on separated data raises)."""
    from firthmodels import detect_separation

    names, x, ya = _design(covariates, y)
    n, events = ya.size, int(ya.sum())
    if events == 0 or events == n:
        raise ModelFitError(f"multivariable logistic regression: {'no' if events == 0 else 'only'} events among the {n} patients")
    if n <= len(names) + 1:
        raise ModelFitError(f"multivariable logistic regression: {n} patients for {len(names) + 1} coefficients")
    separated = bool(detect_separation(x, ya.astype(int)).separation)
    use_firth = separated if firth is None else firth
    if separated and not use_firth:
        raise ModelFitError(
            "multivariable logistic regression: the data are (quasi-)completely separated (linear-programming check), the "
            "maximum-likelihood estimate does not exist; use Firth's penalised likelihood"
        )
    warnings: list[str] = []
    if separated:
        warnings.append("the data are separated: Firth's penalised likelihood was used (the maximum-likelihood estimate is infinite)")
    minority = min(events, n - events)
    if minority < EVENTS_PER_PARAMETER_WARNING * len(names):
        warnings.append(
            f"small sample: {minority} {'events' if events <= n - events else 'non-events'} for {len(names)} covariate(s) "
            f"({minority / len(names):.1f} per parameter, fewer than {EVENTS_PER_PARAMETER_WARNING}); estimates may be biased "
            "and intervals approximate"
        )
    if use_firth:
        return _firth(names, x, ya, separated, warnings)
    return _maximum_likelihood(names, x, ya, warnings)


def _maximum_likelihood(names: list[str], x: np.ndarray, y: np.ndarray, warnings: list[str]) -> MultivariableLogistic:
    import statsmodels.api as sm

    design = sm.add_constant(x, has_constant="add")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            result = sm.Logit(y, design).fit(method="newton", maxiter=100, disp=0)
        except np.linalg.LinAlgError as exc:
            raise ModelFitError(f"multivariable logistic regression: singular information matrix ({exc}); collinear covariates?") from exc
    if not result.mle_retvals.get("converged", False):
        raise ModelFitError("multivariable logistic regression: Newton-Raphson did not converge in 100 iterations")
    params = np.asarray(result.params, dtype=float)
    se = np.asarray(result.bse, dtype=float)
    p = np.asarray(result.pvalues, dtype=float)
    terms = tuple(
        OddsRatio(name, float(params[k + 1]), float(se[k + 1]), math.exp(params[k + 1]),
                  (math.exp(params[k + 1] - Z_95 * se[k + 1]), math.exp(params[k + 1] + Z_95 * se[k + 1])), float(p[k + 1]))
        for k, name in enumerate(names)
    )
    return MultivariableLogistic(
        LogisticMethod.MAXIMUM_LIKELIHOOD, y.size, int(y.sum()), float(params[0]), terms, False,
        "Wald on the log odds ratio, exponentiated", tuple(warnings),
    )


def _firth(names: list[str], x: np.ndarray, y: np.ndarray, separated: bool, warnings: list[str]) -> MultivariableLogistic:
    from firthmodels import FirthLogisticRegression

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        model = FirthLogisticRegression(backend="numpy", max_iter=100, gtol=1e-8, xtol=1e-8).fit(x, y.astype(int))
        if not model.converged_:
            notes = "; ".join(dict.fromkeys(str(w.message) for w in caught))
            raise ModelFitError(
                f"Firth logistic regression did not converge in 100 iterations ({notes or 'no message'}); "
                f"{int(y.sum())} events for {len(names)} predictors - use fewer predictors"
            )
        model.lrt()
        ci = np.asarray(model.conf_int(alpha=0.05, method="pl"), dtype=float)
    warnings.extend(f"firthmodels: {m}" for m in dict.fromkeys(str(w.message) for w in caught))
    coef = np.asarray(model.coef_, dtype=float)
    se = np.asarray(model.bse_, dtype=float)
    p = np.asarray(model.lrt_pvalues_, dtype=float)
    terms = tuple(
        OddsRatio(name, float(coef[k]), float(se[k]), math.exp(coef[k]), (math.exp(ci[k, 0]), math.exp(ci[k, 1])), float(p[k]))
        for k, name in enumerate(names)
    )
    return MultivariableLogistic(
        LogisticMethod.FIRTH, y.size, int(y.sum()), float(model.intercept_), terms, separated,
        "profile penalised likelihood, exponentiated; p-values from the penalised likelihood-ratio test", tuple(warnings),
    )


#: Two-level text encodings a covariate column may use (compared case-insensitively); the level coded 1 is
#: the alphabetically later one of the pair (yes, true, y, male, m). 0/1 columns are numeric already.
BINARY_ENCODINGS: tuple[frozenset[str], ...] = (
    frozenset({"no", "yes"}), frozenset({"n", "y"}), frozenset({"false", "true"}),
    frozenset({"female", "male"}), frozenset({"f", "m"}),
)
#: Cell texts that mean "no value" in some spreadsheet or export; an outcomes table writes a missing value as an
#: empty cell (dosimetry.outcomes.table), so one of these is refused rather than read as a category or a number.
MISSING_VALUE_TOKENS = frozenset({"na", "n/a", "nan", "none", "null", "missing", "unknown", "?", ".", "-", "--", "nd", "n.d."})


def covariate_column(cells: Sequence[str], name: str) -> tuple[np.ndarray, str]:
    """Parse an outcomes-table column into numbers. Numeric text is read as is (it must be finite); a text
    column is coded only when its values are one of the :data:`BINARY_ENCODINGS` (any case), as a 0/1
    indicator of the pair's later level (the reference level is named in the returned label, e.g.
    ``sex=M (vs F)``). An empty cell is a missing value (NaN). A missing-value token (``n/a``, ``NA``,
    ``nan``, ``unknown``, ... :data:`MISSING_VALUE_TOKENS`) is an error naming the column and the cell, never
    a category: "0"/"n/a" would otherwise become a binary covariate of "was the value recorded"."""
    values = [c.strip() for c in cells]
    tokens = [(i, v) for i, v in enumerate(values) if v.casefold() in MISSING_VALUE_TOKENS]
    if tokens:
        where = ", ".join(f"cell {i + 1} {v!r}" for i, v in tokens[:6])
        raise ArgumentError(
            f"covariate {name}: {len(tokens)} cell(s) hold a missing-value token ({where}); leave a missing value's "
            "cell empty (the patient is then left out of the model), or give the value"
        )
    try:
        numbers = np.array([float(v) if v else math.nan for v in values])
    except ValueError:
        pass
    else:
        bad = [values[i] for i in np.flatnonzero(np.isinf(numbers))]
        if bad:
            raise ArgumentError(f"covariate {name}: not a finite number: {', '.join(bad[:6])}")
        return numbers, name
    present = [v for v in values if v]
    spellings: dict[str, str] = {}
    for v in present:
        spellings.setdefault(v.casefold(), v)
    levels = sorted(spellings)
    if frozenset(levels) not in BINARY_ENCODINGS:
        shown = ", ".join(spellings[k] for k in levels[:6])
        raise ArgumentError(
            f"covariate {name}: not numeric and its values ({shown}) are not a recognised two-level encoding "
            "(yes/no, y/n, true/false, male/female, m/f, any case; or 0/1): code it as 0/1"
        )
    reference, coded = levels
    label = f"{name}={spellings[coded]} (vs {spellings[reference]})"
    return np.array([float(v.casefold() == coded) if v else math.nan for v in values]), label
