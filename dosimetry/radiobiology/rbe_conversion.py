"""Voxel-wise conversion of carbon-ion RBE-weighted dose between LEM-I and MKM.

The two biological models give different RBE-weighted doses from the same physical dose, and their
ratio depends on the dose per fraction. A relation is a table of conversion factors
``f(d) = D_LEM / D_MKM`` at LEM-I doses per fraction ``d`` (Gy(RBE)); between the points ``log f``
is linear in ``log d`` (a power law between neighbours); outside the first and last point the
relation is not defined and the conversion refuses (no extrapolation). Each voxel is converted at
its own dose per fraction (``D / n``):

* LEM-I -> MKM: ``D_MKM = D_LEM / f(D_LEM / n)``;
* MKM -> LEM-I: ``D_LEM`` solves ``D_LEM / f(D_LEM / n) = D_MKM`` (the relation must make
  ``d / f(d)`` increase, which is checked; per segment the inverse is closed-form).

Shipped relation (``dosimetry/data/rbe_lem_mkm_zhang2020.json``): Zhang L et al. Radiat Oncol
2020;15:277 (recurrent NPC, head and neck), valid for LEM-I doses per fraction 0.24-3.00 Gy(RBE)
(the file's notes say which points are used). A user relation in the same JSON/YAML form
(``source``, ``from_model``, ``to_model``, ``points``) replaces it.

A ``mask`` restricts the conversion (for example to a structure, or to voxels above a dose where
the relation is defined): voxels outside it are kept at their input (source-model) dose or, with
``outside_mask="zero"``, set to 0; either way their count is returned, logged and named in the
warnings, so an output that mixes the two models says so.

The plan's biological model is read when recorded (:func:`recorded_rbe_model`: the words LEM or
MKM in the RT Dose or RT Ion Plan descriptions), else it is a required argument.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dosimetry.citations import short_citation
from dosimetry.errors import ArgumentError, InputFileError, RadiobiologyError
from dosimetry.radiobiology.lq import check_fractions

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
MASK_OUTSIDE = ("keep", "zero")
SHIPPED_RELATION = "rbe_lem_mkm_zhang2020.json"


class RbeModel(StrEnum):
    LEM_I = "lem-i"
    MKM = "mkm"


def rbe_model(value: str, argument: str) -> RbeModel:
    """``value`` as an :class:`RbeModel`, or an ArgumentError naming ``argument`` and the choices."""
    try:
        return RbeModel(value)
    except ValueError as exc:
        choices = ", ".join(m.value for m in RbeModel)
        raise ArgumentError(f"{argument} must be one of {choices}, got {value!r}") from exc


@dataclass(frozen=True)
class RbeRelation:
    """Conversion factors LEM-I/MKM at LEM-I doses per fraction (strictly increasing)."""

    dose_per_fraction_gy: tuple[float, ...]
    factor: tuple[float, ...]
    source: str
    region: str = ""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.dose_per_fraction_gy) < 2 or len(self.factor) != len(self.dose_per_fraction_gy):
            raise ArgumentError("an RBE relation needs at least two (dose per fraction, factor) points")
        d = np.asarray(self.dose_per_fraction_gy)
        f = np.asarray(self.factor)
        if not (np.all(np.isfinite(d)) and np.all(d > 0) and np.all(np.diff(d) > 0)):
            raise ArgumentError(f"RBE relation doses per fraction must be > 0 and increase strictly, got {list(d)}")
        if not (np.all(np.isfinite(f)) and np.all(f > 0)):
            raise ArgumentError(f"RBE relation factors must be > 0, got {list(f)}")
        if not np.all(np.diff(d / f) > 0):
            raise ArgumentError("RBE relation: d / factor(d) must increase with d, or MKM -> LEM-I has no unique answer")
        if not self.source.strip():
            raise ArgumentError("an RBE relation must name its source")

    @property
    def short_source(self) -> str:
        """First author and year ("Zhang et al. 2020"; :func:`dosimetry.citations.short_citation`)."""
        return short_citation(self.source)

    @property
    def range_gy(self) -> tuple[float, float]:
        return self.dose_per_fraction_gy[0], self.dose_per_fraction_gy[-1]

    def factor_at(self, dose_per_fraction_gy: FloatArray) -> FloatArray:
        """``f(d)`` (log-log linear between points); the caller has checked the range."""
        log_d = np.log(np.asarray(self.dose_per_fraction_gy))
        log_f = np.log(np.asarray(self.factor))
        return np.exp(np.interp(np.log(dose_per_fraction_gy), log_d, log_f))  # type: ignore[no-any-return]

    def lem_from_mkm_per_fraction(self, mkm_per_fraction_gy: FloatArray) -> FloatArray:
        """The LEM-I dose per fraction whose MKM equivalent is given (closed form per segment)."""
        d = np.asarray(self.dose_per_fraction_gy)
        f = np.asarray(self.factor)
        g = d / f  # MKM dose per fraction at the points
        x = np.asarray(mkm_per_fraction_gy, dtype=np.float64)
        index = np.clip(np.searchsorted(g, x, side="right") - 1, 0, len(d) - 2)
        slope = np.log(f[index + 1] / f[index]) / np.log(d[index + 1] / d[index])  # b: f = f_i (d/d_i)^b
        # x = d / f = (d_i / f_i) (d / d_i)^(1 - b)  ->  d = d_i (x / g_i)^(1 / (1 - b))
        return d[index] * np.power(x / g[index], 1.0 / (1.0 - slope))  # type: ignore[no-any-return]


def parse_relation(data: Any, source: str) -> RbeRelation:
    """A relation from its mapping form (``dosimetry/data/rbe_lem_mkm_zhang2020.json``)."""
    if not isinstance(data, dict):
        raise ArgumentError(f"{source}: an RBE relation must be a mapping with source, from_model, to_model, points")
    if data.get("from_model") != RbeModel.LEM_I.value or data.get("to_model") != RbeModel.MKM.value:
        raise ArgumentError(f"{source}: from_model must be 'lem-i' and to_model 'mkm' (factor = LEM-I / MKM at the LEM-I dose)")
    points = data.get("points")
    if not isinstance(points, list):
        raise ArgumentError(f"{source}: 'points' must be a list of {{dose_per_fraction_gy, factor}}")
    try:
        doses = tuple(float(p["dose_per_fraction_gy"]) for p in points)
        factors = tuple(float(p["factor"]) for p in points)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"{source}: every point needs numbers dose_per_fraction_gy and factor") from exc
    try:
        return RbeRelation(doses, factors, str(data.get("source", "")), str(data.get("region", "")),
                           tuple(str(n) for n in data.get("notes", [])))
    except ArgumentError as exc:
        raise ArgumentError(f"{source}: {exc}") from exc


def load_relation(path: Path | str | None = None) -> RbeRelation:
    """The shipped relation (Zhang et al. 2020), or a user relation file (.json/.yaml)."""
    if path is None:
        text = resources.files("dosimetry").joinpath("data", SHIPPED_RELATION).read_text(encoding="utf-8")
        return parse_relation(json.loads(text), f"dosimetry/data/{SHIPPED_RELATION}")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read the RBE relation {p}: {exc}") from exc
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return parse_relation(yaml.safe_load(text), str(p))
    try:
        return parse_relation(json.loads(text), str(p))
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"{p} is not valid JSON: {exc}") from exc


@dataclass(frozen=True, eq=False)
class ConvertedDose:
    dose_gy: FloatArray  # RBE-weighted dose of the target model, Gy(RBE)
    source_model: RbeModel
    target_model: RbeModel
    relation_source: str
    outside_voxels: int = 0  # voxels outside the relation's range (set to 0, only with outside="zero")
    warnings: tuple[str, ...] = field(default=())
    masked_voxels: int = 0  # dose > 0 outside the mask: kept at the source model's dose, or 0 (outside_mask)
    mask_label: str = ""  # what the mask is (e.g. "ROI BrainStem, >= 10 Gy(RBE)"); "" without a mask


def convert_rbe_weighted_dose(
    dose_gy: npt.ArrayLike,
    fractions: int,
    *,
    source_model: RbeModel,
    target_model: RbeModel,
    relation: RbeRelation | None = None,
    outside: str = "refuse",
    mask: npt.ArrayLike | None = None,
    mask_label: str = "the mask",
    outside_mask: str = "keep",
) -> ConvertedDose:
    """Convert a total RBE-weighted dose array voxel by voxel (module docstring). Voxels of 0 Gy
    stay 0. A voxel whose LEM-I dose per fraction lies outside the relation's range is refused
    (``outside="refuse"``, a RadiobiologyError giving the count and doses) or, only when the caller
    says ``outside="zero"``, set to 0 with a warning that names the count. With ``mask`` (a boolean
    array of the dose's shape, described by ``mask_label``) only the voxels in it are converted and
    range-checked; the others keep the source model's dose (``outside_mask="keep"``) or are set to 0
    (``"zero"``), with a warning naming their count and what was done."""
    n = check_fractions(fractions)
    relation = relation or load_relation()
    source_model, target_model = rbe_model(source_model, "source_model"), rbe_model(target_model, "target_model")
    if outside not in ("refuse", "zero"):
        raise ArgumentError(f"outside must be 'refuse' or 'zero', got {outside!r}")
    if outside_mask not in MASK_OUTSIDE:
        raise ArgumentError(f"outside_mask must be one of {', '.join(MASK_OUTSIDE)}, got {outside_mask!r}")
    dose = np.asarray(dose_gy, dtype=np.float64)
    if dose.size == 0 or not np.all(np.isfinite(dose)) or float(dose.min()) < 0:
        raise RadiobiologyError("the RBE-weighted dose must be a non-empty array of finite doses >= 0 Gy(RBE)")
    if mask is None:
        selected = np.ones(dose.shape, dtype=bool)
    else:
        selected = np.asarray(mask)
        if selected.shape != dose.shape or selected.dtype != np.bool_:
            raise ArgumentError(f"mask must be a boolean array of the dose's shape {dose.shape}, got {selected.dtype} {selected.shape}")
    if source_model is target_model:
        # nothing to convert; the voxels outside the mask are still set to 0 when asked (outside_mask="zero")
        same = dose.copy()
        outside_count = int(np.count_nonzero((dose > 0) & ~selected))
        notes: tuple[str, ...] = ()
        if outside_count and outside_mask == "zero":
            same[~selected] = 0.0
            notes = (f"{outside_count} voxel(s) with dose outside {mask_label} were set to 0",)
            logger.warning("RBE conversion %s -> %s: %s", source_model.value, target_model.value, notes[0])
        return ConvertedDose(
            same, source_model, target_model, relation.source, 0, notes, outside_count, "" if mask is None else mask_label
        )
    per_fraction = dose / n
    low, high = relation.range_gy
    if source_model is RbeModel.MKM:
        g = np.asarray(relation.dose_per_fraction_gy) / np.asarray(relation.factor)
        low_in, high_in = float(g[0]), float(g[-1])
    else:
        low_in, high_in = low, high
    positive = (per_fraction > 0) & selected
    inside = positive & (per_fraction >= low_in * (1 - 1e-12)) & (per_fraction <= high_in * (1 + 1e-12))
    bad = positive & ~inside
    count = int(np.count_nonzero(bad))
    warnings: list[str] = []
    if count:
        values = per_fraction[bad]
        message = (
            f"{count} voxel(s) have a {source_model.value} dose per fraction of {float(values.min()):.3g}-{float(values.max()):.3g} "
            f"Gy(RBE), outside the relation's range {low_in:.3g}-{high_in:.3g} Gy(RBE) per fraction ({relation.short_source}); "
            "the relation is not extrapolated"
        )
        if mask is not None:
            message = f"inside {mask_label}: {message}"
        if outside == "refuse":
            raise RadiobiologyError(
                message + ": restrict the conversion to the relation's range (--min-dose-gy, --structure) or choose outside='zero' (--outside zero)"
            )
        warnings.append(message + "; those voxels were set to 0 (outside='zero')")
    masked = (dose > 0) & ~selected
    masked_count = int(np.count_nonzero(masked))
    out = np.zeros_like(dose)
    if masked_count:
        kept = outside_mask == "keep"
        if kept:
            out[masked] = dose[masked]
        text = (
            f"{masked_count} voxel(s) with dose outside {mask_label} were not converted: "
            + (f"they keep their {source_model.value} dose, so the output mixes {source_model.value} and {target_model.value} doses"
               if kept else "they were set to 0")
        )
        warnings.append(text)
        logger.warning("RBE conversion %s -> %s: %s", source_model.value, target_model.value, text)
    d = np.clip(per_fraction[inside], low_in, high_in)
    if source_model is RbeModel.LEM_I:
        out[inside] = dose[inside] / relation.factor_at(d)
    else:
        out[inside] = relation.lem_from_mkm_per_fraction(d) * n
    return ConvertedDose(
        out, source_model, target_model, relation.source, count, tuple(warnings), masked_count, "" if mask is None else mask_label
    )


_MODEL_WORDS = {RbeModel.LEM_I: re.compile(r"\bLEM(?:[ _-]?I{1,2}V?)?\b", re.IGNORECASE), RbeModel.MKM: re.compile(r"\bm?MKM\b", re.IGNORECASE)}
_TEXT_TAGS = (("SeriesDescription", "(0008,103E)"), ("DoseComment", "(3004,0006)"), ("RTPlanDescription", "(300A,0004)"),
              ("RTPlanLabel", "(300A,0002)"), ("RTPlanName", "(300A,0003)"), ("ImageComments", "(0020,4000)"))


def recorded_rbe_model(*paths: Path | None) -> tuple[RbeModel | None, str]:
    """The biological model the files record (the word LEM or MKM in their descriptions), and where;
    (None, reason) when none does. Conflicting records raise."""
    import pydicom

    found: dict[RbeModel, str] = {}
    for path in paths:
        if path is None:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError) as exc:
            raise InputFileError(f"cannot read {path} for its RBE model: {exc}") from exc
        for keyword, tag in _TEXT_TAGS:
            text = str(ds.get(keyword, "") or "")
            for model, pattern in _MODEL_WORDS.items():
                if pattern.search(text):
                    found.setdefault(model, f"{keyword} {tag} of {path}: {text!r}")
    if len(found) > 1:
        raise RadiobiologyError(f"the files record both RBE models: {'; '.join(found.values())}; give --from")
    if found:
        model, where = next(iter(found.items()))
        return model, where
    return None, "no LEM or MKM in the RT Dose / plan descriptions (SeriesDescription, DoseComment, RTPlanDescription, RTPlanLabel)"


def resolve_source_model(recorded: RbeModel | None, where: str, given: str | None) -> RbeModel:
    """The model the dose was planned with: the recorded one (a different ``given`` is an error), else ``given``."""
    if given is not None:
        chosen = rbe_model(given, "--from")
        if recorded is not None and recorded is not chosen:
            raise RadiobiologyError(f"--from {chosen.value} contradicts the recorded model {recorded.value} ({where})")
        return chosen
    if recorded is None:
        raise ArgumentError(f"the plan's RBE model is not recorded ({where}): give --from lem-i or --from mkm")
    return recorded
