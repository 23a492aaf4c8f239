"""The DICOM node's settings: network identity, folders, who may send, timing, analysis and destination.

Given as command-line options or a TOML file (``dosimetry serve --config node.toml``; options given
on the command line override the file). Every setting is checked when the node starts, so a typo
stops it with a message naming the setting rather than surfacing at the first association::

    ae_title = "DOSIMETRY"
    port = 11112
    bind_address = "0.0.0.0"
    storage_dir = "/srv/dosimetry/storage"
    output_dir = "/srv/dosimetry/output"
    allowed_calling_ae_titles = ["TPS01", "PACS"]
    max_associations = 4
    settle_time_s = 30
    incomplete_timeout_s = 900

    [analysis]
    reirradiation = true        # a prior course and its registration are required (the trial's case)
    residual = 0.3              # fraction of the prior course counted for organs at risk
    protocol = "/srv/dosimetry/protocol.yaml"

    [destination]               # optional: C-STORE the cumulative EQD2/BED maps here
    ae_title = "TPS01"
    host = "tps.example.org"
    port = 104
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dosimetry.errors import ArgumentError

#: DICOM AE titles: 1-16 characters of the default character repertoire, no backslash, not all spaces.
_AE_TITLE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")

DEFAULT_AE_TITLE = "DOSIMETRY"
DEFAULT_PORT = 11112


def check_ae_title(value: str, setting: str) -> str:
    """``value`` stripped, or an :class:`ArgumentError` naming ``setting`` when it is no AE title."""
    if not isinstance(value, str) or not _AE_TITLE.fullmatch(value) or not value.strip():
        raise ArgumentError(f"{setting} must be a DICOM AE title (1-16 printable ASCII characters, no backslash), got {value!r}")
    return value.strip()


def _check_port(value: object, setting: str, *, allow_zero: bool) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not ((0 if allow_zero else 1) <= value <= 65535):
        low = 0 if allow_zero else 1
        raise ArgumentError(f"{setting} must be a TCP port {low}-65535, got {value!r}")
    return value


def _check_switch(value: object, setting: str) -> None:
    """A TOML ``"false"`` (a string) would be truthy: only true or false is a switch."""
    if not isinstance(value, bool):
        raise ArgumentError(f"{setting} must be true or false, got {value!r}")


def _check_seconds(value: object, setting: str, *, minimum: float = 0.0) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or not value >= minimum:
        raise ArgumentError(f"{setting} must be a number of seconds >= {minimum:g}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Destination:
    """Where the cumulative EQD2/BED maps are sent (C-STORE as RT Dose)."""

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        check_ae_title(self.ae_title, "destination.ae_title")
        if not isinstance(self.host, str) or not self.host.strip():
            raise ArgumentError(f"destination.host must be a host name or address, got {self.host!r}")
        _check_port(self.port, "destination.port", allow_zero=False)


@dataclass(frozen=True)
class AnalysisSettings:
    """How a complete course is analysed: the settings of ``dosimetry analyze``.

    ``reirradiation``: a prior course (RT Dose + its plan) and a Spatial Registration linking its frame
    to the current one must be present before the analysis runs (unless the frames are the same or
    ``assume_same_position``). ``residual``: the fraction of the prior course counted for organs at
    risk (None: the library's default, the protocol's 0.3). ``protocol``/``mapping``: the files
    ``--protocol``/``--mapping`` would name.
    """

    reirradiation: bool = True
    residual: float | None = None
    protocol: Path | None = None
    mapping: Path | None = None
    assume_same_position: bool = False

    def __post_init__(self) -> None:
        _check_switch(self.reirradiation, "analysis.reirradiation")
        _check_switch(self.assume_same_position, "analysis.assume_same_position")
        if self.residual is not None and not (
            isinstance(self.residual, (int, float)) and not isinstance(self.residual, bool) and 0 <= self.residual <= 1
        ):
            raise ArgumentError(f"analysis.residual must be a fraction in [0, 1], got {self.residual!r}")
        if not self.reirradiation and (self.residual is not None or self.assume_same_position):
            raise ArgumentError("analysis.residual and analysis.assume_same_position need analysis.reirradiation = true")
        for name in ("protocol", "mapping"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ArgumentError(f"analysis.{name} {path} is not a file")


@dataclass(frozen=True)
class NodeConfig:
    """Every setting of ``dosimetry serve`` (see the module docstring for the TOML form)."""

    storage_dir: Path
    output_dir: Path
    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    bind_address: str = "0.0.0.0"
    allowed_calling_ae_titles: tuple[str, ...] = ()
    accept_any_calling_ae_title: bool = False
    max_associations: int = 4
    settle_time_s: float = 30.0
    incomplete_timeout_s: float = 900.0
    analysis_timeout_s: float = 1800.0
    network_timeout_s: float = 60.0
    destination: Destination | None = None
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)

    def __post_init__(self) -> None:
        check_ae_title(self.ae_title, "ae_title")
        _check_port(self.port, "port", allow_zero=True)  # 0: an ephemeral port (tests)
        titles = tuple(check_ae_title(t, "allowed_calling_ae_titles") for t in self.allowed_calling_ae_titles)
        object.__setattr__(self, "allowed_calling_ae_titles", titles)
        _check_switch(self.accept_any_calling_ae_title, "accept_any_calling_ae_title")
        if not titles and not self.accept_any_calling_ae_title:
            raise ArgumentError(
                "no calling AE title is allowed: list the senders in allowed_calling_ae_titles "
                "(--allow-ae TPS01 ...) or set accept_any_calling_ae_title = true (--accept-any-ae)"
            )
        if not isinstance(self.max_associations, int) or isinstance(self.max_associations, bool) or not 1 <= self.max_associations <= 64:
            raise ArgumentError(f"max_associations must be an integer 1-64, got {self.max_associations!r}")
        _check_seconds(self.settle_time_s, "settle_time_s")
        _check_seconds(self.network_timeout_s, "network_timeout_s", minimum=1.0)
        _check_seconds(self.analysis_timeout_s, "analysis_timeout_s", minimum=1.0)
        if _check_seconds(self.incomplete_timeout_s, "incomplete_timeout_s") < self.settle_time_s:
            raise ArgumentError(
                f"incomplete_timeout_s ({self.incomplete_timeout_s:g}) must be >= settle_time_s ({self.settle_time_s:g})"
            )
        storage, output = Path(self.storage_dir).resolve(), Path(self.output_dir).resolve()
        if storage == output or storage in output.parents or output in storage.parents:
            raise ArgumentError(
                f"storage_dir {self.storage_dir} and output_dir {self.output_dir} must not contain each other: "
                "the node's own RT Dose maps would be read back as received objects"
            )

    @property
    def analyses_log(self) -> Path:
        """One JSON line per analysis (patient, plan, verdict, failing constraints, report)."""
        return Path(self.output_dir) / "analyses.jsonl"

    @property
    def events_log(self) -> Path:
        """One JSON line per refused association, refused object or storage error."""
        return Path(self.output_dir) / "events.jsonl"


_TOP_LEVEL = {f.name for f in fields(NodeConfig)} - {"destination", "analysis"}
_PATHS = {"storage_dir", "output_dir"}


def _from_table(cls: type, table: dict[str, Any], where: str, base: Path) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ArgumentError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    values = dict(table)
    for key in ("protocol", "mapping", *_PATHS):
        if key in values and values[key] is not None:
            if not isinstance(values[key], str):
                raise ArgumentError(f"{where}: {key} must be a path in quotes, got {values[key]!r}")
            path = Path(values[key]).expanduser()
            values[key] = path if path.is_absolute() else base / path
    return values


def load_config_file(path: Path | str) -> dict[str, Any]:
    """The settings of a TOML file as keyword arguments of :class:`NodeConfig` (relative paths are
    relative to the file's folder). Raises :class:`ArgumentError` naming the file and the setting."""
    source = Path(path)
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArgumentError(f"cannot read the node configuration {source}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ArgumentError(f"the node configuration {source} is not valid TOML: {exc}") from exc
    base = source.resolve().parent
    top = {k: v for k, v in document.items() if k not in ("destination", "analysis")}
    unknown = sorted(set(top) - _TOP_LEVEL)
    if unknown:
        raise ArgumentError(f"{source}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_LEVEL))})")
    kwargs: dict[str, Any] = _from_table(NodeConfig, top, str(source), base)
    if "allowed_calling_ae_titles" in kwargs:
        titles = kwargs["allowed_calling_ae_titles"]
        if not isinstance(titles, list):
            raise ArgumentError(f"{source}: allowed_calling_ae_titles must be a list of AE titles, got {titles!r}")
        kwargs["allowed_calling_ae_titles"] = tuple(titles)
    for name, cls in (("destination", Destination), ("analysis", AnalysisSettings)):
        if name in document:
            if not isinstance(document[name], dict):
                raise ArgumentError(f"{source}: [{name}] must be a table")
            kwargs[name] = cls(**_from_table(cls, document[name], f"{source} [{name}]", base))
    return kwargs


def build_config(file_settings: dict[str, Any], overrides: dict[str, Any]) -> NodeConfig:
    """A :class:`NodeConfig` from a file's settings with ``overrides`` (None values ignored) on top;
    ``analysis.*`` and ``destination`` overrides replace the file's fields one by one."""
    merged = dict(file_settings)
    analysis_over = {k: v for k, v in overrides.pop("analysis", {}).items() if v is not None}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if analysis_over:
        merged["analysis"] = replace(merged.get("analysis", AnalysisSettings()), **analysis_over)
    missing = [name for name in ("storage_dir", "output_dir") if name not in merged]
    if missing:
        raise ArgumentError(f"the node needs {' and '.join(missing)} (--storage / --output or the configuration file)")
    return NodeConfig(**merged)
