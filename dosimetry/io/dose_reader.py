"""RT Dose files into :class:`~dosimetry.dose.DoseGrid` (Gy, canonical LPS grid).

Read with pydicom (never SimpleITK, whose reader assumes uniform frame spacing and returns the
unscaled integers). What is handled here, so the rest of the code never sees it:

* ``DoseGridScaling`` (3004,000E) applied; ``DoseUnits`` (3004,0002) GY accepted, RELATIVE refused
  unless ``normalisation_gy`` is given (dose_gy = stored relative value x normalisation_gy);
* ``DoseType`` (3004,0004) PHYSICAL / EFFECTIVE / ERROR kept on the DoseGrid;
* ``DoseSummationType`` (3004,000A): PLAN and BEAM kept as stored. FRACTION is ambiguous between
  systems (the current standard defines it as the whole delivery of one fraction group, several
  systems write the dose of a single fraction): the values are never scaled unless ``fractions=``
  is given, in which case they are multiplied by it and the result is labelled PLAN; without it the
  grid keeps FRACTION and carries a warning. FRACTION_SESSION / BEAM_SESSION (one session) likewise.
  Beam doses of one plan are summed by :func:`load_beam_doses`;
* ``GridFrameOffsetVector`` (3004,000C) relative (first element 0: offsets along the slice normal
  from ImagePositionPatient) or absolute (first element equal to the ImagePositionPatient z:
  offsets are the plane z coordinates, transverse grids only), ascending or descending, uniform
  or not;
* the eight standard patient orientations (flip/transpose, exact), oblique grids refused;
* single- and multi-frame, little- and big-endian, RLE and (with pylibjpeg/gdcm) JPEG transfer
  syntaxes, via pydicom's pixel handlers.
"""

from __future__ import annotations

import logging
import warnings as warnings_module
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, DicomContentError, UnsupportedDataError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.dicom_file import (
    RT_DOSE,
    as_int,
    expect_sop_class,
    float_vector,
    one_line,
    optional_float,
    read_dicom,
    require,
    required_int,
    tag_label,
    text,
)
from dosimetry.io.orientation import CanonicalLayout, axis_map, canonical_layout, orientation_name
from dosimetry.plan import Plan

LOGGER = logging.getLogger(__name__)

#: Tolerance (mm) for recognising an absolute GridFrameOffsetVector (first element == IPP z).
ABSOLUTE_OFFSET_TOLERANCE_MM = 0.01

_PER_SESSION = {DoseSummationType.FRACTION, DoseSummationType.FRACTION_SESSION, DoseSummationType.BEAM_SESSION}


@dataclass(frozen=True, eq=False)
class DoseHeader:
    """Everything about an RT Dose file except its voxel values (read without Pixel Data)."""

    path: Path
    sop_instance_uid: str
    frame_of_reference_uid: str
    dose_units: str
    dose_type: DoseType
    summation_type: DoseSummationType
    dose_grid_scaling: float  # DoseGridScaling: Gy per stored integer (relative units per integer when RELATIVE)
    referenced_plan_uid: str | None
    referenced_fraction_group_number: int | None
    referenced_beam_number: int | None
    layout: CanonicalLayout
    number_of_frames: int
    orientation: str  # standard position name, "" for another axis-aligned orientation
    offsets_interpretation: str  # "relative", "absolute" or "single frame"
    transfer_syntax_uid: str
    description: str
    warnings: tuple[str, ...]

    @property
    def grid(self) -> RectilinearGrid:
        return self.layout.grid


def _number_of_frames(ds: Dataset, path: Path) -> int:
    if "NumberOfFrames" not in ds:
        return 1
    raw = ds.get_item("NumberOfFrames")
    value = raw.value if raw is not None else None
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", errors="replace")
    if value is None or str(value).strip() == "":
        raise DicomContentError(f"{path}: {tag_label('NumberOfFrames')} is empty, expected a positive integer")
    n = as_int(str(value).strip(), "NumberOfFrames", path)
    if n < 1:
        raise DicomContentError(f"{path}: {tag_label('NumberOfFrames')} is {n}, expected a positive integer")
    return n


_E = TypeVar("_E", DoseType, DoseSummationType)


def _enum(value: str, enum_type: type[_E], keyword: str, path: Path) -> _E:
    try:
        return enum_type(value.upper())
    except ValueError:
        allowed = ", ".join(m.value for m in enum_type)
        raise UnsupportedDataError(f"{path}: {tag_label(keyword)} is {value!r}, expected one of {allowed}") from None


def _referenced_plan(ds: Dataset, path: Path) -> tuple[str | None, int | None, int | None]:
    seq = ds.get("ReferencedRTPlanSequence")
    if not seq:
        return None, None, None
    item = seq[0]
    plan_uid = text(item, "ReferencedSOPInstanceUID") or None
    group_number: int | None = None
    beam_number: int | None = None
    groups = item.get("ReferencedFractionGroupSequence")
    if groups:
        group = groups[0]
        if group.get("ReferencedFractionGroupNumber") not in (None, ""):
            group_number = as_int(group.ReferencedFractionGroupNumber, "ReferencedFractionGroupNumber", path)
        beams = group.get("ReferencedBeamSequence")
        if beams and beams[0].get("ReferencedBeamNumber") not in (None, ""):
            beam_number = as_int(beams[0].ReferencedBeamNumber, "ReferencedBeamNumber", path)
    return plan_uid, group_number, beam_number


def _frame_positions(ds: Dataset, path: Path, n_frames: int, ipp: list[float], frame_axis: int, frame_sign: int) -> tuple[npt.NDArray[np.float64], str]:
    if "GridFrameOffsetVector" not in ds or ds.GridFrameOffsetVector in (None, ""):
        if n_frames > 1:
            raise DicomContentError(
                f"{path}: {tag_label('GridFrameOffsetVector')} is missing; it is required for a dose with {n_frames} frames"
            )
        return np.array([ipp[frame_axis]]), "single frame"
    offsets = np.array(float_vector(ds, "GridFrameOffsetVector", path), dtype=np.float64)
    if n_frames == 1 and offsets.size > 1:
        # seen in exports cut down to one frame: the offset vector of the full grid is left behind;
        # its first element must still be 0 (relative) or the IPP z (absolute), as for several frames
        if offsets[0] == 0.0:
            return np.array([ipp[frame_axis]]), "single frame (extra offsets ignored)"
        if frame_axis == 2 and abs(offsets[0] - ipp[2]) <= ABSOLUTE_OFFSET_TOLERANCE_MM:
            return np.array([offsets[0]]), "single frame (extra offsets ignored)"
        raise DicomContentError(
            f"{path}: {tag_label('GridFrameOffsetVector')} starts at {offsets[0]:g}; expected 0 (relative offsets) "
            f"or the ImagePositionPatient z {ipp[2]:g} (absolute z, transverse grids only)"
        )
    if offsets.size != n_frames:
        raise DicomContentError(
            f"{path}: {tag_label('GridFrameOffsetVector')} has {offsets.size} values, expected one per frame "
            f"({tag_label('NumberOfFrames')} = {n_frames})"
        )
    if offsets[0] == 0.0:
        return ipp[frame_axis] + frame_sign * offsets, "relative"
    if frame_axis == 2 and abs(offsets[0] - ipp[2]) <= ABSOLUTE_OFFSET_TOLERANCE_MM:
        return offsets.copy(), "absolute"
    raise DicomContentError(
        f"{path}: {tag_label('GridFrameOffsetVector')} starts at {offsets[0]:g}; expected 0 (relative offsets) "
        f"or the ImagePositionPatient z {ipp[2]:g} (absolute z, transverse grids only)"
    )


def read_dose_header(path: str | Path, ds: Dataset | None = None) -> DoseHeader:
    """Parse and validate an RT Dose's geometry and dose attributes without decoding its pixels."""
    p = Path(path)
    if ds is None:
        ds = read_dicom(p, stop_before_pixels=True)
    expect_sop_class(ds, p, [RT_DOSE])
    warnings: list[str] = []
    frame_uid = str(require(ds, "FrameOfReferenceUID", p))
    units = str(require(ds, "DoseUnits", p)).strip().upper()
    dose_type = _enum(str(require(ds, "DoseType", p)).strip(), DoseType, "DoseType", p)
    summation = _enum(str(require(ds, "DoseSummationType", p)).strip(), DoseSummationType, "DoseSummationType", p)
    if units not in ("GY", "RELATIVE"):
        raise UnsupportedDataError(f"{p}: {tag_label('DoseUnits')} is {units!r}, expected GY (or RELATIVE with a normalisation)")
    scaling = optional_float(ds, "DoseGridScaling", p)
    if scaling is None:
        raise DicomContentError(f"{p}: required tag {tag_label('DoseGridScaling')} is missing; the stored integers cannot be converted to dose")
    if not scaling > 0:
        raise DicomContentError(f"{p}: {tag_label('DoseGridScaling')} is {scaling:g}, expected a positive number")
    n_frames = _number_of_frames(ds, p)
    rows = required_int(ds, "Rows", p)
    columns = required_int(ds, "Columns", p)
    iop = float_vector(ds, "ImageOrientationPatient", p, 6)
    ipp = float_vector(ds, "ImagePositionPatient", p, 3)
    spacing = float_vector(ds, "PixelSpacing", p, 2)
    amap = axis_map(iop, p)
    positions, interpretation = _frame_positions(ds, p, n_frames, ipp, amap.frame_axis, amap.frame_sign)
    thickness: float | None = None
    if n_frames == 1:
        thickness = optional_float(ds, "SliceThickness", p)
        if (thickness is None or thickness <= 0) and interpretation.startswith("single frame (extra"):
            offsets = float_vector(ds, "GridFrameOffsetVector", p)
            thickness = abs(offsets[1] - offsets[0])
            warnings.append(
                f"{p.name}: single frame without {tag_label('SliceThickness')}; its {tag_label('GridFrameOffsetVector')} "
                f"lists {len(offsets)} planes, the first {thickness:g} mm step is used as the plane thickness"
            )
        elif interpretation.startswith("single frame (extra"):
            warnings.append(
                f"{p.name}: single frame but {tag_label('GridFrameOffsetVector')} lists more planes; only the first applies"
            )
        if thickness is None or thickness <= 0:
            raise DicomContentError(
                f"{p}: single-frame dose needs a positive {tag_label('SliceThickness')} to give its plane a thickness, got {thickness}"
            )
    layout = canonical_layout(
        (n_frames, rows, columns),
        position_mm=ipp,
        pixel_spacing_mm=spacing,
        frame_positions_mm=positions,
        amap=amap,
        path=p,
        single_slice_thickness_mm=thickness,
    )
    if not layout.grid.z_is_uniform:
        warnings.append(f"{p.name}: dose planes are unevenly spaced (z steps {np.unique(np.round(np.diff(layout.grid.z_mm), 3)).tolist()} mm); handled exactly")
    plan_uid, group_number, beam_number = _referenced_plan(ds, p)
    if plan_uid is None:
        warnings.append(f"{p.name}: no {tag_label('ReferencedRTPlanSequence')}; the dose is not linked to a plan")
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    description = " ".join(s for s in (text(ds, "SeriesDescription"), text(ds, "DoseComment")) if s)
    return DoseHeader(
        path=p,
        sop_instance_uid=text(ds, "SOPInstanceUID"),
        frame_of_reference_uid=frame_uid,
        dose_units=units,
        dose_type=dose_type,
        summation_type=summation,
        dose_grid_scaling=scaling,
        referenced_plan_uid=plan_uid,
        referenced_fraction_group_number=group_number,
        referenced_beam_number=beam_number,
        layout=layout,
        number_of_frames=n_frames,
        orientation=orientation_name(iop),
        offsets_interpretation=interpretation,
        transfer_syntax_uid=ts,
        description=description,
        warnings=tuple(warnings),
    )


def _pixels(ds: Dataset, path: Path, shape_frc: tuple[int, int, int], scaling: float) -> npt.NDArray[np.float64]:
    """The stored values times ``scaling`` as a new float64 (frame, row, column) array.

    pydicom decodes with ``view_only``: for an uncompressed transfer syntax its array is a read-only
    view of the PixelData bytes, and the one float64 array is made from it by one multiplication
    (the same numbers as converting to float64, then scaling). Measured on the clinical-size case
    (benchmarks/clinical_scale.py, 10.5 M voxels, issue 20): the decoded copy, the float64 copy
    and the scaled copy were three fresh arrays of 42-84 MB, 0.2-0.5 s of first-touch page faults."""
    if "PixelData" not in ds:
        raise DicomContentError(f"{path}: required tag {tag_label('PixelData')} is missing")
    try:
        with warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore")
            ds.pixel_array_options(view_only=True)
            array = ds.pixel_array
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, TypeError, KeyError, IndexError) as exc:
        ts = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
        name = getattr(ts, "name", str(ts))
        raise UnsupportedDataError(
            f"{path}: cannot decode {tag_label('PixelData')} (transfer syntax {name}): {one_line(exc)}"
        ) from None
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.shape != shape_frc:
        raise DicomContentError(
            f"{path}: {tag_label('PixelData')} decodes to shape {array.shape}, expected (NumberOfFrames, Rows, Columns) = {shape_frc}"
        )
    return np.multiply(array, scaling, dtype=np.float64)


def load_dose(path: str | Path, *, fractions: int | None = None, normalisation_gy: float | None = None) -> DoseGrid:
    """Read an RT Dose file into a DoseGrid in Gy on the canonical grid.

    ``fractions``: multiply a per-session dose (DoseSummationType FRACTION, FRACTION_SESSION,
    BEAM_SESSION) by this number of fractions; refused for PLAN and BEAM doses, which are totals.
    ``normalisation_gy``: for DoseUnits RELATIVE, the dose in Gy of a stored relative value of 1.
    """
    p = Path(path)
    if fractions is not None and (isinstance(fractions, bool) or not isinstance(fractions, int) or fractions < 1):
        raise ArgumentError(f"fractions must be a positive integer, got {fractions!r}")
    if normalisation_gy is not None and (
        isinstance(normalisation_gy, bool)
        or not isinstance(normalisation_gy, (int, float, np.floating, np.integer))
        or not (normalisation_gy > 0 and np.isfinite(normalisation_gy))
    ):
        raise ArgumentError(f"normalisation_gy must be a positive number of Gy, got {normalisation_gy!r}")
    ds = read_dicom(p)
    header = read_dose_header(p, ds)
    warnings = list(header.warnings)
    dose = _pixels(ds, p, (header.number_of_frames, ds.Rows, ds.Columns), header.dose_grid_scaling)
    description = header.description
    if header.dose_units == "RELATIVE":
        if normalisation_gy is None:
            raise UnsupportedDataError(
                f"{p}: {tag_label('DoseUnits')} is RELATIVE; give normalisation_gy (the dose in Gy of a stored relative "
                "value of 1; on the command line --normalisation-gy GY of dvh, indices and bed), or re-export the dose "
                "in Gy (DoseUnits GY) from the planning system"
            )
        dose *= normalisation_gy  # in place: the same numbers as dose * normalisation_gy
        warnings.append(f"{p.name}: RELATIVE dose converted to Gy with normalisation {normalisation_gy:g} Gy per unit")
    elif normalisation_gy is not None:
        raise ArgumentError(f"normalisation_gy given but {p} has {tag_label('DoseUnits')} GY; it applies to RELATIVE doses only")
    summation = header.summation_type
    if summation in _PER_SESSION:
        if fractions is None:
            warnings.append(
                f"{p.name}: {tag_label('DoseSummationType')} {summation.value}: values kept as stored "
                f"(possibly the dose of a single fraction); not scaled to the course; give fractions= to scale"
            )
            description = (description + " " if description else "") + f"[{summation.value} dose, not scaled by fractions]"
        else:
            dose *= fractions  # in place: the same numbers as dose * fractions
            description = (description + " " if description else "") + f"[{summation.value} dose x {fractions} fractions]"
            summation = DoseSummationType.BEAM if summation is DoseSummationType.BEAM_SESSION else DoseSummationType.PLAN
    elif fractions is not None:
        raise ArgumentError(
            f"fractions={fractions} given but {p} has {tag_label('DoseSummationType')} {summation.value}, "
            "which is already a total over the course; scaling it again would be wrong"
        )
    if summation is DoseSummationType.BEAM and header.referenced_beam_number is not None:
        description = (description + " " if description else "") + f"[beam {header.referenced_beam_number}]"
    if header.dose_type is not DoseType.ERROR and float(dose.min()) < 0:
        warnings.append(f"{p.name}: negative dose values (min {float(dose.min()):.4g} Gy) in a {header.dose_type.value} dose")
    dose_gy = header.layout.apply(dose)
    if dose_gy.base is not None:  # a C-contiguous view of ``dose``: the layout only relabels axes
        same_elements = dose_gy.shape == dose.shape and dose_gy.ctypes.data == dose.ctypes.data
        dose_gy = dose if same_elements else dose_gy.copy()
    dose_gy.flags.writeable = False  # handed over (nothing else holds it): DoseGrid keeps it, no copy
    return DoseGrid(
        grid=header.grid,
        dose_gy=dose_gy,
        dose_type=header.dose_type,
        summation_type=summation,
        frame_of_reference_uid=header.frame_of_reference_uid,
        sop_instance_uid=header.sop_instance_uid,
        referenced_plan_uid=header.referenced_plan_uid,
        referenced_beam_number=header.referenced_beam_number,
        description=description,
        source_path=p,
        warnings=tuple(warnings),
    )


def resample_dose(dose: DoseGrid, grid: RectilinearGrid) -> tuple[npt.NDArray[np.float64], float]:
    """Trilinear resampling of ``dose`` onto ``grid`` centres; returns (values, fraction outside).

    Points outside ``dose``'s voxel centres get 0 Gy (outside the calculated volume); the
    fraction of such points is returned so callers can report it.
    """
    from scipy.interpolate import RegularGridInterpolator  # 0.4 s of import: only where resampling is needed

    interp = RegularGridInterpolator(
        (dose.grid.z_mm, dose.grid.y_mm, dose.grid.x_mm), dose.dose_gy, method="linear", bounds_error=False, fill_value=np.nan
    ) if min(dose.grid.shape_zyx) > 1 else None
    zz, yy, xx = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    pts = np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1)
    if interp is None:
        raise UnsupportedDataError("cannot resample a dose grid with a single plane along an axis; give coincident grids")
    values = interp(pts).reshape(grid.shape_zyx)
    outside = ~np.isfinite(values)
    values[outside] = 0.0
    return values, float(outside.mean())


def load_beam_doses(paths: Sequence[str | Path], plan: Plan, *, fractions: int | None = None) -> DoseGrid:
    """Sum the per-beam RT Doses (DoseSummationType BEAM) of ``plan`` into one PLAN dose.

    Every beam of the plan's fraction group must be present exactly once, every file must
    reference ``plan``; grids that do not coincide with the first beam's grid are resampled onto
    it (trilinear, a warning says so). A partial set is refused.
    """
    if not paths:
        raise ArgumentError("load_beam_doses needs at least one RT Dose path")
    doses = [load_dose(p, fractions=fractions) for p in paths]
    by_beam: dict[int, DoseGrid] = {}
    for d in doses:
        if d.summation_type is not DoseSummationType.BEAM:
            raise ConsistencyError(f"{d.source_path}: {tag_label('DoseSummationType')} is {d.summation_type.value}, expected BEAM")
        if d.referenced_plan_uid != plan.sop_instance_uid:
            raise ConsistencyError(
                f"{d.source_path}: {tag_label('ReferencedSOPInstanceUID')} of the referenced plan is {d.referenced_plan_uid}, "
                f"expected plan {plan.sop_instance_uid} ({plan.source_path})"
            )
        if d.referenced_beam_number is None:
            raise ConsistencyError(f"{d.source_path}: BEAM dose without {tag_label('ReferencedBeamNumber')}")
        if d.referenced_beam_number in by_beam:
            raise ConsistencyError(
                f"{d.source_path}: beam {d.referenced_beam_number} already given by {by_beam[d.referenced_beam_number].source_path}"
            )
        by_beam[d.referenced_beam_number] = d
    expected = {b.number for g in plan.fraction_groups for b in g.beams}
    if not expected:
        raise ConsistencyError(f"{plan.source_path}: plan references no beams in {tag_label('FractionGroupSequence')}")
    missing = sorted(expected - set(by_beam))
    extra = sorted(set(by_beam) - expected)
    if missing or extra:
        raise ConsistencyError(
            f"beam doses do not match plan {plan.label or plan.sop_instance_uid}: "
            + (f"missing beams {missing}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"beams not in the plan {extra}" if extra else "")
            + " (a partial set of beam doses cannot be summed)"
        )
    first = doses[0]
    types = {d.dose_type for d in doses}
    if len(types) > 1:
        raise ConsistencyError(f"beam doses mix dose types {sorted(t.value for t in types)}")
    frames = {d.frame_of_reference_uid for d in doses}
    if len(frames) > 1:
        raise ConsistencyError(f"beam doses are in different frames of reference {sorted(frames)}")
    total = np.zeros(first.grid.shape_zyx)
    warnings: list[str] = []
    for d in doses:
        if d.grid.same_as(first.grid):
            total += d.dose_gy
        else:
            values, outside = resample_dose(d, first.grid)
            total += values
            warnings.append(
                f"{d.source_path.name if d.source_path else 'beam'}: grid differs from the first beam's; resampled trilinearly"
                + (f", {outside:.1%} of the target voxels lie outside its grid and receive 0 Gy from it" if outside > 0 else "")
            )
        warnings.extend(d.warnings)
    return DoseGrid(
        grid=first.grid,
        dose_gy=total,
        dose_type=first.dose_type,
        summation_type=DoseSummationType.PLAN,
        frame_of_reference_uid=first.frame_of_reference_uid,
        sop_instance_uid="",
        referenced_plan_uid=plan.sop_instance_uid,
        referenced_beam_number=None,
        description=f"sum of {len(doses)} beam doses of plan {plan.label or plan.sop_instance_uid}",
        source_path=None,
        warnings=tuple(warnings),
    )


#: Allowed difference between a PLAN dose and the sum of its plan's BEAM doses, as a fraction of
#: the PLAN dose maximum (1 %, the usual tolerance of a dose-summation check), on top of the
#: storage quantisation (half of each file's DoseGridScaling, summed over the files).
BEAM_SUM_TOLERANCE_FRACTION = 0.01


@dataclass(frozen=True)
class BeamSumCheck:
    """How far the sum of a plan's BEAM doses is from its PLAN dose (on the PLAN dose grid)."""

    n_beam_doses: int
    max_difference_gy: float  # largest |sum of BEAM doses - PLAN dose|
    position_mm: tuple[float, float, float]  # LPS x, y, z of the voxel where it occurs
    plan_dose_gy: float  # the PLAN dose there
    tolerance_gy: float
    resampled: bool  # the BEAM grid differed from the PLAN grid and was resampled trilinearly

    @property
    def within_tolerance(self) -> bool:
        return self.max_difference_gy <= self.tolerance_gy

    def describe(self, plan_dose_name: str) -> str:
        x, y, z = self.position_mm
        verdict = "within" if self.within_tolerance else "BEYOND"
        return (
            f"the {self.n_beam_doses} BEAM doses sum to the PLAN dose {plan_dose_name} {verdict} the tolerance of "
            f"{self.tolerance_gy:.3g} Gy (1 % of its maximum plus storage rounding): largest difference "
            f"{self.max_difference_gy:.3g} Gy at x {x:.1f}, y {y:.1f}, z {z:.1f} mm (LPS), where the PLAN dose is "
            f"{self.plan_dose_gy:.3g} Gy" + ("; BEAM grid resampled onto the PLAN grid" if self.resampled else "")
        )


def check_beam_sum(plan_dose: DoseGrid, beam_sum: DoseGrid, scalings: Sequence[float]) -> BeamSumCheck:
    """Compare ``beam_sum`` (from :func:`load_beam_doses`) with ``plan_dose`` voxel by voxel;
    ``scalings``: the DoseGridScaling of every file involved (storage rounding, in Gy)."""
    resampled = not beam_sum.grid.same_as(plan_dose.grid)
    if resampled:
        values, _ = resample_dose(beam_sum, plan_dose.grid)
    else:
        values = beam_sum.dose_gy
    difference = np.abs(values - plan_dose.dose_gy)
    iz, iy, ix = np.unravel_index(int(np.argmax(difference)), difference.shape)
    grid = plan_dose.grid
    tolerance = BEAM_SUM_TOLERANCE_FRACTION * float(plan_dose.dose_gy.max()) + 0.5 * float(sum(scalings))
    return BeamSumCheck(
        n_beam_doses=len(scalings) - 1,
        max_difference_gy=float(difference[iz, iy, ix]),
        position_mm=(float(grid.x_mm[ix]), float(grid.y_mm[iy]), float(grid.z_mm[iz])),
        plan_dose_gy=float(plan_dose.dose_gy[iz, iy, ix]),
        tolerance_gy=tolerance,
        resampled=resampled,
    )


__all__ = ["BeamSumCheck", "DoseHeader", "check_beam_sum", "load_beam_doses", "load_dose", "read_dose_header", "resample_dose"]
