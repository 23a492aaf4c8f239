"""Single-stage exact binomial phase II design (A'Hern, Statistics in Medicine 2001).

H0: response (here 2-year survival) rate <= p0 against H1: rate >= p1 > p0, one-sided. For a sample
size ``n`` and threshold ``r`` ("reject H0 if at least r successes"):

    exact alpha = P(X >= r | n, p0),    exact power = P(X >= r | n, p1).

:func:`design_single_stage` returns the smallest ``n`` for which some ``r`` gives
``alpha_exact <= alpha`` and ``power_exact >= power`` (for that ``n``, the smallest such ``r``,
which maximises power). Note that the property is not monotone in ``n``: a larger ``n`` may fail;
the design returned is the smallest that works, as in A'Hern's tables.

Tail probabilities are exact sums of ``comb(n, k) p^k (1-p)^(n-k)`` in rational arithmetic
(:class:`fractions.Fraction` of the binary floating-point ``p``), rounded to float only at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from dosimetry.errors import TrialDesignError

DEFAULT_N_MAX = 1000


def _probability(name: str, value: float, *, open_interval: bool = True) -> Fraction:
    if not math.isfinite(value) or not (0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0):
        raise TrialDesignError(f"{name}: expected a probability strictly between 0 and 1, got {value!r}")
    return Fraction(value)


def _tail_numerators(n: int, p: Fraction) -> tuple[list[int], int]:
    """Exact tails P(X >= r), r = 0..n+1, as integer numerators over a common denominator.

    With p = a / D exactly (D a power of two for a binary float), each term
    comb(n, k) a^k (D - a)^(n - k) / D^n is an integer over D^n: no gcd work is needed.
    """
    a, d = p.numerator, p.denominator
    b = d - a
    b_pows = [1] * (n + 1)
    for j in range(1, n + 1):
        b_pows[j] = b_pows[j - 1] * b
    tails = [0] * (n + 2)
    a_pow = a**n
    acc = 0
    for k in range(n, -1, -1):
        acc += math.comb(n, k) * a_pow * b_pows[n - k]
        tails[k] = acc
        if k:
            a_pow //= a  # exact: a_pow was a^k
    return tails, d**n


def binomial_upper_tail(n: int, r: int, p: float) -> float:
    """Exact ``P(X >= r)`` for ``X ~ Binomial(n, p)`` (exact rational sum, then float)."""
    if n < 0 or int(n) != n:
        raise TrialDesignError(f"n: expected an integer >= 0, got {n!r}")
    pf = _probability("p", p, open_interval=False)
    if r <= 0:
        return 1.0
    if r > n:
        return 0.0
    q = 1 - pf
    total = sum((math.comb(n, k) * pf**k * q ** (n - k) for k in range(r, n + 1)), Fraction(0))
    return float(total)


@dataclass(frozen=True)
class SingleStageCheck:
    """Exact operating characteristics of one (n, r) pair."""

    n: int
    reject_if_at_least: int
    p0: float
    p1: float
    alpha: float
    power: float
    alpha_nominal: float | None = None
    power_nominal: float | None = None

    @property
    def meets_alpha(self) -> bool | None:
        return None if self.alpha_nominal is None else self.alpha <= self.alpha_nominal

    @property
    def meets_power(self) -> bool | None:
        return None if self.power_nominal is None else self.power >= self.power_nominal

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "reject_if_at_least": self.reject_if_at_least,
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "power": self.power,
            "alpha_nominal": self.alpha_nominal,
            "power_nominal": self.power_nominal,
            "meets_alpha": self.meets_alpha,
            "meets_power": self.meets_power,
        }


def _check_hypotheses(p0: float, p1: float) -> tuple[Fraction, Fraction]:
    f0 = _probability("p0", p0)
    f1 = _probability("p1", p1)
    if not f1 > f0:
        raise TrialDesignError(f"p1 ({p1}) must be greater than p0 ({p0}) for a one-sided test of p > p0")
    return f0, f1


def check_single_stage(
    n: int, reject_if_at_least: int, p0: float, p1: float, alpha: float | None = None, power: float | None = None
) -> SingleStageCheck:
    """Exact alpha and power of "reject H0 if X >= reject_if_at_least out of n"."""
    _check_hypotheses(p0, p1)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise TrialDesignError(f"n: expected an integer >= 1, got {n!r}")
    r = reject_if_at_least
    if isinstance(r, bool) or int(r) != r or not 0 <= r <= n:
        raise TrialDesignError(f"reject_if_at_least: expected an integer in 0..n ({n}), got {r!r}")
    if alpha is not None:
        _probability("alpha", alpha)
    if power is not None:
        _probability("power", power)
    return SingleStageCheck(
        n=int(n),
        reject_if_at_least=int(r),
        p0=p0,
        p1=p1,
        alpha=binomial_upper_tail(int(n), int(r), p0),
        power=binomial_upper_tail(int(n), int(r), p1),
        alpha_nominal=alpha,
        power_nominal=power,
    )


def design_single_stage(
    p0: float, p1: float, alpha: float, power: float, *, n_max: int = DEFAULT_N_MAX
) -> SingleStageCheck:
    """A'Hern design: smallest n (and its smallest r) with exact alpha <= alpha and power >= power."""
    f0, f1 = _check_hypotheses(p0, p1)
    fa = _probability("alpha", alpha)
    fp = _probability("power", power)
    if n_max < 1:
        raise TrialDesignError(f"n_max: expected >= 1, got {n_max}")
    for n in range(1, n_max + 1):
        tails0, den0 = _tail_numerators(n, f0)
        # smallest r with P(X >= r | p0) <= alpha (tails decrease with r; r = n+1 always qualifies)
        r = next(k for k in range(n + 2) if tails0[k] * fa.denominator <= fa.numerator * den0)
        if r > n:
            continue
        tails1, den1 = _tail_numerators(n, f1)
        if tails1[r] * fp.denominator >= fp.numerator * den1:
            return SingleStageCheck(
                n=n,
                reject_if_at_least=r,
                p0=p0,
                p1=p1,
                alpha=float(Fraction(tails0[r], den0)),
                power=float(Fraction(tails1[r], den1)),
                alpha_nominal=alpha,
                power_nominal=power,
            )
    raise TrialDesignError(
        f"no single-stage design with n <= {n_max} reaches alpha <= {alpha} and power >= {power} "
        f"for p0 = {p0}, p1 = {p1}; raise n_max"
    )
