"""Issue 20: maps computed on demand and sampling tables shared between steps change no number.

The patient is the synthetic two-course patient of tests/test_constraints_check_cli.py (small grid).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np

import dosimetry
from dosimetry.dvh import _steep, _trilinear, _voxel_stats, compute_dvh
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.indices import target_indices
from dosimetry.patient.reirradiation_limits import reirradiation_limit_checks
from dosimetry.patient.reirradiation_type import classify_reirradiation
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import CourseDose, accumulate, lq_map
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)


def _cached(dose: object) -> bool:
    # the per-grid tables release_grid_caches drops (after perf-dvh: largest dose, axis steps, steep sub-samples)
    return dose in _voxel_stats._MAX_ABS_GY or dose in _trilinear._AXIS_STEPS or dose in _steep._STEEP_SAMPLES


def test_lazy_maps_equal_the_direct_calls(patient: Path) -> None:  # noqa: F811
    """Oracle: lq_map and accumulate called directly on the loaded courses (what the maps held
    before issue 20). Every LQ and cumulative map equals them exactly, and none is held between uses."""
    maps = dosimetry.load_patient(patient).patient_maps
    assert maps.prior is not None and maps.aligned is not None
    for key in maps.lq:
        quantity = DoseQuantity.BED if key.startswith("BED") else DoseQuantity.EQD2
        ab = float(key.removeprefix("BED").removeprefix("EQD2_"))
        direct = lq_map(maps.current.dose, quantity=quantity, alpha_beta_gy=ab, plan=maps.current.plan)
        assert np.array_equal(maps.lq[key].dose.dose_gy, direct.dose.dose_gy), key
        assert maps.lq[key].description == direct.description
    for key, quantity in ((maps.eqd2_late_cumulative_key, DoseQuantity.EQD2), (maps.bed_late_cumulative_key, DoseQuantity.BED)):
        direct_cum = accumulate(
            CourseDose(maps.current.dose, maps.current.plan), CourseDose(maps.aligned.dose, maps.prior.plan),
            alpha_beta_gy=maps.alpha_beta_late_gy, residual=0.3, quantity=quantity, warnings=maps.aligned.warnings,
            recovery=maps.recovery_assignment,
        )
        assert np.array_equal(maps.cumulative[key].dose.dose_gy, direct_cum.dose.dose_gy), key
    # while a caller holds a map's grid, asking again gives the same grid (DVH tables are keyed on it)
    held = maps.lq["EQD2_2"].dose
    assert maps.lq["EQD2_2"].dose is held
    del held
    gc.collect()
    # nobody holds it now: a new grid, same values
    assert np.array_equal(maps.lq["EQD2_2"].dose.dose_gy, maps.lq["EQD2_2"].dose.dose_gy)


def test_grid_tables_one_map_at_a_time(patient: Path) -> None:  # noqa: F811
    """Oracle: the DVH engine's own per-grid caches, inspected. Sampling a second map releases the
    first one's tables; the outermost session releases the last; the DVH is the same either way."""
    maps = dosimetry.load_patient(patient).patient_maps
    roi = next(r for r in maps.structure_set.rois if r.name == "OpticChiasm")
    first, second = maps.current.dose, maps.cumulative[maps.eqd2_late_cumulative_key].dose
    tables = GridTables()
    with tables.session():
        with tables.session():
            a = compute_dvh(tables.use(first), roi)
        assert _cached(first)  # an inner session keeps them for the next step
        b = compute_dvh(tables.use(second), roi)
        assert not _cached(first) and _cached(second)
    assert not _cached(second)
    assert np.array_equal(a.cumulative_cc, compute_dvh(first, roi).cumulative_cc)
    assert np.array_equal(b.cumulative_cc, compute_dvh(second, roi).cumulative_cc)


def test_reused_curves_give_the_same_classification_and_limits(patient: Path) -> None:  # noqa: F811
    """Oracle: the same steps without the DVH stage's curves and without shared tables (every map
    sampled again, as before issue 20); the facade's results equal them exactly."""
    plan = dosimetry.load_patient(patient)
    document = plan.results().to_dict()
    fresh = dosimetry.load_patient(patient)
    maps, rois = fresh.patient_maps, tuple(fresh.dvhs().rois)
    kind, _ = classify_reirradiation(maps, rois)
    assert kind is not None
    assert document["recovery"]["reirradiation_type"] == kind.to_dict()
    rows, _ = reirradiation_limit_checks(maps, rois, bin_width_gy=plan.dvh_bin_width_gy)
    shipped = [r for r in document["constraints"]["rows"] if r["source"] == "reirradiation"]
    assert shipped
    assert [(r["roi"], r["value"], r["status"]) for r in shipped] == [(r.roi, r.value, r.status) for r in rows]
    assert kind.organs  # organs were compared
    # no sampling tables are left held after results()
    gc.collect()
    assert not _cached(plan.patient_maps.current.dose)


def test_indices_inside_the_dvh_stage_equal_the_separate_step(patient: Path) -> None:  # noqa: F811
    """Oracle: target_indices run as its own step after the DVHs (before issue 20), on a second
    load of the patient; results() computes them inside the DVH stage: the same records."""
    combined = dosimetry.load_patient(patient)
    document = combined.results().to_dict()
    separate = dosimetry.load_patient(patient)
    alone = target_indices(separate.patient_maps, separate.dvhs())
    assert alone.results
    assert [r.to_dict() for r in combined.indices().results] == [r.to_dict() for r in alone.results]
    assert combined.indices().warnings == alone.warnings
    assert len(document["indices"]) == len(alone.results)


def test_check_before_dvhs_releases_the_tables_it_built(patient: Path) -> None:  # noqa: F811
    """check() on a fresh patient samples the ROIs the checks need itself; afterwards no map it
    sampled keeps its tables, and the report equals the one that reuses the DVH stage's curves.
    Oracle: the per-grid caches themselves (release_grid_caches's list) and a second Patient whose
    dvhs() ran first (a second path to the same DVHs)."""
    plan = dosimetry.load_patient(patient)
    maps = plan.patient_maps
    sampled = [make() for make in maps.constraint_maps().values()]
    report = plan.check()
    gc.collect()
    assert not any(_cached(dose) for dose in sampled)
    assert not _cached(maps.current.dose)
    reused = dosimetry.load_patient(patient)
    reused.dvhs()
    assert reused.check().to_dict()["organs"] == report.to_dict()["organs"]


def test_warnings_of_equal_each_maps_own_warnings(patient: Path) -> None:  # noqa: F811
    """Oracle: lq_map and accumulate called directly for every key (each map's own ``warnings``, what
    build_patient_maps collected before warnings_of). warnings_of gives the same tuple for every key,
    and for an alpha/beta lq_map refuses it raises the error lq_map raises."""
    import pytest

    from dosimetry.errors import RadiobiologyError
    from dosimetry.patient.maps import CumulativeMapSet, LqMapSet

    maps = dosimetry.load_patient(patient).patient_maps
    assert maps.prior is not None and maps.aligned is not None
    fresh = LqMapSet(maps.current.dose, maps.current.plan, ((DoseQuantity.BED, 2.0), (DoseQuantity.EQD2, 9.0)))
    for key in fresh:
        quantity = DoseQuantity.BED if key.startswith("BED") else DoseQuantity.EQD2
        ab = float(key.removeprefix("BED").removeprefix("EQD2_"))
        assert fresh.warnings_of(key) == lq_map(maps.current.dose, quantity=quantity, alpha_beta_gy=ab, plan=maps.current.plan).warnings
    options: dict[str, Any] = dict(alpha_beta_gy=maps.alpha_beta_late_gy, residual=0.3, warnings=maps.aligned.warnings, recovery=maps.recovery_assignment)
    courses = (CourseDose(maps.current.dose, maps.current.plan), CourseDose(maps.aligned.dose, maps.prior.plan))
    specs = {maps.eqd2_late_cumulative_key: DoseQuantity.EQD2, maps.bed_late_cumulative_key: DoseQuantity.BED}
    cumulative = CumulativeMapSet(*courses, specs, **options)
    for key, quantity in specs.items():
        assert cumulative.warnings_of(key) == accumulate(*courses, quantity=quantity, **options).warnings
    with pytest.raises(KeyError):
        cumulative.warnings_of("EQD2_9_cumulative")
    refused = LqMapSet(maps.current.dose, maps.current.plan, ((DoseQuantity.EQD2, 2.0), (DoseQuantity.EQD2, float("inf"))))
    refused.warnings_of("EQD2_2")
    with pytest.raises(RadiobiologyError) as direct:
        lq_map(maps.current.dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=float("inf"), plan=maps.current.plan)
    with pytest.raises(RadiobiologyError) as ours:
        refused.warnings_of("EQD2_inf")
    assert str(ours.value) == str(direct.value)
