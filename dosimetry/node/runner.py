"""Run one analysis of a complete course, or write the report of an incomplete one, and log the outcome.

The course's files are staged as hard links (no copy, same file system: the staging folder is inside
the storage folder) in ``current/`` and ``prior/`` of a private folder, the layout ``dosimetry
analyze`` reads, and analysed by a child process (:mod:`dosimetry.node.analysis`) bounded by
``analysis_timeout_s``. The outputs go to ``OUTPUT/<patient>/<run>/``; the cumulative EQD2/BED maps
are then sent to the destination AE when one is configured; one line goes to ``analyses.jsonl``.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from dosimetry.errors import OutputError
from dosimetry.io.atomic_files import write_text
from dosimetry.node.analysis import AnalysisJob, Verdict
from dosimetry.node.completeness import Assessment
from dosimetry.node.config import NodeConfig
from dosimetry.node.jsonlog import JsonLinesLog
from dosimetry.node.objects import StoredObject
from dosimetry.node.sender import send_files
from dosimetry.node.storage import folder_name

logger = logging.getLogger(__name__)

#: The maps sent to the destination: the cumulative ones (current + residual of the prior course).
SENT_MAP_SUFFIX = "_cumulative.dcm"


def run_id(plan_uid: str) -> str:
    """A run folder name: UTC time to the microsecond and the plan UID's tail (sortable, unique)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{folder_name(plan_uid[-16:] or 'plan', fallback='plan')}"


def _link(obj: StoredObject, folder: Path) -> None:
    target = folder / obj.path.name
    try:
        os.link(obj.path, target)
    except OSError:  # a file system without hard links: a copy (same bytes; only costs space)
        shutil.copy2(obj.path, target)


def stage(assessment: Assessment, work_root: Path, name: str) -> Path:
    """``work_root/name/current`` and ``prior`` holding links to the assessed course files."""
    root = work_root / name
    root.mkdir(parents=True, exist_ok=False)
    for label, objects in (("current", assessment.current), ("prior", assessment.prior)):
        if not objects:
            continue
        folder = root / label
        folder.mkdir(parents=True, exist_ok=False)
        for obj in objects:
            _link(obj, folder)
    return root


class Runner:
    """Analyses and incomplete reports of one node (called from the scheduler's worker thread only)."""

    def __init__(self, config: NodeConfig, work_root: Path) -> None:
        self.config = config
        self.work_root = work_root
        self.analyses = JsonLinesLog(config.analyses_log)
        self._child: subprocess.Popen[str] | None = None
        self._stopping = False
        # staging folders of runs a crash interrupted: those runs are still pending and run again
        shutil.rmtree(work_root, ignore_errors=True)
        work_root.mkdir(parents=True, exist_ok=True)

    def stop_child(self) -> None:
        """Kill a running analysis (the node is stopping; the patient stays pending and runs after a restart)."""
        self._stopping = True
        child = self._child
        if child is not None and child.poll() is None:
            child.kill()

    def _out_dir(self, patient_id: str, name: str) -> Path:
        out = Path(self.config.output_dir) / folder_name(patient_id, fallback="patient") / name
        try:
            out.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise OutputError(f"cannot create the output folder {out}: {exc}") from exc
        return out

    def analyse(self, assessment: Assessment) -> dict[str, Any] | None:
        """Analyse a complete course; returns (and logs) the analyses.jsonl line, or None when the node
        stopped during the analysis (nothing logged: the patient stays pending)."""
        name = run_id(assessment.plan_uid)
        base = {"event": "analysis", "patient_id": assessment.patient_id, "plan_uid": assessment.plan_uid, "run": name}
        try:
            out_dir = self._out_dir(assessment.patient_id, name)
            staged = stage(assessment, self.work_root, name)
        except OSError as exc:  # OutputError included: disk full, permission
            return self.analyses.append({**base, "verdict": Verdict.ERROR.value, "error": f"{type(exc).__name__}: {exc}"})
        settings = self.config.analysis
        job = AnalysisJob(
            patient_dir=staged, out_dir=out_dir, reirradiation=settings.reirradiation, residual=settings.residual,
            protocol=settings.protocol, mapping=settings.mapping, assume_same_position=settings.assume_same_position,
        )
        try:
            summary = self._run_child(job, staged / "job.json")
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        if self._stopping:
            logger.info("analysis run %s interrupted by the node stopping; it runs again after the restart", name)
            return None
        line = {**base, "inputs": len(assessment.current) + len(assessment.prior), **summary}
        if summary.get("verdict") in (Verdict.PASS.value, Verdict.FAIL.value, Verdict.NOT_EVALUABLE.value) and self.config.destination is not None:
            maps = [Path(p) for p in summary.get("maps", []) if str(p).endswith(SENT_MAP_SUFFIX)]
            sent = send_files(self.config.destination, self.config.ae_title, maps, timeout_s=self.config.network_timeout_s)
            line["sent_to"] = f"{self.config.destination.ae_title}@{self.config.destination.host}:{self.config.destination.port}"
            line["sent"] = [{"file": Path(r.path).name, "status": r.status, "error": r.error} for r in sent]
            if not all(r.ok for r in sent):
                logger.warning("sending maps of run %s to %s failed: %s", name, line["sent_to"], [r.error for r in sent if not r.ok])
        return self.analyses.append(line)

    def _run_child(self, job: AnalysisJob, job_path: Path) -> dict[str, Any]:
        write_text(job_path, json.dumps(job.to_dict()))
        command = [sys.executable, "-m", "dosimetry.node.analysis", str(job_path)]
        try:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            return {"verdict": Verdict.ERROR.value, "error": f"cannot start the analysis process: {exc}"}
        self._child = child
        if self._stopping:  # stop_child ran between Popen and the line above
            child.kill()
        try:
            stdout, stderr = child.communicate(timeout=self.config.analysis_timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return {"verdict": Verdict.ERROR.value, "error": f"analysis exceeded analysis_timeout_s = {self.config.analysis_timeout_s:g} s"}
        finally:
            self._child = None
        lines = [line for line in stdout.splitlines() if line.strip()]
        if child.returncode != 0 or not lines:
            tail = stderr.strip().splitlines()[-1:] or ["no output"]
            return {"verdict": Verdict.ERROR.value, "error": f"analysis process exited with {child.returncode}: {tail[0]}"}
        summary: dict[str, Any] = json.loads(lines[-1])
        return summary

    def report_incomplete(self, assessment: Assessment) -> dict[str, Any]:
        """Write ``report.html`` and ``missing.json`` saying what is missing; returns the log line."""
        name = run_id(assessment.plan_uid)
        line: dict[str, Any] = {
            "event": "analysis", "patient_id": assessment.patient_id, "plan_uid": assessment.plan_uid, "run": name,
            "verdict": Verdict.INCOMPLETE.value, "missing": list(assessment.missing),
        }
        try:
            out_dir = self._out_dir(assessment.patient_id, name)
            write_text(out_dir / "missing.json", json.dumps({"patient_id": assessment.patient_id, "missing": list(assessment.missing)}, indent=2) + "\n")
            write_text(out_dir / "report.html", incomplete_page(assessment, self.config.incomplete_timeout_s))
            line["report"] = str(out_dir / "report.html")
        except OSError as exc:
            line["error"] = f"cannot write the incomplete-course report: {exc}"
        return self.analyses.append(line)


def incomplete_page(assessment: Assessment, timeout_s: float) -> str:
    """A small self-contained HTML page listing what the course still lacks."""
    items = "\n".join(f"<li>{html.escape(m)}</li>" for m in assessment.missing)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Incomplete course</title></head><body>\n"
        f"<h1>Course incomplete: not analysed</h1>\n<p>Patient {html.escape(assessment.patient_id)}: nothing new arrived for "
        f"{timeout_s:g} s and these objects are still missing:</p>\n<ul>\n{items}\n</ul>\n"
        "<p>Send the missing objects to the node; the analysis runs once the course is complete.</p>\n</body></html>\n"
    )
