"""Content hashes that decide whether a patient must be analysed again.

A patient's *run key* is the SHA-256 of a canonical JSON document holding

* ``inputs``: the SHA-256 of the sorted lines ``<relative path>\\t<SHA-256 of the file's bytes>``
  over every input file of the patient (a renamed, added, removed or edited file changes it;
  touching a file's modification time does not);
* ``parameters``: :meth:`AnalysisParameters.to_json_dict` plus the SHA-256 of the protocol
  file's content (so editing the protocol reruns every patient); it includes the DVH end-cap
  convention, so a rerun with another ``--end-cap`` analyses every patient again (an output
  published before the convention was part of the key is analysed again too: its convention is
  not recorded);
* ``analysis``: the analysis callable's identity (:func:`pipelines.analysis.analysis_identity`);
* ``software``: the installed ``dosimetry`` version.

A rerun skips a patient whose published output carries the same run key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from dosimetry import __version__
from dosimetry.errors import InputFileError
from pipelines.analysis import AnalysisParameters, PatientInputs

_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot read {path} to hash it: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def inputs_sha256(inputs: PatientInputs) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The combined digest of a patient's input files and the per-file ``(relative path, sha256)``."""
    per_file = tuple(sorted((f.relative_path, file_sha256(f.path)) for f in inputs.files))
    text = "".join(f"{rel}\t{sha}\n" for rel, sha in per_file)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), per_file


def parameters_document(parameters: AnalysisParameters) -> dict[str, object]:
    """The parameters as hashed: their JSON form plus the protocol file's content hash."""
    document = parameters.to_json_dict()
    document["protocol_sha256"] = None if parameters.protocol_path is None else file_sha256(parameters.protocol_path)
    return document


@dataclass(frozen=True)
class RunKey:
    """The resumability key of one patient and its ingredients."""

    key: str
    inputs_sha256: str
    file_sha256: tuple[tuple[str, str], ...]


def run_key(inputs: PatientInputs, parameters: AnalysisParameters, analysis_id: str, software_version: str = __version__) -> RunKey:
    """The run key of ``inputs`` analysed by ``analysis_id`` with ``parameters`` (see module docstring)."""
    digest, per_file = inputs_sha256(inputs)
    document = {
        "inputs": digest,
        "parameters": parameters_document(parameters),
        "analysis": analysis_id,
        "software": software_version,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return RunKey(key=hashlib.sha256(text.encode("utf-8")).hexdigest(), inputs_sha256=digest, file_sha256=per_file)
