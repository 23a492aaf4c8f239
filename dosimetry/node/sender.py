"""C-STORE of the node's RT Dose maps to the configured destination AE (the planning system or PACS),
with pynetdicom's SCU. Bounded: every network step has the node's network timeout."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dosimetry.node.config import Destination

logger = logging.getLogger(__name__)

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"


@dataclass(frozen=True)
class SendResult:
    """What happened to one file: ``status`` is the peer's C-STORE status (0 = success), or None
    when no response came (``error`` says why)."""

    path: str
    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 0x0000


def send_files(destination: Destination, calling_ae_title: str, paths: Sequence[Path], *, timeout_s: float) -> list[SendResult]:
    """Send each RT Dose file in ``paths`` over one association; never raises for network problems
    (each file's result says what happened)."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae_title)
    ae.add_requested_context(RT_DOSE_STORAGE, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    try:
        assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    except (OSError, RuntimeError, ValueError) as exc:
        return [SendResult(str(p), None, f"cannot associate with {destination.ae_title}: {exc}") for p in paths]
    if not assoc.is_established:
        reason = "rejected" if assoc.is_rejected else "aborted" if assoc.is_aborted else "not established"
        return [SendResult(str(p), None, f"association with {destination.ae_title}@{destination.host}:{destination.port} {reason}")
                for p in paths]
    results: list[SendResult] = []
    try:
        for path in paths:
            try:
                status = assoc.send_c_store(Path(path))
            except (OSError, RuntimeError, ValueError, AttributeError) as exc:
                results.append(SendResult(str(path), None, f"{type(exc).__name__}: {exc}"))
                continue
            if "Status" in status:
                results.append(SendResult(str(path), int(status.Status), "" if status.Status == 0 else "refused by the peer"))
            else:
                results.append(SendResult(str(path), None, "no response (timeout, abort or invalid response)"))
    finally:
        if assoc.is_established:
            assoc.release()
    return results
