"""``dosimetry constraints --list emami|burman [--json]``: print the shipped tolerance tables."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "constraints",
        description=(
            "Print a tolerance table shipped with the package: 'emami' (Emami et al. 1991, TD5/5 and TD50/5 "
            "for 1/3, 2/3, 3/3 of the organ, Gy at 1.8-2 Gy per fraction) or 'burman' (Burman et al. 1991, "
            "LKB n, m, TD50)."
        ),
    )
    parser.add_argument("--list", dest="table", choices=("emami", "burman"), required=True, help="table to print")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.constraints.tables import burman_as_dict, emami_as_dict, load_burman, load_emami

    out = sys.stdout
    if args.table == "emami":
        table = load_emami()
        if args.json:
            json.dump(emami_as_dict(table), out, indent=2)
            out.write("\n")
            return 0
        out.write(f"{table.citation}\n{table.version}; {table.units}\n\n")
        out.write(f"{'organ':<30}{'endpoint':<50}{'axis':<17}{'TD5/5 (Gy)':<18}{'TD50/5 (Gy)':<18}\n")
        for e in table.entries:
            axis = {"volume_fraction": "1/3 2/3 3/3", "length_cm": "5 10 20 cm", "area_cm2": "10 30 100 cm2"}[e.axis.value]
            td5 = " ".join(_fmt(v) for v in e.td5_5_gy)
            td50 = " ".join(_fmt(v) for v in e.td50_5_gy)
            out.write(f"{e.organ_name:<30}{e.endpoint:<50}{axis:<17}{td5:<18}{td50:<18}\n")
            for note in e.notes:
                out.write(f"{'':<30}note: {note}\n")
        return 0
    table_b = load_burman()
    if args.json:
        json.dump(burman_as_dict(table_b), out, indent=2)
        out.write("\n")
        return 0
    out.write(f"{table_b.citation}\n{table_b.version}; {table_b.units}\n\n")
    out.write(f"{'organ':<30}{'endpoint':<50}{'n':>7}{'m':>8}{'TD50 (Gy)':>11}\n")
    for p in table_b.entries:
        out.write(f"{p.organ_name:<30}{p.endpoint:<50}{p.n:>7g}{p.m:>8g}{p.td50_gy:>11g}\n")
    return 0
