"""Reading the planning system's DVHs from an RT Dose DVH Sequence (dosimetry.io.dvh_sequence).

Oracle: an analytic DVH written into generated DVH Sequence items in every encoding the standard
(and common vendors) use -- cumulative or differential, GY or CGY with a DVHDoseScaling, CM3 or
PERCENT -- where a uniform dose distribution between 0 and 10 Gy over 5 cc has V(>= D) =
5 (1 - D / 10) cc, mean 5 Gy, median 5 Gy. The reader must give that curve back, whatever the
encoding.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dosimetry.dvh import evaluate_metric
from dosimetry.io.dvh_sequence import DvhVolumeUnits, read_dvh_sequence

TOTAL_CC, TOP_GY, N_BINS = 5.0, 10.0, 100


def item(
    roi: int, *, dvh_type: str = "CUMULATIVE", dose_units: str = "GY", volume_units: str = "CM3",
    scaling: float = 1.0, stats: bool = True,
) -> Dataset:
    width_gy = TOP_GY / N_BINS
    lower = np.arange(N_BINS) * width_gy
    if dvh_type == "CUMULATIVE":
        volumes = TOTAL_CC * (1 - lower / TOP_GY)
    else:
        volumes = np.full(N_BINS, TOTAL_CC / N_BINS)
    if volume_units == "PERCENT":
        volumes = volumes / TOTAL_CC * 100
    to_units = 100.0 if dose_units == "CGY" else 1.0
    widths = np.full(N_BINS, width_gy * to_units / scaling)
    ds = Dataset()
    ref = Dataset()
    ref.ReferencedROINumber = roi
    ref.DVHROIContributionType = "INCLUDED"
    ds.DVHReferencedROISequence = Sequence([ref])
    ds.DVHType = dvh_type
    ds.DoseUnits = dose_units
    ds.DoseType = "PHYSICAL"
    ds.DVHDoseScaling = scaling
    ds.DVHVolumeUnits = volume_units
    ds.DVHNumberOfBins = N_BINS
    ds.DVHData = [float(v) for pair in zip(widths, volumes, strict=True) for v in pair]
    if stats:
        ds.DVHMinimumDose = 0.0
        ds.DVHMaximumDose = TOP_GY * to_units
        ds.DVHMeanDose = 0.5 * TOP_GY * to_units
    return ds


def rtdose(*items: Dataset) -> Dataset:
    ds = Dataset()
    ds.DVHSequence = Sequence(list(items))
    return ds


@pytest.mark.parametrize("dvh_type", ["CUMULATIVE", "DIFFERENTIAL"])
@pytest.mark.parametrize(("dose_units", "scaling"), [("GY", 1.0), ("CGY", 1.0), ("CGY", 0.5)])
@pytest.mark.parametrize("volume_units", ["CM3", "PERCENT"])
def test_every_encoding_gives_the_analytic_dvh(dvh_type: str, dose_units: str, scaling: float, volume_units: str) -> None:
    """Oracle: V(>= D) = 5 (1 - D/10) cc (module docstring); D50% = 5 Gy, D95% = 0.5 Gy."""
    read = read_dvh_sequence(rtdose(item(7, dvh_type=dvh_type, dose_units=dose_units, volume_units=volume_units, scaling=scaling)))
    assert read.warnings == ()
    (tps,) = read.dvhs
    assert tps.roi_number == 7 and tps.dvh_type == dvh_type and tps.volume_units is DvhVolumeUnits(volume_units)
    scale = TOTAL_CC if volume_units == "CM3" else 100.0
    assert tps.dvh.volume_cc == pytest.approx(scale)
    assert tps.volume_cc == (pytest.approx(TOTAL_CC) if volume_units == "CM3" else None)
    for d in (0.0, 2.5, 7.3, 10.0):
        assert tps.dvh.volume_at_dose_cc(d) == pytest.approx(scale * (1 - d / TOP_GY), abs=1e-9)
    assert tps.mean_gy == pytest.approx(5.0) and tps.max_gy == pytest.approx(10.0) and tps.min_gy == pytest.approx(0.0)
    assert evaluate_metric(tps.dvh, "D50%[Gy]") == pytest.approx(5.0, abs=1e-6)
    assert evaluate_metric(tps.dvh, "D95%[Gy]") == pytest.approx(0.5, abs=1e-6)


def test_without_statistics_the_curve_gives_them_and_says_so() -> None:
    """Oracle: the analytic mean 5 Gy and maximum 10 Gy of the uniform distribution."""
    (tps,) = read_dvh_sequence(rtdose(item(3, stats=False))).dvhs
    assert tps.mean_gy is None and tps.max_gy is None
    assert tps.dvh.mean_gy == pytest.approx(5.0, abs=1e-9)
    assert tps.dvh.max_gy == pytest.approx(10.0)
    assert any("no DVHMeanDose" in w for w in tps.dvh.warnings)


def test_malformed_item_is_a_warning_naming_it() -> None:
    """Oracle: the standard's DVHData layout (2 x DVHNumberOfBins values): an item whose data
    disagrees is skipped with a warning naming item 2 and its ROI; items 1 and 3 are read."""
    bad = item(8)
    bad.DVHNumberOfBins = N_BINS + 1
    no_units = item(9)
    no_units.DoseUnits = "RELATIVE"
    read = read_dvh_sequence(rtdose(item(7), bad, item(10), no_units))
    assert [d.roi_number for d in read.dvhs] == [7, 10]
    assert len(read.warnings) == 2
    assert "item 2 (ROI 8)" in read.warnings[0] and "DVHNumberOfBins" in read.warnings[0]
    assert "item 4 (ROI 9)" in read.warnings[1] and "RELATIVE" in read.warnings[1]


def test_no_dvh_sequence_is_not_an_error() -> None:
    """Oracle: the RT DVH module is optional in an RT Dose (most files carry none)."""
    read = read_dvh_sequence(Dataset())
    assert read.dvhs == () and read.warnings == ()


def test_unequal_bins_are_resampled_exactly_at_the_original_edges() -> None:
    """Oracle: the analytic curve at the original (unequal) bin edges."""
    ds = item(4)
    widths = np.array([0.5, 1.5] * 5)
    lower = np.concatenate([[0.0], np.cumsum(widths)[:-1]])
    volumes = TOTAL_CC * (1 - lower / TOP_GY)
    ds.DVHNumberOfBins = widths.size
    ds.DVHData = [float(v) for pair in zip(widths, volumes, strict=True) for v in pair]
    (tps,) = read_dvh_sequence(rtdose(ds)).dvhs
    for d in np.cumsum(widths):
        assert tps.dvh.volume_at_dose_cc(float(d)) == pytest.approx(TOTAL_CC * (1 - d / TOP_GY), abs=1e-9)


def test_two_items_for_one_roi_is_a_warning_naming_both() -> None:
    """Oracle: the standard lets DVH Sequence items repeat an ROI (e.g. one per dose type); the
    comparison uses one (the first), so the other must not be dropped silently."""
    second = item(7, scaling=0.5, dose_units="CGY")
    read = read_dvh_sequence(rtdose(item(7), item(8), second))
    assert [d.item for d in read.dvhs] == [1, 2, 3]
    assert read.for_roi(7) is read.dvhs[0]
    (warning,) = read.warnings
    assert "items 1 and 3" in warning and "ROI 7" in warning
