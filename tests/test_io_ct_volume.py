"""load_ct_volume fills one preallocated volume slice by slice (issue 20): the same HU values.

Oracle: the formula of the DICOM standard (PS3.3 C.11.1.1.2: HU = stored value x RescaleSlope +
RescaleIntercept) applied by pydicom-decoded slices stacked with NumPy and brought to the canonical
(z, y, x) order by hand (slices sorted along +z; rows flipped for feet-first supine's -x axis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosimetry.errors import DicomContentError
from dosimetry.io import load_ct_series, load_ct_volume
from dosimetry.io.ct_reader import load_ct_stored
from tests import dicom_factory as f


@pytest.mark.parametrize("orientation", ["HFS", "FFS"])
def test_volume_equals_the_stacked_formula(tmp_path: Path, orientation: str) -> None:
    paths = f.make_ct_series(tmp_path, z_positions_mm=(6.0, 0.0, 3.0), rows=6, columns=8, orientation=orientation)
    slopes, intercepts = (2.5, 0.5, 1.0), (-1000.0, 12.25, -1024.0)
    for path, slope, intercept in zip(paths, slopes, intercepts, strict=True):
        ds = pydicom.dcmread(path)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = ds.pixel_array.copy()
        stored[1, 2] = 37 + int(slope * 4)  # one voxel differs between slices
        ds.PixelData = stored.tobytes()
        ds.save_as(path)
    volume = load_ct_volume(load_ct_series(tmp_path))
    by_z = sorted(zip(paths, slopes, intercepts, strict=True), key=lambda t: float(pydicom.dcmread(t[0]).ImagePositionPatient[2]))
    expected = np.stack([pydicom.dcmread(p).pixel_array.astype(np.float64) * s + i for p, s, i in by_z])
    if orientation == "FFS":  # row direction is -x (ImageOrientationPatient -1\0\0\0\1\0): columns reversed
        expected = expected[:, :, ::-1]
    assert volume.dtype == np.float64 and volume.flags.c_contiguous
    assert np.array_equal(volume, expected)


@pytest.mark.parametrize("loader", [load_ct_volume, load_ct_stored], ids=["volume", "stored"])
def test_slice_of_another_size_is_a_content_error(tmp_path: Path, loader: object) -> None:
    paths = f.make_ct_series(tmp_path, rows=6, columns=8)
    series = load_ct_series(tmp_path)
    ds = pydicom.dcmread(paths[1])
    ds.Rows, ds.PixelData = 4, ds.pixel_array[:4].tobytes()
    ds.save_as(paths[1])
    with pytest.raises(DicomContentError, match=r"decodes to \(4, 8\), expected \(6, 8\)"):
        loader(series)  # type: ignore[operator]
