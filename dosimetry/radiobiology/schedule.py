"""Fractionation schedules: total dose, BED and EQD2 for each alpha/beta (the ``schedule`` command).

Reproduces Table 1 of the protocol (2.5 GyE x 21..26 fractions, alpha/beta 2 and 9).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dosimetry.errors import RadiobiologyError
from dosimetry.numbers import table1_cell
from dosimetry.radiobiology.lq import bed_gy, check_alpha_beta, check_dose, check_fractions, eqd2_gy


def alpha_beta_key(alpha_beta_gy: float) -> str:
    """The JSON/display key of an alpha/beta ratio: ``2.0 -> "2"``, ``3.5 -> "3.5"``."""
    return f"{float(alpha_beta_gy):g}"


@dataclass(frozen=True)
class Schedule:
    """One schedule: ``fractions`` x ``dose_per_fraction_gy``; BED and EQD2 keyed by alpha/beta (Gy)."""

    fractions: int
    dose_per_fraction_gy: float
    total_gy: float
    alpha_betas_gy: tuple[float, ...]
    bed_gy: tuple[float, ...]
    eqd2_gy: tuple[float, ...]

    def bed_for(self, alpha_beta_gy: float) -> float:
        return self.bed_gy[self._index(alpha_beta_gy)]

    def eqd2_for(self, alpha_beta_gy: float) -> float:
        return self.eqd2_gy[self._index(alpha_beta_gy)]

    def _index(self, alpha_beta_gy: float) -> int:
        for i, ab in enumerate(self.alpha_betas_gy):
            if abs(ab - float(alpha_beta_gy)) < 1e-9:
                return i
        raise RadiobiologyError(f"schedule was not computed for alpha/beta {alpha_beta_gy} Gy (has {self.alpha_betas_gy})")

    def to_json(self) -> dict[str, Any]:
        return {
            "fractions": self.fractions,
            "dose_per_fraction_gy": self.dose_per_fraction_gy,
            "total_gy": self.total_gy,
            "bed_gy": {alpha_beta_key(ab): v for ab, v in zip(self.alpha_betas_gy, self.bed_gy, strict=True)},
            "eqd2_gy": {alpha_beta_key(ab): v for ab, v in zip(self.alpha_betas_gy, self.eqd2_gy, strict=True)},
        }


def make_schedule(dose_per_fraction_gy: float, fractions: int, alpha_betas_gy: Sequence[float]) -> Schedule:
    """BED and EQD2 of ``fractions`` fractions of ``dose_per_fraction_gy`` for each alpha/beta."""
    d = check_dose(dose_per_fraction_gy, argument="dose_per_fraction_gy")
    if d <= 0.0:
        raise RadiobiologyError(f"dose_per_fraction_gy must be > 0 Gy, got {dose_per_fraction_gy!r}")
    n = check_fractions(fractions)
    abs_gy = tuple(check_alpha_beta(ab, argument="alpha_beta_gy") for ab in alpha_betas_gy)
    if not abs_gy:
        raise RadiobiologyError("alpha_betas_gy must name at least one alpha/beta ratio")
    total = d * n
    return Schedule(
        fractions=n,
        dose_per_fraction_gy=d,
        total_gy=total,
        alpha_betas_gy=abs_gy,
        bed_gy=tuple(bed_gy(total, n, ab) for ab in abs_gy),
        eqd2_gy=tuple(eqd2_gy(total, n, ab) for ab in abs_gy),
    )


def make_schedules(
    dose_per_fraction_gy: float, fractions: Iterable[int], alpha_betas_gy: Sequence[float]
) -> tuple[Schedule, ...]:
    """One :class:`Schedule` per fraction count."""
    counts = list(fractions)
    if not counts:
        raise RadiobiologyError("fractions must list at least one fraction count")
    return tuple(make_schedule(dose_per_fraction_gy, n, alpha_betas_gy) for n in counts)


def schedules_to_json(schedules: Sequence[Schedule]) -> dict[str, Any]:
    """``{"schedules": [...]}`` as printed by ``dosimetry schedule --json``."""
    return {"schedules": [s.to_json() for s in schedules]}


def format_table(schedules: Sequence[Schedule]) -> str:
    """A plain-text table (one line per schedule), values rounded half-up to 0.1 Gy."""
    if not schedules:
        raise RadiobiologyError("no schedules to format")
    abs_gy = schedules[0].alpha_betas_gy
    header = ["fractions", "d/fx [Gy]", "total [Gy]"]
    header += [f"BED{alpha_beta_key(ab)} [Gy]" for ab in abs_gy]
    header += [f"EQD2_{alpha_beta_key(ab)} [Gy]" for ab in abs_gy]
    rows = [header]
    for s in schedules:
        row = [str(s.fractions), f"{s.dose_per_fraction_gy:.2f}", table1_cell(s.total_gy)]
        row += [table1_cell(s.bed_for(ab)) for ab in abs_gy]
        row += [table1_cell(s.eqd2_for(ab)) for ab in abs_gy]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows)
