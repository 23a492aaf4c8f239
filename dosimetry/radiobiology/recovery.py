"""Recovery models: how much of the prior course's biological dose still counts at re-irradiation.

Each model is a small frozen value object with its citation and range of validity. A model maps the
prior course's BED (voxel by voxel, Gy with the tissue's alpha/beta) and the interval between the
courses to the prior BED that still counts (the *remaining* prior BED, at most the prior BED and
never below 0). The cumulative map then adds it to the current course's BED
(:func:`dosimetry.radiobiology.summation.accumulate`).

* :class:`ConstantResidual` -- ``remaining = r x BED_prior`` whatever the interval (the trial
  protocol: r = 0.3, i.e. 70 % recovery, for organs at risk). The default; its numbers are the
  engine's historic ones.
* :class:`StepResidual` -- ``remaining = r(interval) x BED_prior`` with ``r`` a step function of
  the interval read from a user table (:func:`example_step_table` is the shipped example). A longer
  interval never leaves more residual: the table's residuals must not increase.
* :class:`JonesGrant2014` -- the time-dependent model of Jones B, Grant W. Retreatment of central
  nervous system tumours. Clin Oncol (R Coll Radiol) 2014;26(7):407-418
  (doi:10.1016/j.clon.2014.04.027), as implemented per voxel by DICOMautomaton
  (``DecayDoseOverTimeJones2014``, H. Clark): with ``BED_tol`` the BED of a lifetime tolerance course
  (``tolerance_dose_gy`` in ``tolerance_fractions``, same alpha/beta), ``x = BED_prior / BED_tol``
  and the recovery exponent ``r(t) = 1.5 + exp(1.2 (t - 1))`` (the authors' cautious curve; the
  fitted curve is ``2.8 + exp(1.67 (t - 1))``), t the interval in years clamped to [0, 3]::

      BED_remaining = BED_tol (1 - (1 - x) ** (1 / (1 + r)))      for 0 < x < 1
      BED_remaining = BED_prior                                    otherwise (no recovery credited)

  Valid for central nervous tissue (spinal cord, brainstem, brain) only; the authors fitted it to
  Ang et al. 2001 (rhesus monkey spinal cord) and recommend alpha/beta = 2 Gy.

:class:`RecoverySelection` holds the default model, per-organ models (by structure name or by the
organ classes ``serial`` / ``parallel``) and the alternatives the report compares side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ArgumentError, RadiobiologyError

FloatArray = npt.NDArray[np.float64]

#: The protocol's residual fraction of the prior course for organs at risk (70 % recovery).
DEFAULT_RESIDUAL = 0.30

PROTOCOL_CITATION = "the trial protocol: the prior course counted at 30 % (70 % recovery) for organs at risk"

JONES_GRANT_CITATION = (
    "Jones B, Grant W. Retreatment of central nervous system tumours. Clin Oncol (R Coll Radiol) "
    "2014;26(7):407-418. doi:10.1016/j.clon.2014.04.027; per-voxel form as in DICOMautomaton "
    "DecayDoseOverTimeJones2014"
)

#: Jones and Grant clamp the interval to 0-3 years (DICOMautomaton does the same).
JONES_GRANT_MAX_INTERVAL_MONTHS = 36.0

MONTHS_PER_YEAR = 12.0


class RecoveryModelKind(StrEnum):
    """The closed set of recovery models (the value is the command-line and protocol-file name)."""

    CONSTANT = "constant"
    STEP = "step"
    JONES_GRANT_2014 = "jones-grant-2014"

    @property
    def short(self) -> str:
        """A few characters for DICOM descriptions (64 characters at most)."""
        return {"constant": "r", "step": "step", "jones-grant-2014": "JG14"}[self.value]


class RecoveryModel(Protocol):
    """What every recovery model offers."""

    @property
    def kind(self) -> RecoveryModelKind: ...

    @property
    def label(self) -> str: ...

    @property
    def citation(self) -> str: ...

    @property
    def needs_interval(self) -> bool: ...

    def remaining_bed(
        self, prior_bed_gy: FloatArray, *, alpha_beta_gy: float | FloatArray, interval_months: float | None
    ) -> FloatArray: ...


def check_interval_months(interval_months: float | None, *, model: str) -> float:
    """The interval as a finite number of months >= 0, or a :class:`RadiobiologyError` naming the model."""
    if interval_months is None:
        raise RadiobiologyError(
            f"recovery model {model} needs the interval between the courses: no usable date was found "
            "(RT Plan RTPlanDate, treatment records, RT Dose/study dates); give --interval-months"
        )
    value = float(interval_months)
    if not math.isfinite(value) or value < 0.0:
        raise RadiobiologyError(f"the interval between the courses must be a finite number of months >= 0, got {interval_months!r}")
    return value


def _check_fraction(value: float, argument: str) -> float:
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ArgumentError(f"{argument} must be a fraction in [0, 1] (0.3 keeps 30 % of the prior dose), got {value!r}")
    return number


@dataclass(frozen=True)
class ConstantResidual:
    """``remaining = residual x BED_prior`` at any interval (default: the protocol's 0.3)."""

    residual: float = DEFAULT_RESIDUAL
    citation: str = PROTOCOL_CITATION

    def __post_init__(self) -> None:
        _check_fraction(self.residual, "residual")

    @property
    def kind(self) -> RecoveryModelKind:
        return RecoveryModelKind.CONSTANT

    @property
    def needs_interval(self) -> bool:
        return False

    @property
    def label(self) -> str:
        return f"constant residual {self.residual:g}"

    def remaining_bed(
        self, prior_bed_gy: FloatArray, *, alpha_beta_gy: float | FloatArray, interval_months: float | None = None
    ) -> FloatArray:
        return np.asarray(prior_bed_gy, dtype=np.float64) * self.residual


@dataclass(frozen=True)
class IntervalStep:
    """From ``from_months`` on (until the next step), ``residual`` of the prior BED still counts."""

    from_months: float
    residual: float


@dataclass(frozen=True)
class StepResidual:
    """``remaining = r(interval) x BED_prior`` with ``r`` a step function of the interval.

    ``steps`` start at 0 months, their ``from_months`` increase strictly and their residuals never
    increase (a longer interval never leaves more residual dose); ``source`` names where the table
    comes from."""

    steps: tuple[IntervalStep, ...]
    source: str

    def __post_init__(self) -> None:
        if not self.steps:
            raise ArgumentError("a step recovery table needs at least one step")
        if not self.source.strip():
            raise ArgumentError("a step recovery table must name its source")
        if self.steps[0].from_months != 0.0:
            raise ArgumentError(f"the first step must start at 0 months, got {self.steps[0].from_months:g}")
        previous: IntervalStep | None = None
        for step in self.steps:
            _check_fraction(step.residual, f"residual of the step from {step.from_months:g} months")
            if not math.isfinite(step.from_months):
                raise ArgumentError(f"step start must be a finite number of months, got {step.from_months!r}")
            if previous is not None:
                if step.from_months <= previous.from_months:
                    raise ArgumentError(
                        f"step starts must increase: {step.from_months:g} months follows {previous.from_months:g}"
                    )
                if step.residual > previous.residual:
                    raise ArgumentError(
                        f"the residual may not grow with the interval: {step.residual:g} from {step.from_months:g} "
                        f"months follows {previous.residual:g}"
                    )
            previous = step

    @property
    def kind(self) -> RecoveryModelKind:
        return RecoveryModelKind.STEP

    @property
    def needs_interval(self) -> bool:
        return True

    @property
    def citation(self) -> str:
        return self.source

    @property
    def label(self) -> str:
        parts = [f">={s.from_months:g} mo: {s.residual:g}" for s in self.steps]
        return "step residual (" + "; ".join(parts) + ")"

    def residual_at(self, interval_months: float | None) -> float:
        interval = check_interval_months(interval_months, model=self.kind.value)
        residual = self.steps[0].residual
        for step in self.steps:
            if interval >= step.from_months:
                residual = step.residual
        return residual

    def remaining_bed(
        self, prior_bed_gy: FloatArray, *, alpha_beta_gy: float | FloatArray, interval_months: float | None
    ) -> FloatArray:
        return np.asarray(prior_bed_gy, dtype=np.float64) * self.residual_at(interval_months)


STEP_TABLE_EXAMPLE_RESOURCE = "recovery_steps_example.json"


def parse_step_table(data: object, source: str) -> StepResidual:
    """A :class:`StepResidual` from a mapping ``{"source": str, "steps": [{"from_months": m,
    "residual": r}, ...]}`` (``source`` names the file in errors)."""
    if not isinstance(data, dict):
        raise ArgumentError(f"{source}: a step recovery table must be a mapping with 'source' and 'steps'")
    unknown = set(data) - {"source", "steps", "notes"}
    if unknown:
        raise ArgumentError(f"{source}: unknown key(s) {sorted(unknown)}; expected source, steps, notes")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ArgumentError(f"{source}: 'steps' must be a non-empty list of {{from_months, residual}}")
    parsed: list[IntervalStep] = []
    for index, item in enumerate(steps):
        if not isinstance(item, dict) or set(item) != {"from_months", "residual"}:
            raise ArgumentError(f"{source}: steps[{index}] must have exactly from_months and residual, got {item!r}")
        try:
            parsed.append(IntervalStep(float(item["from_months"]), float(item["residual"])))
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"{source}: steps[{index}] must hold numbers, got {item!r}") from exc
    text = data.get("source")
    if not isinstance(text, str) or not text.strip():
        raise ArgumentError(f"{source}: 'source' must name where the table comes from")
    try:
        return StepResidual(tuple(parsed), text)
    except ArgumentError as exc:
        raise ArgumentError(f"{source}: {exc}") from exc


def example_step_table() -> StepResidual:
    """The shipped example table ``dosimetry/data/recovery_steps_example.json``."""
    import json
    from importlib import resources

    resource = resources.files("dosimetry").joinpath("data", STEP_TABLE_EXAMPLE_RESOURCE)
    return parse_step_table(json.loads(resource.read_text(encoding="utf-8")), f"dosimetry/data/{STEP_TABLE_EXAMPLE_RESOURCE}")


def jones_grant_exponent(interval_months: float, *, conservative: bool = True) -> float:
    """The recovery exponent ``r`` of Jones and Grant 2014 at the interval (clamped to 0-36 months)."""
    t_years = min(max(float(interval_months), 0.0), JONES_GRANT_MAX_INTERVAL_MONTHS) / MONTHS_PER_YEAR
    if conservative:
        return 1.5 + math.exp(1.2 * (t_years - 1.0))
    return 2.8 + math.exp(1.67 * (t_years - 1.0))


@dataclass(frozen=True)
class JonesGrant2014:
    """Time-dependent BED recovery of central nervous tissue (Jones and Grant 2014), per voxel.

    ``tolerance_dose_gy`` in ``tolerance_fractions`` is the lifetime tolerance course (default
    52 Gy in 35 fractions, DICOMautomaton's default); ``conservative`` selects the authors' cautious
    exponent curve (default, as they recommend)."""

    tolerance_dose_gy: float = 52.0
    tolerance_fractions: int = 35
    conservative: bool = True
    citation: str = JONES_GRANT_CITATION

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance_dose_gy) and self.tolerance_dose_gy > 0):
            raise ArgumentError(f"tolerance_dose_gy must be > 0 Gy, got {self.tolerance_dose_gy!r}")
        if isinstance(self.tolerance_fractions, bool) or int(self.tolerance_fractions) != self.tolerance_fractions or self.tolerance_fractions < 1:
            raise ArgumentError(f"tolerance_fractions must be a whole number >= 1, got {self.tolerance_fractions!r}")

    @property
    def kind(self) -> RecoveryModelKind:
        return RecoveryModelKind.JONES_GRANT_2014

    @property
    def needs_interval(self) -> bool:
        return True

    @property
    def label(self) -> str:
        curve = "cautious r" if self.conservative else "fitted r"
        return f"Jones-Grant 2014 (tolerance {self.tolerance_dose_gy:g} Gy/{self.tolerance_fractions} fx, {curve})"

    def tolerance_bed_gy(self, alpha_beta_gy: float | FloatArray) -> float | FloatArray:
        d = self.tolerance_dose_gy / self.tolerance_fractions
        return self.tolerance_dose_gy * (1.0 + d / np.asarray(alpha_beta_gy, dtype=np.float64))  # type: ignore[no-any-return]

    def interval_note(self, interval_months: float) -> str | None:
        """A warning when the interval lies beyond the model's 3 years (clamped, as the authors do)."""
        if interval_months > JONES_GRANT_MAX_INTERVAL_MONTHS:
            return (
                f"Jones-Grant 2014: interval {interval_months:.1f} months clamped to "
                f"{JONES_GRANT_MAX_INTERVAL_MONTHS:g} months (the model's range is 0-3 years)"
            )
        return None

    def remaining_bed(
        self, prior_bed_gy: FloatArray, *, alpha_beta_gy: float | FloatArray, interval_months: float | None
    ) -> FloatArray:
        interval = check_interval_months(interval_months, model=self.kind.value)
        exponent = 1.0 / (1.0 + jones_grant_exponent(interval, conservative=self.conservative))
        prior = np.asarray(prior_bed_gy, dtype=np.float64)
        tolerance = np.broadcast_to(np.asarray(self.tolerance_bed_gy(alpha_beta_gy), dtype=np.float64), prior.shape)
        ratio = prior / tolerance
        inside = (ratio > 0.0) & (ratio < 1.0)
        out = prior.copy()
        out[inside] = tolerance[inside] * (1.0 - np.power(1.0 - ratio[inside], exponent))
        return out


@dataclass(frozen=True)
class RecoverySelection:
    """The recovery model of a run: ``default`` for every organ, ``per_organ`` overrides (key: a
    structure name matched through TG-263 synonyms, or ``serial`` / ``parallel``), and the
    ``alternatives`` compared side by side in the report."""

    default: RecoveryModel = field(default_factory=ConstantResidual)
    per_organ: tuple[tuple[str, RecoveryModel], ...] = ()
    alternatives: tuple[RecoveryModel, ...] = ()

    @property
    def models(self) -> tuple[RecoveryModel, ...]:
        """Every model used for the cumulative map (default first), without repeats."""
        seen: dict[str, RecoveryModel] = {self.default.label: self.default}
        for _, model in self.per_organ:
            seen.setdefault(model.label, model)
        return tuple(seen.values())

    @property
    def needs_interval(self) -> bool:
        return any(m.needs_interval for m in (*self.models, *self.alternatives))

    @property
    def is_protocol_default(self) -> bool:
        d = self.default
        return isinstance(d, ConstantResidual) and d.residual == DEFAULT_RESIDUAL and not self.per_organ

    def describe(self) -> str:
        text = self.default.label
        if self.per_organ:
            text += "; " + ", ".join(f"{key}: {model.label}" for key, model in self.per_organ)
        return text


RECOVERY_SPEC_HELP = (
    "constant[:R] (the protocol's 0.3 by default) | step[:TABLE.json|.yaml|.toml] (the shipped example by default) | "
    "jones-grant-2014[:DOSE_GY/FRACTIONS][:fitted] (tolerance course, default 52/35; cautious r unless fitted)"
)


def _load_table_file(path_text: str, argument: str) -> StepResidual:
    import json
    import tomllib
    from pathlib import Path

    import yaml

    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        from dosimetry.errors import InputFileError

        raise InputFileError(f"{argument}: cannot read the step recovery table {path}: {exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ArgumentError(f"{argument}: the step recovery table {path} must end in .json, .yaml, .yml or .toml")
    except (json.JSONDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ArgumentError(f"{argument}: {path} is not valid {suffix[1:].upper()}: {exc}") from exc
    return parse_step_table(data, str(path))


def parse_recovery_model(spec: str, *, argument: str = "--recovery") -> RecoveryModel:
    """A recovery model from its text form (:data:`RECOVERY_SPEC_HELP`)."""
    text = str(spec).strip()
    name, _, rest = text.partition(":")
    try:
        kind = RecoveryModelKind(name.strip().lower())
    except ValueError as exc:
        raise ArgumentError(f"{argument} {spec!r}: unknown recovery model {name!r}; expected {RECOVERY_SPEC_HELP}") from exc
    if kind is RecoveryModelKind.CONSTANT:
        if not rest:
            return ConstantResidual()
        try:
            value = float(rest)
        except ValueError as exc:
            raise ArgumentError(f"{argument} {spec!r}: {rest!r} is not a residual fraction in [0, 1]") from exc
        if value == DEFAULT_RESIDUAL:
            return ConstantResidual()
        return ConstantResidual(_check_fraction(value, argument), citation=f"constant residual given by the user ({argument})")
    if kind is RecoveryModelKind.STEP:
        return example_step_table() if not rest else _load_table_file(rest, argument)
    options = [o.strip() for o in rest.split(":") if o.strip()] if rest else []
    dose_gy, fractions, conservative = 52.0, 35, True
    for option in options:
        if option.lower() == "fitted":
            conservative = False
        elif option.lower() in ("cautious", "conservative"):
            conservative = True
        elif "/" in option:
            dose_text, _, n_text = option.partition("/")
            try:
                dose_gy, fractions = float(dose_text), int(n_text)
            except ValueError as exc:
                raise ArgumentError(f"{argument} {spec!r}: tolerance must be DOSE_GY/FRACTIONS, e.g. 52/35") from exc
        else:
            raise ArgumentError(f"{argument} {spec!r}: unknown option {option!r}; expected DOSE_GY/FRACTIONS, fitted or cautious")
    return JonesGrant2014(dose_gy, fractions, conservative)


def model_record(model: RecoveryModel) -> dict[str, object]:
    """JSON-ready description of a model (results.json, accumulate.json)."""
    record: dict[str, object] = {"kind": model.kind.value, "label": model.label, "citation": model.citation}
    if isinstance(model, ConstantResidual):
        record["residual"] = model.residual
    elif isinstance(model, StepResidual):
        record["steps"] = [{"from_months": s.from_months, "residual": s.residual} for s in model.steps]
    elif isinstance(model, JonesGrant2014):
        record.update(
            tolerance_dose_gy=model.tolerance_dose_gy, tolerance_fractions=model.tolerance_fractions,
            conservative=model.conservative,
        )
    return record


def selection_from_specs(
    default: str | None = None,
    per_organ: tuple[str, ...] | list[str] = (),
    alternatives: tuple[str, ...] | list[str] = (),
    *,
    base: RecoverySelection | None = None,
) -> RecoverySelection:
    """A :class:`RecoverySelection` from text specs (``--recovery``, ``--organ-recovery NAME=MODEL``,
    ``--compare-recovery``); parts not given come from ``base`` (e.g. a protocol file's block)."""
    start = base or RecoverySelection()
    model = parse_recovery_model(default) if default is not None else start.default
    organs = list(start.per_organ) if not per_organ else []
    for item in per_organ:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip() or not spec.strip():
            raise ArgumentError(f"--organ-recovery expects NAME=MODEL, got {item!r}")
        organs.append((name.strip(), parse_recovery_model(spec, argument="--organ-recovery")))
    others = tuple(parse_recovery_model(s, argument="--compare-recovery") for s in alternatives) or start.alternatives
    return RecoverySelection(model, tuple(organs), others)
