"""One analysis of the node, run in a child process: ``python -m dosimetry.node.analysis JOB.json``.

The job names a staged patient folder (``current/`` and ``prior/``, the layout ``dosimetry analyze``
reads) and the settings; the child runs :func:`dosimetry.load_patient` and
:meth:`~dosimetry.patient.Patient.write` exactly as ``dosimetry analyze`` does and prints one JSON
summary line on stdout. A child process keeps the analysis off the node's network threads, lets the
node bound its time (it is killed past ``analysis_timeout_s``) and survives whatever the analysis does.
"""

from __future__ import annotations

import enum
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dosimetry.patient.verdict import PlanVerdict


class Verdict(enum.Enum):
    """The outcome of one analysis as the log and a dashboard see it."""

    PASS = "PASS"  # every constraint and protocol coverage rule holds
    FAIL = "FAIL"  # a constraint failed or a protocol coverage rule is not met (the report's VIOLATION)
    NOT_EVALUABLE = "NOT_EVALUABLE"  # nothing failed but some check could not be evaluated
    INCOMPLETE = "INCOMPLETE"  # the course was still incomplete at the timeout: nothing analysed
    ERROR = "ERROR"  # the analysis stopped with an error (message in the log line)


def node_verdict(verdict: PlanVerdict) -> Verdict:
    """The log's verdict of an analysis: the same decision as the report's banner and ``analyze``
    (:func:`dosimetry.patient.verdict.plan_verdict`), in the log's words."""
    from dosimetry.patient.verdict import Verdict as PatientVerdict

    return {PatientVerdict.PASS: Verdict.PASS, PatientVerdict.VIOLATION: Verdict.FAIL,
            PatientVerdict.NOT_EVALUABLE: Verdict.NOT_EVALUABLE}[verdict.verdict]


@dataclass(frozen=True)
class AnalysisJob:
    """What the child process analyses and where it writes."""

    patient_dir: Path
    out_dir: Path
    reirradiation: bool
    residual: float | None
    protocol: Path | None
    mapping: Path | None
    assume_same_position: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_dir": str(self.patient_dir),
            "out_dir": str(self.out_dir),
            "reirradiation": self.reirradiation,
            "residual": self.residual,
            "protocol": None if self.protocol is None else str(self.protocol),
            "mapping": None if self.mapping is None else str(self.mapping),
            "assume_same_position": self.assume_same_position,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisJob:
        return cls(
            patient_dir=Path(data["patient_dir"]),
            out_dir=Path(data["out_dir"]),
            reirradiation=bool(data["reirradiation"]),
            residual=data["residual"],
            protocol=None if data["protocol"] is None else Path(data["protocol"]),
            mapping=None if data["mapping"] is None else Path(data["mapping"]),
            assume_same_position=bool(data["assume_same_position"]),
        )


def run_job(job: AnalysisJob) -> dict[str, Any]:
    """The analysis of ``dosimetry analyze`` on the staged folder; returns the summary the log records."""
    from dosimetry.constraints.partial_volume import Status
    from dosimetry.patient import load_patient

    patient = load_patient(
        job.patient_dir,
        residual=job.residual if job.reirradiation else None,
        assume_same_position=job.assume_same_position,
    )
    # report_workers=0: the figures are drawn in this job's own process, so a study's analysis stays one
    # process under the node's per-job time and memory bounds (render processes would run beside them)
    results = patient.write(job.out_dir, job.protocol, job.mapping, report_workers=0)
    constraints = results.constraints
    verdict = results.verdict()
    return {
        "verdict": node_verdict(verdict).value,
        "failures": [f.text() for f in verdict.failures],  # failing constraints and coverage rules, with margins
        "failing_constraints": [
            {
                "roi": r.roi, "metric": r.metric, "value": r.value, "comparator": r.comparator, "limit": r.limit,
                "unit": r.unit, "quantity": r.quantity, "source": r.source, "endpoint": r.endpoint,
            }
            for r in constraints.failed
        ],
        "constraints_passed": constraints.count(Status.PASS),
        "constraints_not_evaluable": constraints.count(Status.NOT_EVALUABLE),
        "warnings": list(results.warnings),
        "report": str(job.out_dir / "report.html"),
        "results": str(job.out_dir / "results.json"),
        "maps": [str(job.out_dir / o.path) for o in results.outputs if o.kind == "rtdose"],
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m dosimetry.node.analysis JOB.json\n")
        return 2
    from dosimetry.errors import DosimetryError

    job = AnalysisJob.from_dict(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    try:
        summary = run_job(job)
    except DosimetryError as exc:
        summary = {"verdict": Verdict.ERROR.value, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
