"""The DICOM node's pieces without a network: completeness rules, storage, configuration.

Oracle for the completeness rules: the references the committed sample patient carries, as
``sample_data/README.md`` documents them (each RT Dose references its plan, the plan its structure
set, the structure set its 49 CT images; the REG links the prior frame to the current one) -- the
expected missing items are derived from that documented layout, not from the code under test.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydicom
import pytest

from dosimetry.errors import ArgumentError
from dosimetry.node.completeness import assess
from dosimetry.node.config import (
    AnalysisSettings,
    NodeConfig,
    build_config,
    load_config_file,
)
from dosimetry.node.objects import ObjectKind, StoredObject, describe
from dosimetry.node.storage import Storage, StoreOutcome, folder_name

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


@pytest.fixture(scope="module")
def records() -> list[StoredObject]:
    out = []
    for i, path in enumerate(sorted(SAMPLE.glob("*/*.dcm"))):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        out.append(describe(ds, path, received_s=float(i), where=str(path)))
    return out


def _without(records: list[StoredObject], predicate) -> list[StoredObject]:  # type: ignore[no-untyped-def]
    return [r for r in records if not predicate(r)]


def test_sample_patient_is_complete_with_documented_files(records: list[StoredObject]) -> None:
    """Oracle: sample_data/README.md -- current course = 49 CT + RS + RT Ion Plan + RT Dose; prior course
    = RT Plan + RT Dose + REG (+ its RS and 49 CT, staged when present)."""
    a = assess("patient01", records, AnalysisSettings())
    assert a.complete, a.missing
    kinds = sorted(o.kind.name for o in a.current)
    assert kinds.count("CT") == 49 and kinds.count("RTSTRUCT") == 1 and kinds.count("RTIONPLAN") == 1 and kinds.count("RTDOSE") == 1
    assert all("/current/" in str(o.path) for o in a.current)
    prior_kinds = sorted(o.kind.name for o in a.prior)
    assert {"RTPLAN", "RTDOSE", "REG", "RTSTRUCT"} <= set(prior_kinds) and prior_kinds.count("CT") == 49
    # the current course is the 2024 carbon course whatever the arrival order (README: 2024 vs 2019)
    reversed_arrival = [dataclasses.replace(r, received_s=-r.received_s) for r in records]
    assert assess("patient01", reversed_arrival, AnalysisSettings()).plan_uid == a.plan_uid


def test_missing_objects_are_named(records: list[StoredObject]) -> None:
    """Oracle: README layout -- dropping one CT slice, the REG, or the prior dose leaves exactly that item missing."""
    one_ct = next(r for r in records if r.kind is ObjectKind.CT and "/current/" in str(r.path))
    a = assess("patient01", _without(records, lambda r: r is one_ct), AnalysisSettings())
    assert not a.complete and len(a.missing) == 1 and a.missing[0].startswith("1 of 49 CT images")
    a = assess("patient01", _without(records, lambda r: r.kind is ObjectKind.REG), AnalysisSettings())
    assert len(a.missing) == 1 and a.missing[0].startswith("Spatial Registration")
    prior_dose = [r for r in records if r.kind is ObjectKind.RTDOSE and "/prior/" in str(r.path)]
    a = assess("patient01", _without(records, lambda r: r in prior_dose), AnalysisSettings())
    assert len(a.missing) == 1 and a.missing[0].startswith("prior course RT Dose")
    # without re-irradiation the current course alone is complete
    current_only = [r for r in records if "/current/" in str(r.path)]
    assert assess("patient01", current_only, AnalysisSettings(reirradiation=False)).complete
    a = assess("patient01", _without(current_only, lambda r: r.kind is ObjectKind.RTIONPLAN), AnalysisSettings(reirradiation=False))
    assert len(a.missing) == 1 and a.missing[0].startswith("RT Plan ")
    assert assess("patient01", [], AnalysisSettings()).missing == ("RT Dose of the current course (none received)",)


def test_superseded_plan_is_not_the_prior_course(records: list[StoredObject]) -> None:
    """Oracle: the README layout -- the prior course is the 2019 photon course in its own frame of
    reference; an older version of the current plan (same frame, earlier arrival) must not replace it,
    and without the 2019 course the prior course is missing even though the old version is there."""
    base = assess("patient01", records, AnalysisSettings())
    dose = next(o for o in base.current if o.kind is ObjectKind.RTDOSE)
    plan = next(o for o in base.current if o.kind.is_plan)
    old_plan = dataclasses.replace(plan, sop_instance_uid="1.2.9.1", received_s=-2.0)
    old_dose = dataclasses.replace(dose, sop_instance_uid="1.2.9.2", referenced_plan_uids=("1.2.9.1",), received_s=-1.0)
    with_old = assess("patient01", [*records, old_plan, old_dose], AnalysisSettings())
    assert with_old.plan_uid == base.plan_uid and with_old.prior == base.prior
    current_only = [r for r in records if "/current/" in str(r.path)]
    missing = assess("patient01", [*current_only, old_plan, old_dose], AnalysisSettings()).missing
    assert len(missing) == 1 and missing[0].startswith("prior course RT Dose in another frame")


def test_derived_maps_are_never_inputs(records: list[StoredObject], tmp_path: Path) -> None:
    """Oracle: an RT Dose carrying this package's Manufacturer/Model (what export_maps writes) changes
    neither the chosen course nor the signature, even when it is the newest dose."""
    base = assess("patient01", records, AnalysisSettings())
    current_dose = next(o for o in base.current if o.kind is ObjectKind.RTDOSE)
    echo = dataclasses.replace(current_dose, sop_instance_uid="1.2.3.4", received_s=1e9, derived=True, study_date="20991231")
    again = assess("patient01", [*records, echo], AnalysisSettings())
    assert again.signature == base.signature and again.plan_uid == base.plan_uid


def test_storage_is_atomic_and_deduplicates(records: list[StoredObject], tmp_path: Path) -> None:
    """Oracle: the file system -- one file per SOP Instance UID, no temporary file left, a reread index
    (a restart) finds the same objects."""
    storage = Storage(tmp_path / "store")
    rs = next(r for r in records if r.kind is ObjectKind.RTSTRUCT)
    data = rs.path.read_bytes()
    assert storage.store(rs, data)[0] is StoreOutcome.STORED
    outcome, stored = storage.store(rs, b"different bytes")
    assert outcome is StoreOutcome.DUPLICATE and stored.path.read_bytes() == data
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"RTSTRUCT_{rs.sop_instance_uid}.dcm"]
    assert files[0].parent.parent.name == "patient01"
    restarted = Storage(tmp_path / "store")
    assert restarted.rebuild_index() == [] and len(restarted) == 1


def test_folder_names_cannot_escape() -> None:
    """Oracle: path semantics -- no separator, no leading dot, distinct inputs stay distinct."""
    for hostile in ("../../etc", "/abs", "a/b", ".hidden", "", "..", "x" * 300):
        name = folder_name(hostile, fallback="patient")
        assert "/" not in name and not name.startswith(".") and 0 < len(name) <= 64
    assert folder_name("a/b", fallback="p") != folder_name("a_b", fallback="p")
    assert folder_name("patient01", fallback="p") == "patient01"


def test_config_is_safe_by_default(tmp_path: Path) -> None:
    """Oracle: the issue's safety rules -- no allowed AE title means no node; storage and output must be apart."""
    with pytest.raises(ArgumentError, match="allowed_calling_ae_titles"):
        NodeConfig(storage_dir=tmp_path / "s", output_dir=tmp_path / "o")
    with pytest.raises(ArgumentError, match="must not contain each other"):
        NodeConfig(storage_dir=tmp_path, output_dir=tmp_path / "o", allowed_calling_ae_titles=("TPS",))
    with pytest.raises(ArgumentError, match="AE title"):
        NodeConfig(storage_dir=tmp_path / "s", output_dir=tmp_path / "o", allowed_calling_ae_titles=("A\\B",))
    toml = tmp_path / "node.toml"
    toml.write_text('storage_dir = "s"\noutput_dir = "o"\nallowed_calling_ae_titles = ["TPS"]\n[analysis]\nresidual = 0.25\n'
                    '[destination]\nae_title = "PACS"\nhost = "127.0.0.1"\nport = 104\n')
    config = build_config(load_config_file(toml), {"port": 0, "analysis": {"residual": None}})
    assert config.storage_dir == tmp_path / "s" and config.port == 0 and config.analysis.residual == 0.25
    assert config.destination is not None and config.destination.port == 104
    toml.write_text('storage_dir = "s"\noutput_dir = "o"\nallowed_calling_ae_title = ["TPS"]\n')
    with pytest.raises(ArgumentError, match="unknown setting"):
        load_config_file(toml)


def test_a_quoted_false_is_refused_not_read_as_true(tmp_path: Path) -> None:
    """Oracle: TOML's types (``"false"`` is a string, and a non-empty string is truthy in Python): a switch written
    in quotes would silently accept any sender or assume the patient did not move, so it must be refused."""
    for setting, table in (("accept_any_calling_ae_title", ""), ("assume_same_position", "[analysis]\n"),
                           ("reirradiation", "[analysis]\n")):
        toml = tmp_path / "node.toml"
        toml.write_text(f'storage_dir = "s"\noutput_dir = "o"\nallowed_calling_ae_titles = ["TPS"]\n{table}{setting} = "false"\n')
        with pytest.raises(ArgumentError, match=f"{setting} must be true or false, got 'false'"):
            build_config(load_config_file(toml), {})
    toml.write_text('storage_dir = 5\noutput_dir = "o"\nallowed_calling_ae_titles = ["TPS"]\n')
    with pytest.raises(ArgumentError, match="storage_dir must be a path in quotes, got 5"):  # not a TypeError from Path(5)
        load_config_file(toml)


def _top_level_boundaries(ds: pydicom.Dataset, implicit: bool, little: bool) -> tuple[bytes, set[int]]:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    stream, ends, total = b"", {0}, 0
    for element in ds:
        fp = DicomBytesIO()
        fp.is_implicit_VR, fp.is_little_endian = implicit, little
        write_data_element(fp, element)
        stream += fp.getvalue()
        total += len(fp.getvalue())
        ends.add(total)
    return stream, ends


@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian, pydicom.uid.ExplicitVRBigEndian])
def test_truncated_streams_are_refused(syntax: str) -> None:
    """Oracle: brute force over every cut point of a CT header and of the RT Plan (sequences inside), each
    encoded element by element by pydicom's writer: a cut exactly between two top-level elements is a
    shorter valid data set (accepted), a cut anywhere else must be refused; the whole stream is accepted."""
    from dosimetry.errors import DicomContentError
    from dosimetry.node.integrity import check_encoded_lengths

    uid = pydicom.uid.UID(syntax)
    for name in ("current/CT_001.dcm", "prior/RP_patient01.dcm"):
        ds = pydicom.dcmread(SAMPLE / name, stop_before_pixels=True)
        stream, boundaries = _top_level_boundaries(ds, uid.is_implicit_VR, uid.is_little_endian)
        check_encoded_lengths(stream, uid)
        step = max(1, len(stream) // 400)
        for cut in range(1, len(stream), step):
            if cut in boundaries:
                check_encoded_lengths(stream[:cut], uid)
            else:
                with pytest.raises(DicomContentError):
                    check_encoded_lengths(stream[:cut], uid)


def test_readme_configuration_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the README's own example -- its TOML block loads as documented; the command refuses to
    start without an allowed AE title (exit 1, one line naming the setting)."""
    import re

    from dosimetry.cli.main import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(# /etc/dosimetry/node.toml.*?)```", readme, re.DOTALL)
    assert block is not None
    toml = tmp_path / "node.toml"
    toml.write_text(block.group(1))
    config = build_config(load_config_file(toml), {})
    assert (config.ae_title, config.port, config.allowed_calling_ae_titles) == ("DOSIMETRY", 11112, ("TPS01",))
    assert config.analysis.residual == 0.3 and config.destination is not None and config.destination.port == 104
    code = main(["serve", "--storage", str(tmp_path / "s"), "--output", str(tmp_path / "o"), "--port", "0"])
    assert code == 1 and "allowed_calling_ae_titles" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_the_log_verdict_is_the_reports_verdict() -> None:
    """Oracle: the verdict's definitions (dosimetry.patient.verdict module docstring) applied by hand to rows written
    here: a coverage rule not met is a violation although every constraint passes (the log said PASS before), a
    constraint that cannot be evaluated is not a PASS."""
    from dosimetry.node.analysis import Verdict, node_verdict
    from dosimetry.patient.verdict import NO_PRIOR_SCOPE, plan_verdict

    def row(status: str, value: float | None) -> dict[str, object]:
        return {"source": "emami", "roi": "BrainStem", "organ": "brainstem", "endpoint": "Necrosis", "quantity": "q",
                "metric": "Max[Gy]", "comparator": "<=", "limit": 54.0, "value": value, "unit": "Gy", "status": status,
                "reason": "" if value is not None else "no DVH"}

    coverage_missed = [{"target": "PTV", "quantity": "rbe_weighted", "coverage": [{
        "rule": "PTV covered by the 90 % isodose", "metric": "V90%", "required_volume_pct": 100.0, "covered_pct": 97.0,
        "status": "fail"}]}]
    assert node_verdict(plan_verdict([row("PASS", 40.0)], [], [], NO_PRIOR_SCOPE)) is Verdict.PASS
    assert node_verdict(plan_verdict([row("PASS", 40.0)], coverage_missed, [], NO_PRIOR_SCOPE)) is Verdict.FAIL
    assert node_verdict(plan_verdict([row("FAIL", 60.0)], [], [], NO_PRIOR_SCOPE)) is Verdict.FAIL
    assert node_verdict(plan_verdict([row("NOT_EVALUABLE", None)], [], [], NO_PRIOR_SCOPE)) is Verdict.NOT_EVALUABLE
