"""results.json records the DVH end-cap convention (schema 1.2), and every output shows it.

Oracle: DEFAULT_END_CAP (the convention the patient DVH stage is documented to use) and the schema's
versioning rule (a MINOR bump only adds optional keys: a document without the key still validates).
"""

from __future__ import annotations

import json
from pathlib import Path

import dosimetry
from dosimetry.dvh.endcaps import DEFAULT_END_CAP
from dosimetry.patient.schema import validate
from dosimetry.report.sections import end_cap_text
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)


def test_end_cap_recorded_in_results_report_and_optional_on_read(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: DEFAULT_END_CAP ("shape") in parameters, the DVH curves and the report page; the same
    document without ``parameters.end_cap`` (as written before 1.2) still validates and the report
    says it is not recorded rather than guessing."""
    plan = dosimetry.load_patient(patient)
    results = plan.write(tmp_path / "out")
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["parameters"]["end_cap"] == DEFAULT_END_CAP.value == "shape"
    assert all(curve.end_cap is DEFAULT_END_CAP for curve in plan.dvhs().curves.values())
    assert results.parameters.end_cap is DEFAULT_END_CAP
    html = (tmp_path / "out" / "report.html").read_text()
    assert "DVH end caps: shape convention" in html
    validate(document)
    del document["parameters"]["end_cap"]
    validate(document)
    assert end_cap_text(document).startswith("not recorded")
