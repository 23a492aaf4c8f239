"""Loader figures: RT Dose read time (dosimetry.io vs raw pydicom vs SimpleITK), RT Structure Set
read time (the loader vs a bare pydicom decode), discovery time
on the sample patient, and what SimpleITK's reader gets wrong on quirky files.

Run: ``.venv/bin/python -m benchmarks.io_loaders`` (prints a table; no assertion).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from dosimetry.io import discover, load_dose, load_structure_set

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "patient01"


def _best_of(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _decode_all(ds: pydicom.Dataset) -> int:
    """Decode every value (pydicom decodes an element when iteration reaches it); returns the number of elements."""
    return sum(1 for _ in ds.iterall())


def main() -> None:
    rd = SAMPLE / "current" / "RD_patient01.dcm"
    print(f"RT Dose {rd.relative_to(ROOT)}")
    t_ours = _best_of(lambda: load_dose(rd))
    t_pydicom = _best_of(lambda: pydicom.dcmread(rd).pixel_array)
    t_sitk = _best_of(lambda: sitk.GetArrayFromImage(sitk.ReadImage(str(rd))))
    print(f"  dosimetry.io.load_dose (validated, Gy, canonical grid): {1000 * t_ours:7.1f} ms")
    print(f"  pydicom dcmread + pixel_array (raw integers):          {1000 * t_pydicom:7.1f} ms")
    print(f"  SimpleITK ReadImage (raw integers):                    {1000 * t_sitk:7.1f} ms")
    ours = load_dose(rd)
    itk = sitk.GetArrayFromImage(sitk.ReadImage(str(rd))).astype(np.float64)
    print(f"  max: dosimetry {ours.max_gy:.3f} Gy, SimpleITK {itk.max():.6g} (unscaled: DoseGridScaling not applied)")

    rs = SAMPLE / "current" / "RS_patient01.dcm"
    structures = load_structure_set(rs)
    n_contours = sum(len(r.contours) for r in structures.rois)
    print(f"RT Structure Set {rs.relative_to(ROOT)} ({rs.stat().st_size // 1024} KB, {len(structures.rois)} ROIs, {n_contours} contours), min of 50")
    t_rs = _best_of(lambda: load_structure_set(rs), repeat=50)
    t_rs_bare = _best_of(lambda: _decode_all(pydicom.dcmread(rs)), repeat=20)
    print(f"  dosimetry.io.load_structure_set (Contour Data by numpy):  {1000 * t_rs:7.1f} ms")
    print(f"  pydicom dcmread + every value decoded (no checks):     {1000 * t_rs_bare:7.1f} ms")
    print("  (a clinical-size structure set: benchmarks/structure_reader_scale.py)")

    t_disc = _best_of(lambda: discover(SAMPLE), repeat=3)
    n_files = sum(1 for p in SAMPLE.rglob("*") if p.is_file())
    print(f"discover({SAMPLE.relative_to(ROOT)}): {n_files} files in {t_disc:.2f} s ({1000 * t_disc / n_files:.1f} ms/file)")

    # non-uniform frame offsets: SimpleITK assumes uniform spacing
    from tests import dicom_factory as f

    with tempfile.TemporaryDirectory() as tmp:
        offsets = (0.0, 2.0, 5.0, 6.0, 10.0)
        path = f.make_rt_dose(Path(tmp), shape_frc=(5, 4, 4), offsets_mm=offsets, position_mm=(0.0, 0.0, 0.0))
        ours_nu = load_dose(path)
        image = sitk.ReadImage(str(path))
        itk_z = [image.TransformIndexToPhysicalPoint((0, 0, k))[2] for k in range(image.GetSize()[2])]
        print("non-uniform GridFrameOffsetVector", offsets)
        print(f"  dosimetry z centres: {ours_nu.grid.z_mm.tolist()}")
        print(f"  SimpleITK z centres: {[round(z, 3) for z in itk_z]}")


if __name__ == "__main__":
    main()
