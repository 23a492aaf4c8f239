"""Issue 20: the maps ``Patient.write`` exports are encoded when the analysis computes them
(:class:`dosimetry.patient.maps.MapSpool`) instead of being computed again; the files do not change.

The patient is the synthetic two-course patient of tests/test_constraints_check_cli.py (small grid).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

import dosimetry
from dosimetry.errors import ArgumentError
from dosimetry.io.rtdose_writer import DicomIdentity, encode_dose, write_rt_dose
from dosimetry.patient import writers
from dosimetry.patient.maps import MapSpool
from dosimetry.radiobiology.export import export_cumulative_map, export_lq_map, identity_from_dicom
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)

IDENTITY = DicomIdentity(patient_id="P1", patient_name="Test^Spool", study_instance_uid="1.2.3.4")
UIDS = {"sop_instance_uid": "1.2.3.4.5", "series_instance_uid": "1.2.3.4.6"}


def test_encoded_dose_writes_the_same_bytes(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: write_rt_dose from the grid's values in memory (the route before the spool): the
    file from the encoded pixels is the same bytes, for a map of the patient and a grid of zeros."""
    maps = dosimetry.load_patient(patient).patient_maps
    dose = maps.lq["EQD2_2"].dose
    zeros = dose.with_dose(np.zeros(dose.grid.shape_zyx), description="zeros")
    for k, grid in enumerate((dose, zeros)):
        encoded = encode_dose(grid, tmp_path / f"{k}.pixels")
        kwargs = {"identity": IDENTITY, "referenced_plan_uid": "1.2.3", "series_description": "x", "image_comments": "notes", **UIDS}
        write_rt_dose(grid, tmp_path / f"memory{k}.dcm", **kwargs)  # type: ignore[arg-type]
        write_rt_dose(encoded, tmp_path / f"encoded{k}.dcm", **kwargs)  # type: ignore[arg-type]
        assert (tmp_path / f"memory{k}.dcm").read_bytes() == (tmp_path / f"encoded{k}.dcm").read_bytes()


def test_negative_dose_is_refused_and_not_spooled(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: write_rt_dose's own refusal of negative values (unsigned pixels): encode_dose raises
    the same error, and the spool leaves such a map to the export (which raises it there)."""
    dose = dosimetry.load_patient(patient).patient_maps.current.dose
    negative = dose.with_dose(np.full(dose.grid.shape_zyx, -1.0), description="negative")
    with pytest.raises(ArgumentError, match="negative dose") as from_memory:
        write_rt_dose(negative, tmp_path / "x.dcm", identity=IDENTITY, referenced_plan_uid=None, series_description="x")
    with pytest.raises(ArgumentError) as from_encoding:
        encode_dose(negative, tmp_path / "x.pixels")
    assert str(from_encoding.value) == str(from_memory.value)
    spool = MapSpool(tmp_path)
    spool.keep("NEG", negative, lambda: pytest.fail("the text of a map that is not spooled is not needed"))  # type: ignore[arg-type,return-value]
    assert spool.get("NEG") is None


def test_a_sealed_spool_encodes_nothing_more(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """What the report computes after the analysis is left to the export: a sealed spool keeps no
    map (oracle: the spool's own lookup, empty for the key)."""
    dose = dosimetry.load_patient(patient).patient_maps.current.dose
    spool = MapSpool(tmp_path)
    spool.seal()
    spool.keep("LATE", dose, lambda: pytest.fail("the text of a map that is not spooled is not needed"))  # type: ignore[arg-type,return-value]
    assert spool.get("LATE") is None
    assert list(tmp_path.iterdir()) == []


def test_written_maps_equal_maps_exported_from_recomputed_grids(
    patient: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Oracle: every map computed again after write() and exported with export_lq_map /
    export_cumulative_map (the export before the spool, warnings given the same way): the pixel
    data and every element but the run's UIDs are equal; every map was spooled; no scratch remains."""
    loaded = dosimetry.load_patient(patient)
    maps = loaded.patient_maps
    out = tmp_path / "out"
    with monkeypatch.context() as patched:  # a map not spooled would be computed and exported by these
        for name in ("export_lq_map", "export_cumulative_map"):
            patched.setattr(writers, name, lambda *a, **k: pytest.fail("a map was computed again for the export"))
        loaded.write(out)
    identity = identity_from_dicom(maps.current.dose_paths[0])
    notes = tuple(loaded.results().warnings)[:50]  # the warnings export_maps was given (before the report's)
    written = sorted(p.name for p in out.glob("*.dcm"))
    assert written == sorted([*(f"{k}.dcm" for k in maps.lq), *(f"{k}.dcm" for k in maps.cumulative)])
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    reference = tmp_path / "reference"
    reference.mkdir()
    for key in maps.lq:
        export_lq_map(maps.lq[key], reference / f"{key}.dcm", identity=identity, plan=maps.current.plan, notes=notes)
    for key in maps.cumulative:
        export_cumulative_map(maps.cumulative[key], reference / f"{key}.dcm", identity=identity, plan=maps.current.plan, notes=notes)
    for name in written:
        ours, theirs = pydicom.dcmread(out / name), pydicom.dcmread(reference / name)
        assert ours.PixelData == theirs.PixelData, name
        for elem in theirs:
            if elem.keyword not in ("SOPInstanceUID", "SeriesInstanceUID", "PixelData"):
                assert ours[elem.tag].value == elem.value, (name, elem.keyword)
        assert len(ours) == len(theirs)


def test_failed_analysis_leaves_no_output_folder(patient: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Oracle: the folder listing: the output folder is made before the analysis runs (the spool
    lives in it); when the analysis fails, the folder it created is removed again."""
    loaded = dosimetry.load_patient(patient)

    def fail(*args: object, **kwargs: object) -> None:
        raise ArgumentError("analysis failed")

    monkeypatch.setattr(loaded, "results", fail)
    with pytest.raises(ArgumentError):
        loaded.write(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("voxels", [1, 7, 2 * 7 + 3])
def test_pixel_blocks_equal_the_whole_grid_formula_across_block_edges(voxels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the one-shot expression the writer used before blocks, ``rint(dose / scaling)`` cast to
    uint32 over the whole array; blocks of 7 voxels so that the grids end mid-block, on a block edge and
    inside the first block; both routes (the in-memory pixels and the encoded pixel file)."""
    from dosimetry.io import rtdose_writer

    monkeypatch.setattr(rtdose_writer, "_PIXEL_CHUNK", 7)
    monkeypatch.setattr(rtdose_writer, "_ENCODE_CHUNK", 7)
    dose_gy = np.random.default_rng(voxels).uniform(0.0, 70.0, size=(1, 1, voxels))
    scaling = rtdose_writer.dose_grid_scaling(float(dose_gy.max()))
    expected = np.rint(dose_gy / scaling).astype("<u4")
    assert np.array_equal(rtdose_writer._scaled_pixels(dose_gy, scaling), expected)
    blocks = b"".join(bytes(b) for b in rtdose_writer._pixel_blocks(dose_gy, scaling, 7))
    assert blocks == expected.tobytes()
