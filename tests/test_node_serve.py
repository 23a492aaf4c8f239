"""``dosimetry serve`` end to end on the loopback interface, ephemeral ports, every wait bounded.

Senders nobody here wrote: dcmtk's ``storescu``/``echoscu`` (Debian package ``dcmtk``; ``make test``
installs it) and pynetdicom's SCU. Oracles: the expected verdict is the one ``README.md`` documents
for the sample patient (two Emami limits fail: optic chiasm and left optic nerve on the cumulative
EQD2); DICOM statuses are those of PS3.4 Annex B.2.3 / PS3.7 Annex C; what is on disk is read back
from the file system; the maps are what a second, independent SCP (pynetdicom) received.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from dosimetry.node.config import Destination, NodeConfig
from dosimetry.node.jsonlog import read_lines
from dosimetry.node.objects import ObjectKind
from dosimetry.node.scheduler import read_state
from dosimetry.node.scp import StorageNode

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "patient01"
SAMPLE_FILES = sorted(SAMPLE.glob("*/*.dcm"))
NODE_AE = "DOSIMETRY"
SENDER_AE = "TPS01"
EXPECTED_FAILING = {"OpticChiasm", "OpticNrv_L"}  # README: the sample patient fails these two Emami limits
WAIT_S = 180.0  # the longest any single wait may take (a loaded CI machine); every loop below is bounded by it


def wait_for(predicate: Callable[[], Any], timeout_s: float = WAIT_S, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def dcmtk(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise AssertionError(f"dcmtk's {tool} not found: install Debian's 'dcmtk' package (make test and .ci/run do it)")
    return path


def scu(ae_title: str = SENDER_AE, syntax: str = ExplicitVRLittleEndian) -> AE:
    ae = AE(ae_title=ae_title)
    for kind in ObjectKind:
        ae.add_requested_context(kind.value, syntax)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = 30
    return ae


def send(port: int, files: list[Path], ae_title: str = SENDER_AE, syntax: str = ExplicitVRLittleEndian) -> list[int]:
    assoc = scu(ae_title, syntax).associate("127.0.0.1", port, ae_title=NODE_AE)
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(pydicom.dcmread(path) if syntax != ExplicitVRLittleEndian else path).Status) for path in files]
    finally:
        assoc.release()


def analyses(output: Path) -> list[dict[str, Any]]:
    return [line for line in read_lines(output / "analyses.jsonl") if line.get("event") == "analysis"]


def assert_expected_report(line: dict[str, Any]) -> None:
    assert line["verdict"] == "FAIL", line
    assert {c["roi"] for c in line["failing_constraints"]} == EXPECTED_FAILING
    assert Path(line["report"]).is_file() and Path(line["results"]).is_file()
    assert Path(line["report"]).read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


class Receiver:
    """The destination: an independent pynetdicom Storage SCP keeping what it receives."""

    def __init__(self) -> None:
        self.received: list[pydicom.Dataset] = []
        ae = AE(ae_title="PLANNING")
        ae.add_supported_context(ObjectKind.RTDOSE.value, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        self.server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)])
        self.port = int(self.server.server_address[1])

    def _store(self, event: evt.Event) -> int:
        self.received.append(event.dataset)
        return 0x0000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def make_node(tmp_path: Path, **overrides: Any) -> StorageNode:
    settings: dict[str, Any] = {
        "storage_dir": tmp_path / "storage", "output_dir": tmp_path / "output", "port": 0, "bind_address": "127.0.0.1",
        "allowed_calling_ae_titles": (SENDER_AE,), "settle_time_s": 1.0, "incomplete_timeout_s": 60.0,
        "analysis_timeout_s": 300.0, "network_timeout_s": 30.0,
    }
    settings.update(overrides)
    node = StorageNode(NodeConfig(**settings))
    node.start()
    return node


def _metric_rows(path: Path) -> list[list[str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][-1] == "warnings"
    return rows


def test_storescu_sample_patient_report_and_maps(tmp_path: Path, receiver: Receiver) -> None:
    """storescu sends the sample patient; the report has the README's verdict and the numbers of
    ``dosimetry analyze`` on the sample folders (dvh.csv byte for byte, metrics.csv but the file names in its
    warnings); the two cumulative
    maps arrive at the destination SCP; echoscu and a refused AE title answered (dcmtk exit codes)."""
    node = make_node(tmp_path, destination=Destination("PLANNING", "127.0.0.1", receiver.port))
    try:
        echo = subprocess.run([dcmtk("echoscu"), "-aet", SENDER_AE, "-aec", NODE_AE, "127.0.0.1", str(node.port)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert echo.returncode == 0, echo.stderr
        refused = subprocess.run([dcmtk("echoscu"), "-aet", "INTRUDER", "-aec", NODE_AE, "127.0.0.1", str(node.port)],
                                 capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode != 0 and "reject" in (refused.stdout + refused.stderr).lower()
        sent = subprocess.run(
            [dcmtk("storescu"), "-aet", SENDER_AE, "-aec", NODE_AE, "+sd", "+r", "-R", "-nh", "127.0.0.1", str(node.port), str(SAMPLE)],
            capture_output=True, text=True, timeout=300, check=False,
        )
        assert sent.returncode == 0, sent.stderr[-2000:]
        stored = list((tmp_path / "storage").glob("*/*/*.dcm"))
        assert len(stored) == len(SAMPLE_FILES)
        line = wait_for(lambda: analyses(tmp_path / "output"), what="the analysis line")[0]
        assert_expected_report(line)
        # the same analysis as `dosimetry analyze` on the planning system's export folders: same numbers
        from dosimetry.cli.main import main

        assert main(["analyze", str(SAMPLE), "--out", str(tmp_path / "direct")]) == 0
        node_out = Path(line["report"]).parent
        assert (node_out / "dvh.csv").read_bytes() == (tmp_path / "direct" / "dvh.csv").read_bytes()
        # metrics.csv: every number byte for byte; its warnings column names the input files, which
        # the node stores under its own (SOP Instance UID) names
        node_rows, direct_rows = (_metric_rows(folder / "metrics.csv") for folder in (node_out, tmp_path / "direct"))
        assert [r[:-1] for r in node_rows] == [r[:-1] for r in direct_rows]
        assert [r[-1].count(" | ") for r in node_rows] == [r[-1].count(" | ") for r in direct_rows]
        received = wait_for(lambda: len(receiver.received) >= 2 and receiver.received, what="the maps at the destination")
        assert all(r["status"] == 0 for r in line["sent"]) and len(line["sent"]) == 2
        assert sorted(str(ds.Modality) for ds in received) == ["RTDOSE", "RTDOSE"]
        assert {str(ds.PatientID) for ds in received} == {"patient01"}
        assert all("cum" in str(ds.SeriesDescription) for ds in received)
        events = read_lines(tmp_path / "output" / "events.jsonl")
        assert [e["calling_ae_title"] for e in events if e["event"] == "association_rejected"] == ["INTRUDER"]
    finally:
        node.stop()


def test_pynetdicom_scu_incomplete_then_late_object_then_refusals(tmp_path: Path) -> None:
    """pynetdicom's SCU sends everything but the registration: past the timeout the course is reported
    INCOMPLETE naming the registration; the late REG re-runs it to the README's verdict. A corrupt
    object (0xC000), an object without PatientID (0xA900) and an unknown AE title are answered while
    the node keeps serving (C-ECHO afterwards)."""
    node = make_node(tmp_path, incomplete_timeout_s=2.0)
    try:
        registration = [p for p in SAMPLE_FILES if p.name.startswith("RE_")]
        statuses = send(node.port, [p for p in SAMPLE_FILES if p not in registration])
        assert set(statuses) == {0x0000}
        line = wait_for(lambda: analyses(tmp_path / "output"), what="the incomplete report")[0]
        assert line["verdict"] == "INCOMPLETE" and len(line["missing"]) == 1 and "Spatial Registration" in line["missing"][0]
        assert "Spatial Registration" in Path(line["report"]).read_text(encoding="utf-8")

        # a corrupt object: valid file meta, then a data set cut in the middle of an element
        corrupt = tmp_path / "corrupt.dcm"
        source = (SAMPLE / "current" / "RS_patient01.dcm").read_bytes()
        corrupt.write_bytes(source[: len(source) // 2])
        no_patient = tmp_path / "no_patient.dcm"
        ds = pydicom.dcmread(SAMPLE / "current" / "CT_001.dcm")
        del ds.PatientID
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(no_patient, enforce_file_format=True)
        old = _config.STORE_SEND_CHUNKED_DATASET
        _config.STORE_SEND_CHUNKED_DATASET = True  # send the file's bytes as they are, without decoding them
        try:
            assert send(node.port, [corrupt, no_patient, *registration]) == [0xC000, 0xA900, 0x0000]
        finally:
            _config.STORE_SEND_CHUNKED_DATASET = old
        rejected = scu("INTRUDER").associate("127.0.0.1", node.port, ae_title=NODE_AE)
        assert rejected.is_rejected
        echo = scu().associate("127.0.0.1", node.port, ae_title=NODE_AE)
        assert echo.is_established and int(echo.send_c_echo().Status) == 0
        echo.release()

        done = wait_for(lambda: [x for x in analyses(tmp_path / "output") if x["verdict"] != "INCOMPLETE"], what="the re-run")
        assert_expected_report(done[0])
        events = read_lines(tmp_path / "output" / "events.jsonl")
        assert sorted(e["status"] for e in events if e["event"] == "object_refused") == ["0xA900", "0xC000"]
        assert not list((tmp_path / "storage").rglob(".*.tmp")) and len(list((tmp_path / "storage").glob("*/*/*.dcm"))) == len(SAMPLE_FILES)
    finally:
        node.stop()


class NodeProcess:
    """``dosimetry serve`` as a real process in its own process group (killed as a whole, like systemd does)."""

    def __init__(self, tmp_path: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [
            sys.executable, "-m", "dosimetry.cli.main", "serve", "--bind", "127.0.0.1", "--port", "0",
            "--storage", str(tmp_path / "storage"), "--output", str(tmp_path / "output"), "--allow-ae", SENDER_AE,
            "--settle-time", "2", "--incomplete-timeout", "60", "--analysis-timeout", "300",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        start_new_session=True, env=env)
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
        first = lines.get(timeout=WAIT_S)
        assert "listening on" in first, first
        self.port = int(first.rsplit(":", 1)[1])

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=60)


def test_killed_mid_transfer_and_restarted_completes(tmp_path: Path) -> None:
    """A node SIGKILLed while objects stream in keeps every acknowledged object (file system); the sender
    resends the rest to the restarted node, which is killed again right after the last acknowledgement
    (before the settling time): the third start runs the pending analysis by itself (README verdict)."""
    node = NodeProcess(tmp_path)
    acknowledged: list[Path] = []

    def stream() -> None:
        try:
            assoc = scu().associate("127.0.0.1", node.port, ae_title=NODE_AE)
            for path in SAMPLE_FILES:
                status = assoc.send_c_store(path)
                if "Status" not in status:
                    return
                if int(status.Status) == 0:
                    acknowledged.append(path)
        except (OSError, RuntimeError):
            return

    sender = threading.Thread(target=stream, daemon=True)
    sender.start()
    wait_for(lambda: len(acknowledged) >= 30, what="30 acknowledged objects")
    node.kill()
    sender.join(timeout=WAIT_S)
    assert not sender.is_alive() and len(acknowledged) < len(SAMPLE_FILES)
    stored = {p.name.split("_", 1)[1][:-4] for p in (tmp_path / "storage").glob("*/*/*.dcm")}
    for path in acknowledged:
        assert pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID in stored
    assert read_state(tmp_path / "storage")["pending"] == ["patient01"]

    node = NodeProcess(tmp_path)
    remaining = [p for p in SAMPLE_FILES if p not in acknowledged]
    assert set(send(node.port, remaining)) == {0x0000}
    node.kill()
    assert analyses(tmp_path / "output") == [] and read_state(tmp_path / "storage")["pending"] == ["patient01"]

    node = NodeProcess(tmp_path)
    try:
        line = wait_for(lambda: analyses(tmp_path / "output"), what="the analysis after the restart")[0]
        assert_expected_report(line)
        assert line["inputs"] == len(SAMPLE_FILES)
        wait_for(lambda: read_state(tmp_path / "storage")["pending"] == [], what="the pending list to clear")
        node.process.send_signal(signal.SIGTERM)  # a graceful stop (systemctl stop) exits 0
        assert node.process.wait(timeout=60) == 0
    finally:
        if node.process.poll() is None:
            node.kill()


def test_disk_full_and_permission_errors_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk and a permission error while writing are answered 0xA700 / 0xA701 (PS3.4 B.2.3:
    A7xx out of resources), logged in events.jsonl, nothing visible is left, and once the disk is
    back the same object is stored, in deflated and implicit VR transfer syntaxes too (oracles: the
    errno given, the file system, pydicom's comparison of the stored data set with the original)."""
    import errno

    import dosimetry.node.storage as storage_module

    node = make_node(tmp_path)
    real_write = storage_module.write_bytes
    try:
        for code in (errno.ENOSPC, errno.EACCES):
            def failing(path: Path, data: bytes, code: int = code) -> None:
                raise OSError(code, os.strerror(code), str(path))

            monkeypatch.setattr(storage_module, "write_bytes", failing)
            assert send(node.port, [SAMPLE / "current" / "RS_patient01.dcm"]) == [0xA700 if code == errno.ENOSPC else 0xA701]
        monkeypatch.setattr(storage_module, "write_bytes", real_write)
        # the disk is back; other transfer syntaxes (converted by pynetdicom's SCU) are stored as received
        assert send(node.port, [SAMPLE / "current" / "RS_patient01.dcm"], syntax=DeflatedExplicitVRLittleEndian) == [0x0000]
        assert send(node.port, [SAMPLE / "current" / "CT_001.dcm"], syntax=ImplicitVRLittleEndian) == [0x0000]
        events = [e for e in read_lines(tmp_path / "output" / "events.jsonl") if e["event"] == "object_refused"]
        assert [e["status"] for e in events] == ["0xA700", "0xA701"]
        assert "No space left" in events[0]["reason"] and "Permission denied" in events[1]["reason"]
        stored = {p.name.split("_")[0]: p for p in (tmp_path / "storage").glob("*/*/*")}
        assert sorted(stored) == ["CT", "RTSTRUCT"]
        for kind, syntax in (("RTSTRUCT", DeflatedExplicitVRLittleEndian), ("CT", ImplicitVRLittleEndian)):
            ds = pydicom.dcmread(stored[kind])
            assert ds.file_meta.TransferSyntaxUID == syntax
            original = pydicom.dcmread(SAMPLE / "current" / ("RS_patient01.dcm" if kind == "RTSTRUCT" else "CT_001.dcm"))
            assert ds == original  # every element value survives the transfer and the storage
    finally:
        node.stop()


def test_max_associations(tmp_path: Path) -> None:
    """With max_associations = 1 a second concurrent association is rejected (PS3.8 A-ASSOCIATE-RJ,
    local limit exceeded) and logged; once the first is released the next one is accepted."""
    node = make_node(tmp_path, max_associations=1)
    try:
        first = scu().associate("127.0.0.1", node.port, ae_title=NODE_AE)
        assert first.is_established
        second = scu().associate("127.0.0.1", node.port, ae_title=NODE_AE)
        assert second.is_rejected
        first.release()
        third = wait_for(lambda: (a := scu().associate("127.0.0.1", node.port, ae_title=NODE_AE)).is_established and a,
                         timeout_s=30, what="an association after the release")
        assert int(third.send_c_echo().Status) == 0
        third.release()
        events = read_lines(tmp_path / "output" / "events.jsonl")
        assert [e["calling_ae_title"] for e in events if e["event"] == "association_rejected"][:1] == [SENDER_AE]
    finally:
        node.stop()
