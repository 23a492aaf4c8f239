"""The library facade (``dosimetry.load_patient`` -> ``Patient``): the notebook case, the same numbers
as the command line, and the package layering.

Oracles: the hand-computed cumulative EQD2 of the synthetic patient of
tests/test_constraints_check_cli.py (EQD2 = D (d + 2) / 4; chiasm 44 + 0.3 x 60 = 62 Gy, brain stem
16.5 + 0.3 x 22.5 = 23.25 Gy), and the CLI's own outputs (``dosimetry analyze`` metrics.csv,
``dosimetry check --json``), a second path through the code.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import pytest

import dosimetry
from dosimetry.cli import main as cli_main
from dosimetry.errors import ArgumentError, GeometryError
from dosimetry.patient.schema import validate
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_notebook_case_with_prior_course(patient: Path) -> None:  # noqa: F811
    plan = dosimetry.load_patient(patient)
    report = plan.check()
    organs = {o.mapping.roi_name: o for o in report.organs}
    assert organs["OpticChiasm"].endpoints[0].max_dose_gy == pytest.approx(62.0, abs=1e-4)
    assert organs["Brain Stem"].endpoints[0].max_dose_gy == pytest.approx(23.25, abs=1e-4)
    results = plan.results()
    assert results.any_fail
    assert results.metric("OpticChiasm", "EQD2_2_cumulative", "Max[Gy]") == pytest.approx(62.0, abs=1e-4)
    assert "FAIL OpticChiasm" in results.summary()
    validate(results.to_dict())
    assert set(plan.maps()) == {"rbe_weighted", "BED2", "EQD2_2", "BED9", "EQD2_9", "EQD2_2_cumulative", "BED2_cumulative"}


def test_notebook_case_current_course_alone(patient: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Without a prior course the spinal cord is evaluated (organ extents come with the facade) as the CLI does."""
    plan = dosimetry.load_patient(patient / "current")
    assert not plan.has_prior and any("no prior course" in w for w in plan.warnings)
    report = plan.check()
    organs = {o.mapping.roi_name: o for o in report.organs}
    assert organs["SpinalCord"].endpoints[0].status.value == "PASS"
    assert organs["Brain Stem"].endpoints[0].max_dose_gy == pytest.approx(16.5, abs=1e-4)
    assert cli_main.main(["check", str(patient / "current"), "--no-prior", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["organs"] == report.to_dict()["organs"]


def test_same_numbers_as_the_cli(patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    out = tmp_path / "out"
    assert cli_main.main(["analyze", str(patient), "--out", str(out)]) == 0
    capsys.readouterr()
    with open(out / "metrics.csv", newline="", encoding="utf-8") as handle:
        cli_rows = [(r["roi"], r["quantity"], r["metric"], float(r["value"])) for r in csv.DictReader(handle)]
    plan = dosimetry.load_patient(patient)
    ours = [(m.roi, m.quantity, m.metric, m.value) for m in plan.results().metrics]
    assert ours == cli_rows  # same rows, same order, bit-identical values
    assert cli_main.main(["check", str(patient), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["organs"] == plan.check().to_dict()["organs"]


def test_readme_notebook_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's notebook snippet, run as it stands on the bundled sample patient (from a folder
    where ``sample_data`` is the repository's, so its outputs land in tmp_path)."""
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- notebook-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its notebook example"
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102
    results = namespace["results"]
    assert isinstance(results, dosimetry.AnalysisResults)
    failed = {r.roi for r in results.constraints.failed}
    assert {"OpticChiasm", "OpticNrv_L"} <= failed  # the sample patient fails these two on purpose
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000


def test_facade_errors_name_the_argument(patient: Path) -> None:  # noqa: F811
    with pytest.raises(ArgumentError, match="--residual need a prior course"):
        dosimetry.load_patient(patient / "current", residual=0.5)
    plan = dosimetry.load_patient(patient / "current")
    with pytest.raises(ArgumentError, match="no DVH of ROI 'Nowhere'"):
        plan.dvhs().get("Nowhere", "EQD2_2")
    with pytest.raises(ArgumentError, match="dvh_bin_width_gy"):
        dosimetry.load_patient(patient / "current", dvh_bin_width_gy=5.0)
    assert issubclass(GeometryError, dosimetry.errors.DosimetryError)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_library_never_imports_pipelines() -> None:
    """Layering: dosimetry/ (outside the CLI) never imports pipelines; the CLI only for the cohort commands."""
    cohort_commands = {"batch.py", "correlate.py"}
    offenders = []
    for path in sorted((ROOT / "dosimetry").rglob("*.py")):
        uses = {n for n in _imports(path) if n == "pipelines" or n.startswith("pipelines.")}
        if not uses:
            continue
        in_cli = "cli" in path.relative_to(ROOT / "dosimetry").parts
        if not (in_cli and path.name in cohort_commands):
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(uses)}")
    assert offenders == []


def _without_run_fields(document: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in document.items() if k not in ("generated_utc", "outputs")}


def test_results_computed_once_and_equal_to_a_fresh_computation(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """results() is cached per protocol/mapping/CSV step: a second call and write() reuse it.
    Oracle: the uncached path, a freshly loaded Patient whose write() computes everything itself."""
    plan = dosimetry.load_patient(patient)
    first = plan.results()
    assert plan.results() is first
    assert plan.results(dvh_csv_step_gy=0.5) is not first  # another key: computed anew
    written = plan.write(tmp_path / "cached")
    assert written.generated_utc == first.generated_utc and written.metrics is first.metrics
    fresh = dosimetry.load_patient(patient).write(tmp_path / "fresh")
    assert _without_run_fields(written.to_dict()) == _without_run_fields(fresh.to_dict())
    assert (tmp_path / "cached" / "metrics.csv").read_bytes() == (tmp_path / "fresh" / "metrics.csv").read_bytes()
    assert (tmp_path / "cached" / "dvh.csv").read_bytes() == (tmp_path / "fresh" / "dvh.csv").read_bytes()


def test_results_and_check_follow_an_edited_protocol_file(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """The results()/check() caches are keyed on the protocol file's contents, not only its name: a
    notebook that edits the file and asks again gets the edited protocol's verdict.
    Oracle: the hand-computed chiasm maximum of the synthetic patient (cumulative EQD2 62 Gy, module
    docstring) against the two limits written (54 Gy: FAIL, 70 Gy: PASS)."""
    protocol = tmp_path / "p.yaml"
    protocol.write_text('constraints:\n  OpticChiasm: "Dmax[Gy] < 54"\n', encoding="utf-8")
    plan = dosimetry.load_patient(patient)

    def chiasm_status() -> set[str]:
        rows = plan.results(protocol).to_dict()["constraints"]["rows"]
        return {r["status"] for r in rows if r["roi"] == "OpticChiasm" and r.get("source") == "protocol"}

    def check_status() -> set[str]:
        return {r["status"] for r in plan.check(protocol).to_dict()["protocol"] if r["structure"] == "OpticChiasm"}

    assert chiasm_status() == {"FAIL"} and check_status() == {"FAIL"}
    protocol.write_text('constraints:\n  OpticChiasm: "Dmax[Gy] < 70"\n', encoding="utf-8")
    assert chiasm_status() == {"PASS"} and check_status() == {"PASS"}


def test_registration_uncertainty_follows_the_protocol_object_given(patient: Path) -> None:  # noqa: F811
    """Two Protocol objects with the same source label are two protocols: registration_uncertainty()
    (and results() through it) evaluates the one given, as check() does, not a cached earlier one.
    Oracle: the limits written into the two protocols (54 and 70 Gy on the chiasm's Dmax)."""
    from dosimetry.constraints import parse_protocol_text

    plan = dosimetry.load_patient(patient, uncertainty_margin_mm=1.0)
    for limit_gy in (54.0, 70.0):
        protocol = parse_protocol_text(f'constraints:\n  OpticChiasm: "Dmax[Gy] < {limit_gy:g}"\n', "p.yaml", "yaml")
        uncertainty = plan.registration_uncertainty(protocol)
        assert uncertainty is not None
        limits = {r.limit for r in uncertainty.rows if r.roi == "OpticChiasm" and r.source == "protocol"}
        assert limits == {limit_gy}


def test_load_time_settings_cannot_change_under_the_cached_results(patient: Path) -> None:  # noqa: F811
    """The DVHs, checks and results are cached on first use with the load-time settings; changing
    one afterwards (dvh_bin_width_gy, the re-irradiation thresholds, ...) silently kept the old
    numbers. Oracle: the DVH bin width the cached results record (the load-time 0.01 Gy) and the
    documented rule that a setting is given to load_patient."""
    from dataclasses import FrozenInstanceError

    plan = dosimetry.load_patient(patient)
    first = plan.results()
    for name, value in (("dvh_bin_width_gy", 0.5), ("reirradiation_thresholds_gy", (20.0, 20.0)), ("uncertainty_margin_mm", 3.0)):
        with pytest.raises(FrozenInstanceError, match=f"Patient.{name} is fixed at load time"):
            setattr(plan, name, value)
    assert plan.dvh_bin_width_gy == 0.01 and first.parameters.dvh_bin_width_gy == 0.01
    assert plan.results() is first
