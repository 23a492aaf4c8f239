"""Property: whatever the bytes, the loaders raise only project errors and discovery never aborts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.errors import DosimetryError
from dosimetry.io import discover, load_dose, load_plan, load_structure_set
from tests import dicom_factory as f

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("orig")
    return {
        "dose": f.make_rt_dose(d, referenced_plan_uid=f.uid("p")).read_bytes(),
        "plan": f.make_rt_plan(d).read_bytes(),
        "struct": f.make_rt_struct(d, rois=[f.box_roi(1, "PTV", (0, 0), 5, [0, 3])]).read_bytes(),
    }


LOADERS = {"dose": load_dose, "plan": load_plan, "struct": load_structure_set}


@_SETTINGS
@given(kind=st.sampled_from(sorted(LOADERS)), fraction=st.floats(0.0, 0.999))
def test_truncated_files_give_project_errors(tmp_path_factory: pytest.TempPathFactory, originals: dict[str, bytes], kind: str, fraction: float) -> None:
    data = originals[kind]
    path = tmp_path_factory.mktemp("cut") / "x.dcm"
    path.write_bytes(data[: int(len(data) * fraction)])
    if kind == "dose":  # Pixel Data comes last: every cut loses voxels
        with pytest.raises(DosimetryError):
            LOADERS[kind](path)
    else:  # a cut exactly between two optional trailing elements is indistinguishable from a shorter file
        try:
            LOADERS[kind](path)
        except DosimetryError:
            pass
    result = discover(path.parent)  # never raises for a folder
    assert result.files == () or result.issues or result.skipped


@_SETTINGS
@given(kind=st.sampled_from(sorted(LOADERS)), position=st.floats(0.0, 0.999), byte=st.integers(0, 255), length=st.integers(1, 8))
def test_corrupted_bytes_never_escape_as_other_exceptions(
    tmp_path_factory: pytest.TempPathFactory, originals: dict[str, bytes], kind: str, position: float, byte: int, length: int
) -> None:
    data = bytearray(originals[kind])
    start = int(len(data) * position)
    data[start : start + length] = bytes([byte]) * min(length, len(data) - start)
    path = tmp_path_factory.mktemp("bad") / "x.dcm"
    path.write_bytes(bytes(data))
    try:
        LOADERS[kind](path)  # a corruption inside a value may still load (e.g. a name); that is fine
    except DosimetryError:
        pass
    discover(path.parent)


def test_random_text_is_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "x.dcm"
    path.write_bytes(b"\x00" * 200 + b"DICM" + b"\xff" * 50)
    with pytest.raises(DosimetryError):
        load_dose(path)
