"""A course keeps the CT series discovery assembled (the report draws on it instead of reading every
CT header again) only when it is what ``load_ct_series`` of the folder gives.

Oracle: :func:`dosimetry.io.load_ct_series` reading the folder itself (a second reading path), on
the bundled sample patient's current course and on copies with an extra file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom

from dosimetry.io import load_ct_series
from dosimetry.radiobiology.course import load_course

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"


def test_discovered_series_equals_load_ct_series() -> None:
    course = load_course(CURRENT, argument="test")
    read = load_ct_series(CURRENT)
    kept = course.ct_series
    assert kept is not None
    assert kept.slice_paths == read.slice_paths and kept.sop_instance_uids == read.sop_instance_uids
    assert kept.series_instance_uid == read.series_instance_uid and kept.frame_of_reference_uid == read.frame_of_reference_uid
    assert kept.warnings == read.warnings
    for a, b in ((kept.grid.x_mm, read.grid.x_mm), (kept.grid.y_mm, read.grid.y_mm), (kept.grid.z_mm, read.grid.z_mm)):
        assert np.array_equal(a, b)


def test_not_kept_with_a_skipped_file_or_a_second_series(tmp_path: Path) -> None:
    skipped = tmp_path / "skipped"
    shutil.copytree(CURRENT, skipped)
    (skipped / "notes.txt").write_text("not DICOM\n")
    assert load_course(skipped, argument="test").ct_series is None  # load_ct_series lists the skipped file

    second = tmp_path / "second"
    shutil.copytree(CURRENT, second)
    ds = pydicom.dcmread(second / "CT_001.dcm")
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.999"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.998"
    ds.save_as(second / "CT_extra.dcm")
    assert load_course(second, argument="test").ct_series is None  # load_ct_series refuses two series
