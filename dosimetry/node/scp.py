"""The DICOM Storage SCP (pynetdicom): accepts CT, RT Structure Set, RT (Ion) Plan, RT Dose and Spatial
Registration in every transfer syntax pydicom knows, answers Verification (C-ECHO), stores each
object (:mod:`dosimetry.node.storage`) and tells the scheduler.

C-STORE answers (DICOM PS3.4 Annex B.2.3; PS3.7 Annex C):

* ``0x0000`` stored, or a duplicate of a stored SOP Instance UID (acknowledged, not rewritten);
* ``0xC000`` cannot understand: the data set is truncated (:mod:`dosimetry.node.integrity`) or cannot be decoded;
* ``0xA900`` data set does not match SOP class: SOP Class/Instance UID differ from the request, or an
  attribute the node needs (PatientID, StudyInstanceUID, FrameOfReferenceUID) is missing;
* ``0xA700`` out of resources: the disk is full; ``0xA701``: any other write error (permission, ...).

Every refusal writes a line to ``events.jsonl`` and a log warning (without patient data); the handler
never raises, so one bad object never ends an association, let alone the node. Calling AE titles not
allowed are rejected at association (pynetdicom's ``require_calling_aet``), and so are associations
addressed to another AE title.
"""

from __future__ import annotations

import errno
import logging
import time
from pathlib import Path
from typing import Any, cast

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from dosimetry.errors import DosimetryError
from dosimetry.io.dicom_file import check_complete
from dosimetry.node.config import NodeConfig
from dosimetry.node.integrity import check_encoded_lengths
from dosimetry.node.jsonlog import JsonLinesLog
from dosimetry.node.objects import ObjectKind, describe
from dosimetry.node.scheduler import Scheduler
from dosimetry.node.storage import Storage, StoreOutcome

logger = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
WRITE_FAILED = 0xA701
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000


class StorageNode:
    """The node: storage, scheduler and the association server. :meth:`start` returns once it listens."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        try:
            config.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DosimetryError(f"cannot create the output folder {config.output_dir}: {exc}") from exc
        self.storage = Storage(config.storage_dir)
        self.events = JsonLinesLog(config.events_log)
        for problem in self.storage.rebuild_index():
            logger.warning("stored file not indexed: %s", problem)
        self.scheduler = Scheduler(config, self.storage)
        self.server: ThreadedAssociationServer | None = None

    @property
    def port(self) -> int:
        """The port listened on (the ephemeral one when the configuration says 0)."""
        if self.server is None:
            raise DosimetryError("the node is not started")
        return int(self.server.server_address[1])

    def _ae(self) -> AE:
        ae = AE(ae_title=self.config.ae_title)
        for kind in ObjectKind:
            ae.add_supported_context(kind.value, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.maximum_associations = self.config.max_associations
        ae.require_called_aet = True
        ae.require_calling_aet = list(self.config.allowed_calling_ae_titles)  # empty: any (only if configured so)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.config.network_timeout_s
        return ae

    def start(self) -> None:
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_REJECTED, self._on_rejected),
        ]
        self.scheduler.start()
        self.server = self._ae().start_server(
            (self.config.bind_address, self.config.port), block=False, evt_handlers=handlers  # type: ignore[arg-type]
        )
        logger.info("DICOM node %s listening on %s:%d", self.config.ae_title, self.config.bind_address, self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        self.scheduler.stop()

    # ------------------------------------------------------------ handlers (network threads)
    def _event(self, record: dict[str, Any]) -> None:
        try:
            self.events.append(record)
        except DosimetryError as exc:
            logger.error("%s", exc)

    def _on_echo(self, event: evt.Event) -> int:
        return SUCCESS

    def _on_rejected(self, event: evt.Event) -> None:
        requestor = event.assoc.requestor
        logger.warning("association from %s (%s) rejected", requestor.ae_title, requestor.address)
        self._event({
            "event": "association_rejected", "calling_ae_title": requestor.ae_title,
            "called_ae_title": event.assoc.acceptor.ae_title, "address": requestor.address,
        })

    def _refuse(self, status: int, reason: str, event: evt.Event) -> int:
        request = cast(C_STORE, event.request)
        record = {
            "event": "object_refused", "status": f"0x{status:04X}", "reason": reason,
            "calling_ae_title": event.assoc.requestor.ae_title,
            "sop_class_uid": str(request.AffectedSOPClassUID), "sop_instance_uid": str(request.AffectedSOPInstanceUID),
        }
        logger.warning("C-STORE of %s refused with 0x%04X: %s", record["sop_instance_uid"], status, reason)
        self._event(record)
        return status

    def _on_store(self, event: evt.Event) -> int:
        request = cast(C_STORE, event.request)
        where = f"C-STORE {request.AffectedSOPInstanceUID} from {event.assoc.requestor.ae_title}"
        try:
            check_encoded_lengths(event.encoded_dataset(include_meta=False), event.context.transfer_syntax)
            ds = event.dataset
            check_complete(ds, Path(where))  # every value decodes (the loaders' check; names the tag)
        except Exception as exc:  # noqa: BLE001 - any decoding failure of untrusted bytes
            return self._refuse(CANNOT_UNDERSTAND, f"the data set cannot be decoded: {type(exc).__name__}: {exc}", event)
        if ds.get("SOPClassUID") != request.AffectedSOPClassUID or ds.get("SOPInstanceUID") != request.AffectedSOPInstanceUID:
            return self._refuse(DOES_NOT_MATCH_SOP_CLASS, "SOP Class/Instance UID of the data set differ from the request", event)
        try:
            record = describe(ds, self.storage.root, received_s=time.time(), where=where)
            outcome, stored = self.storage.store(record, event.encoded_dataset())
            if not stored.derived:
                # A duplicate counts too: a sender resending after a failure (or after our crash between
                # writing the file and saving the pending list) must still get its course analysed.
                self.scheduler.arrived(stored.patient_id)
        except DosimetryError as exc:
            if isinstance(exc, OSError):
                return self._write_error(exc, event)
            return self._refuse(DOES_NOT_MATCH_SOP_CLASS, str(exc), event)
        except OSError as exc:
            return self._write_error(exc, event)
        except Exception as exc:  # never let one object end the association
            logger.exception("unexpected error storing %s", request.AffectedSOPInstanceUID)
            return self._refuse(CANNOT_UNDERSTAND, f"{type(exc).__name__}: {exc}", event)
        if outcome is StoreOutcome.DUPLICATE:
            logger.info("duplicate SOP Instance %s acknowledged, not rewritten", request.AffectedSOPInstanceUID)
        return SUCCESS

    def _write_error(self, exc: OSError, event: evt.Event) -> int:
        status = OUT_OF_RESOURCES if exc.errno in (errno.ENOSPC, errno.EDQUOT) else WRITE_FAILED
        return self._refuse(status, f"cannot store the object: {type(exc).__name__}: {exc}", event)
