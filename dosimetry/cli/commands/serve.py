"""``dosimetry serve``: a DICOM node; planning systems send plans, the check comes back by itself.

A DICOM Storage SCP (C-STORE, C-ECHO) that stores CT, RT Structure Set, RT (Ion) Plan, RT Dose and
Spatial Registration objects under STORAGE/<patient>/<study>/, waits until a course is complete
(dose, its plan, the structure set, the CT images; for a re-irradiation also the prior course and
the registration) and nothing new arrived for the settling time, then runs the analysis of
`dosimetry analyze` into OUTPUT/<patient>/<run>/, appends a line to OUTPUT/analyses.jsonl and,
with --destination, sends the cumulative EQD2/BED maps there as RT Dose. Settings as options or a
TOML file (--config; options override it; see dosimetry/node/config.py). Stops on SIGTERM/SIGINT.

Exit code 0 after a stop signal; 1 when the configuration is invalid or the port cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dosimetry.errors import ArgumentError


def _destination(value: str) -> Any:
    from dosimetry.node.config import Destination

    ae, sep, address = value.partition("@")
    host, colon, port = address.rpartition(":")
    if not (sep and colon and host and port.isdigit()):
        raise ArgumentError(f"--destination must be AE_TITLE@HOST:PORT, got {value!r}")
    return Destination(ae_title=ae, host=host, port=int(port))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "serve",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="node configuration (TOML)")
    parser.add_argument("--ae-title", help="the node's AE title (default DOSIMETRY)")
    parser.add_argument("--port", type=int, help="TCP port (default 11112; 0 = any free port)")
    parser.add_argument("--bind", dest="bind_address", metavar="ADDRESS", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--storage", dest="storage_dir", type=Path, metavar="DIR", help="where received objects are stored")
    parser.add_argument("--output", dest="output_dir", type=Path, metavar="DIR", help="where reports and logs are written")
    parser.add_argument("--allow-ae", dest="allowed", action="append", metavar="AE", help="calling AE title allowed to send (repeatable)")
    parser.add_argument("--accept-any-ae", action="store_true", default=None, help="accept any calling AE title (not the default)")
    parser.add_argument("--max-associations", type=int, metavar="N", help="concurrent associations (default 4)")
    parser.add_argument("--settle-time", dest="settle_time_s", type=float, metavar="S", help="seconds without new objects before a course is assessed (default 30)")
    parser.add_argument("--incomplete-timeout", dest="incomplete_timeout_s", type=float, metavar="S", help="seconds after which an incomplete course is reported (default 900)")
    parser.add_argument("--analysis-timeout", dest="analysis_timeout_s", type=float, metavar="S", help="longest analysis before it is stopped (default 1800)")
    parser.add_argument("--network-timeout", dest="network_timeout_s", type=float, metavar="S", help="ACSE/DIMSE/network timeout (default 60)")
    parser.add_argument("--destination", metavar="AE@HOST:PORT", help="send the cumulative EQD2/BED maps here (C-STORE)")
    parser.add_argument("--reirradiation", action=argparse.BooleanOptionalAction, default=None,
                        help="require a prior course and its registration (default: yes)")
    parser.add_argument("--residual", type=float, metavar="R", help="residual fraction of the prior dose (default 0.3)")
    parser.add_argument("--protocol", type=Path, metavar="FILE", help="protocol file (.yaml/.toml) of TG-263 constraints")
    parser.add_argument("--mapping", type=Path, metavar="FILE", help="ROI name -> organ mapping file (.yaml/.toml)")
    parser.add_argument("--assume-same-position", action="store_true", default=None,
                        help="prior frame differs and no registration: assume the patient did not move")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~dosimetry.node.config.NodeConfig` of the file and the options."""
    from dosimetry.node.config import build_config, load_config_file

    file_settings = load_config_file(args.config) if args.config else {}
    overrides: dict[str, Any] = {
        name: getattr(args, name)
        for name in ("ae_title", "port", "bind_address", "storage_dir", "output_dir", "max_associations", "settle_time_s",
                     "incomplete_timeout_s", "analysis_timeout_s", "network_timeout_s")
    }
    overrides["accept_any_calling_ae_title"] = args.accept_any_ae
    overrides["allowed_calling_ae_titles"] = None if args.allowed is None else tuple(args.allowed)
    overrides["destination"] = None if args.destination is None else _destination(args.destination)
    overrides["analysis"] = {
        "reirradiation": args.reirradiation, "residual": args.residual, "protocol": args.protocol,
        "mapping": args.mapping, "assume_same_position": args.assume_same_position,
    }
    return build_config(file_settings, overrides)


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from dosimetry.node.scp import StorageNode

    config = config_from_args(args)
    if not args.debug:  # pynetdicom logs every association and C-STORE at INFO: too much for a service journal
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    node = StorageNode(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        node.start()
    except OSError as exc:
        raise ArgumentError(f"cannot listen on {config.bind_address}:{config.port}: {exc}") from exc
    print(f"dosimetry node {config.ae_title} listening on {config.bind_address}:{node.port}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        node.stop()
    print("dosimetry node stopped", flush=True)
    sys.stdout.flush()
    return 0
