"""Every end-cap / between-plane convention and dicompyler-core against TRUE solids (issue 13).

Run:  .venv/bin/python benchmarks/dvh_true_solids.py [--quick] [--no-dicompyler] [--only REGEX]
          [--breakdown TOOL] [--json OUT]

Oracle: :mod:`dosimetry.dvh.true_solids` -- volume, mean, D99, D95, D5, D1 (and for the small
structures D0.03cc and Max) of the solid itself in a linear dose gradient (1 Gy/mm along y = AP or
z = SI), by quadrature over its exact cross-sections; never from the contours (unlike
benchmarks/dvh_vs_dicompyler.py, whose slab oracle shares the half-slab assumption).

Matrix: large solids (sphere r 12; cylinder and cone r 10 x 24 axial and rotated) and small ones
(optic-nerve-like cylinders r 1.5 and 2.5 mm x 20 mm along x, y and z; oblique optic-nerve-like
prolate spheroids r 1.5 and 2.5 mm x 20 mm tilted 30 and 60 degrees out of the axial plane, whose
sections slide from plane to plane; chiasm-like flat ellipsoid 24 x 12 x 7 mm (the sample
patient's chiasm); chiasm-like 14 x 8 x 4 mm
slab; lens-like ellipsoids 9 x 4 x 7 mm and 0.6 x that) x contour spacing 1, 2, 3 mm x planes
through the solid's centre (``tangent``: a pole or flat face of a solid whose extent is a
multiple of the spacing lies on a plane) or shifted half a spacing x dose grid 1, 2, 3 mm, aligned
or shifted half a voxel x gradient AP or SI. ``--quick``: spacing 1 and 3, grid 2 mm, no shift.
``--only REGEX``: the cases whose label matches (e.g. ``'nerve|lens'`` or ``'gradient z'``).

Errors: volume in % of the true volume; doses in % of the solid's dose span. Targets (issue 13):
volume within 1 % in >= 95 % of cases and within 2 % in all; Mean, D99, D95, D5, D1 within 1 % of
the span in >= 97 %; small structures D0.03cc, Max and Mean within 2 % of the span.

Verdict. The targets are judged over all cases and over the well-posed ones (smooth ends); the
smooth-ended structures on one or two contour planes are also shown apart, since with no
curvature to follow their extent beyond the planes rests on a prior (a round profile). Flat ends
are ill-posed, and no convention can meet 1 % there: let the last contoured plane be z_n and the
face at z_f. A face on a plane is contoured and the plane z_n + h (h the spacing) is not, so z_f
lies anywhere in [z_n, z_n + h) and every such solid gives the same contours; the volume grows
with z_f at the rate of the face's area A. The solids consistent with the contours therefore
span a volume range of A x h at each flat end, +-A x h / 2 around its midpoint (half-slab's
choice), and for any rule some consistent solid is A x h / 2 away (for the 24 mm cylinder
contoured every 3 mm, 6.25 % of its volume per end). For the flat-ended cases the benchmark
prints the volume error in units of that irreducible half-range (sum over the flat ends,
:meth:`~dosimetry.dvh.true_solids.TrueSolid.flat_end_ambiguity_cc`): 1 is as good as the contours
allow; a face lying on a plane is at the edge of the range (1 for half-slab and shape).

One or two planes. The ellipsoids whose sections on two planes a spacing h apart are one and the
same ellipse (a x b) and which no other plane cuts have volumes 4/3 pi a b c^3 / (c^2 - h^2 / 4)
for every semi-axis c in (h/2, 3h/2): at least 1.30 x 4/3 pi a b h, and without bound as c ->
h/2 (:func:`~dosimetry.dvh.true_solids.two_plane_ellipsoid`). The contours of an ROI on one or
two planes therefore do not determine its volume; the shape model's round profile is a prior,
and the verdict judges the targets over the well-posed cases of three or more planes.

Apex edges between planes. A convex solid whose highest point in y (an edge of it, e.g. the
apex edge of a cone lying across the planes) lies between two contour planes has the same
contours as the solid cut by the plane y = y*, y* the highest y of its contours: the cut removes
only what lies above every contour, and the cut solid is convex with no face parallel to the
planes, so it belongs to the well-posed family too. No rule can tell the two apart, so for any
rule one of them is at least half the difference of their metrics away (the lying cone
contoured every 3 mm half a spacing off its axis: D1 of the AP gradient differs by 2.2 % of the
span, D5 by 0.8 %). For the AP-gradient cases the benchmark therefore also prints each metric's
error against the nearer of the two (0 between them): within the tolerance there means some
solid consistent with the contours is within the tolerance
(:meth:`~dosimetry.dvh.true_solids.TrueSolid.cut_above_y`); the main verdict is still judged
against the true solid alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.baseline.bridge import BaselineUnavailableError, dicompyler_dvh_cases  # noqa: E402
from benchmarks.phantoms import write_case  # noqa: E402
from dosimetry.dvh import EndCapConvention, evaluate_metric  # noqa: E402
from dosimetry.dvh.curve import dvh_from_samples  # noqa: E402
from dosimetry.dvh.phantoms import GradientAxis  # noqa: E402
from dosimetry.dvh.rasterise import geometry_for_grid  # noqa: E402
from dosimetry.dvh.sampling import roi_dose_samples  # noqa: E402
from dosimetry.dvh.true_solids import SMALL_SOLIDS, TrueSolid, make_solid  # noqa: E402
from dosimetry.errors import GeometryError  # noqa: E402

D_LEVELS = (99, 95, 5, 1)
METRICS = ("volume", "mean", *(f"D{p}" for p in D_LEVELS))
SMALL_METRICS = ("D0.03cc", "max", "mean")
TOOLS = (*(c.value for c in EndCapConvention), "dicompyler")


def solids() -> list[tuple[str, TrueSolid]]:
    out = [(n, make_solid(n)) for n in ("sphere", "cylinder", "cone", "cylinder-rotated", "cone-rotated")]
    for axis, r in itertools.product("xyz", (1.5, 2.5)):
        out.append((f"nerve-{axis} r{r:g}", make_solid(f"nerve-{axis}", radius_mm=r)))
    for tilt, r in itertools.product((30, 60), (1.5, 2.5)):
        out.append((f"nerve-oblique{tilt} r{r:g}", make_solid("nerve-oblique", radius_mm=r, tilt_deg=tilt)))
    out.append(("chiasm", make_solid("chiasm")))
    out.append(("chiasm-ellipsoid", make_solid("chiasm-ellipsoid")))
    out.append(("lens", make_solid("lens")))
    out.append(("lens x0.6", make_solid("lens", scale=0.6)))
    return out


def oracle(solid: TrueSolid, axis: GradientAxis) -> dict[str, float]:
    args = (axis, 1.0, 40.0)
    lo, hi = solid.dose_range_gy(*args)
    out = {"volume": solid.volume_cc(), "mean": solid.mean_gy(*args), "span": hi - lo, "max": hi}
    out.update({f"D{p}": solid.dose_at_volume_percent(p, *args) for p in D_LEVELS})
    out["D0.03cc"] = solid.dose_at_volume_cc(0.03, *args) if out["volume"] > 0.03 else hi
    return out


def cut_oracle(solid: TrueSolid, spacing_mm: float, offset: float, truth: dict[str, float]) -> dict[str, float] | None:
    """Volume and D99..D1 (AP gradient) of the solid cut by the plane y = y*, the largest y of
    its contours, or None when the cut removes nothing (see the module docstring: the apex-edge
    ambiguity)."""
    y_star = solid.highest_contour_y_mm(spacing_mm, offset)
    if y_star >= solid.y_range_mm()[1] - 1e-6:
        return None
    cut = solid.cut_above_y(y_star)
    args = (GradientAxis.Y, 1.0, 40.0)
    out = {"volume": cut.volume_cc(), "y_star_mm": y_star}
    out.update({f"D{p}": cut.dose_at_volume_percent(p, *args) for p in D_LEVELS})
    return out


def run(quick: bool, with_dicompyler: bool, workdir: Path, only: str | None = None) -> list[dict[str, Any]]:
    spacings = (1.0, 3.0) if quick else (1.0, 2.0, 3.0)
    grids = (2.0,) if quick else (1.0, 2.0, 3.0)
    shifts = (0.0,) if quick else (0.0, 0.5)
    rows: list[dict[str, Any]] = []
    files = []
    for (label, solid), axis_name in itertools.product(solids(), ("y", "z")):
        axis = GradientAxis(axis_name)
        truth = oracle(solid, axis)
        for spacing, offset in itertools.product(spacings, (0.0, 0.5)):
            roi = solid.roi(spacing, offset)
            if not roi.contours:
                continue
            geometries: dict[EndCapConvention, Any] = {}  # the geometry does not depend on the dose grid
            cut: list[dict[str, float] | None] = []  # the apex-cut oracle, computed once if needed
            for grid_mm, shift in itertools.product(grids, shifts):
                dose = solid.dose_grid(grid_mm, axis, shift_fraction=shift)
                row: dict[str, Any] = {
                    "case": f"{label} contours {spacing:g} mm {'tangent' if offset == 0 else 'mid'}, "
                    f"grid {grid_mm:g} mm shift {shift:g}, gradient {axis_name}",
                    "small": label.split()[0].split("-")[0] in {s.split("-")[0] for s in SMALL_SOLIDS},
                    "flat_ends": any(solid.flat_ends),
                    "planes": int(roi.contour_planes_mm().size),
                    "flat_end_ambiguity_cc": solid.flat_end_ambiguity_cc(spacing),
                    "oracle": truth,
                    "seconds": {},
                }
                if only is not None and not re.search(only, row["case"]):
                    continue
                if axis is GradientAxis.Y and not row["flat_ends"]:
                    if not cut:
                        cut.append(cut_oracle(solid, spacing, offset, truth))
                    row["cut_oracle"] = cut[0]
                for convention in EndCapConvention:
                    t0 = time.perf_counter()
                    try:
                        if convention not in geometries:
                            geometries[convention] = geometry_for_grid(roi, dose.grid, convention, spacing)
                        geometry = geometries[convention]
                        samples = roi_dose_samples(dose, roi, geometry=geometry)
                        dvh = dvh_from_samples(samples, roi_name=roi.name, roi_number=1, bin_width_gy=0.01)
                    except GeometryError as exc:
                        row[convention.value] = {"error": str(exc)}
                        continue
                    row["seconds"][convention.value] = time.perf_counter() - t0
                    values = {"volume": dvh.volume_cc, "mean": dvh.mean_gy, "max": dvh.max_gy}
                    values.update({f"D{p}": evaluate_metric(dvh, f"D{p}%[Gy]") for p in D_LEVELS})
                    values["D0.03cc"] = evaluate_metric(dvh, "D0.03cc[Gy]") if dvh.volume_cc > 0.03 else dvh.max_gy
                    row[convention.value] = values
                if with_dicompyler:
                    files.append(write_case(dose, [roi], workdir / f"case{len(rows):04d}", seed=f"solid{len(rows)}"))
                rows.append(row)
    if with_dicompyler:
        answers = dicompyler_dvh_cases(files, dose_metrics=[*(f"D{p}" for p in D_LEVELS), "D0.03cc"])
        for row, answer in zip(rows, answers, strict=True):
            s = answer["structures"][0] if answer.get("structures") else None
            if s is None or s.get("mean_gy") is None:
                row["dicompyler"] = {"error": "no DVH"}
                continue
            m = s["metrics"]
            row["dicompyler"] = {"volume": s["volume_cc"], "mean": s["mean_gy"], "max": s["max_gy"], **m}
    for row in rows:
        truth = row["oracle"]
        for tool in TOOLS:
            values = row.get(tool)
            if values is None:
                continue
            err = {}
            for m in (*METRICS, "D0.03cc", "max"):
                v = values.get(m)
                if v is None:
                    err[m] = math.inf
                elif m == "volume":
                    err[m] = 100.0 * (v - truth[m]) / truth[m]
                else:
                    err[m] = 100.0 * (v - truth[m]) / truth["span"]
            cut_values = row.get("cut_oracle")
            for metric in ("volume", *(f"D{p}" for p in D_LEVELS)):
                if cut_values is None:
                    break
                # the error against the nearer of the two consistent solids (0 between them)
                v = values.get(metric)
                lo, hi = sorted((cut_values[metric], truth[metric]))
                scale = truth[metric] if metric == "volume" else truth["span"]
                err[f"{metric}_consistent"] = math.inf if v is None else 100.0 * (max(lo - v, v - hi, 0.0)) / scale
            if row["flat_end_ambiguity_cc"] > 0 and values.get("volume") is not None:
                # the volume error in units of the irreducible half-range (see the module docstring)
                err["volume_over_ambiguity"] = abs(values["volume"] - truth["volume"]) / row["flat_end_ambiguity_cc"]
            row[f"{tool}_error_percent"] = err
    return rows


def _groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    smooth = [r for r in rows if not r["flat_ends"]]
    return {
        "all": rows,
        "well-posed: smooth ends": smooth,
        "  of which 3 or more contour planes": [r for r in smooth if r["planes"] >= 3],
        "  of which 1-2 contour planes (rest on a prior)": [r for r in smooth if r["planes"] < 3],
        "ill-posed: flat ends": [r for r in rows if r["flat_ends"]],
    }


#: A flat-end case passes when its volume error is within this many irreducible half-ranges: a
#: face lying on a plane is at the edge of the range (exactly 1 for half-slab), and the polygonal
#: contours and a smooth other end (the cone's tip) add a little.
AMBIGUITY_SLACK = 1.1

CRITERIA = [
    ("volume <=1 % (target >=95 %)", "volume", 1.0, False, 95.0),
    ("volume <=2 % (target 100 %)", "volume", 2.0, False, 100.0),
    *[(f"{m} <=1 % span (target >=97 %)", m, 1.0, False, 97.0) for m in ("mean", *(f"D{p}" for p in D_LEVELS))],
    *[(f"small {m} <=2 % span (target 100 %)", m, 2.0, True, 100.0) for m in SMALL_METRICS],
]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    tools = [t for t in TOOLS if any(f"{t}_error_percent" in r for r in rows)]
    print(f"\nTrue solids: {len(rows)} cases ({sum(r['small'] for r in rows)} small structures). "
          "Pass rates against the issue-13 targets; worst |error| in brackets")
    header = f"{'criterion':50s}" + "".join(f"{t:>20s}" for t in tools)
    print(header)

    def rate(subset: list[dict[str, Any]], metric: str, tol: float, tool: str) -> tuple[float, float]:
        errs = [abs(r[f"{tool}_error_percent"].get(metric, math.inf)) for r in subset if f"{tool}_error_percent" in r]
        if not errs:
            return math.nan, math.nan
        return 100.0 * sum(e <= tol for e in errs) / len(errs), max(errs)

    verdicts: dict[str, dict[str, list[str]]] = {}
    for group, subset in _groups(rows).items():
        print(f"-- {group} ({len(subset)} cases)")
        for text, metric, tol, small_only, target in CRITERIA:
            chosen = [r for r in subset if r["small"]] if small_only else subset
            if not chosen:
                continue
            cells = []
            for tool in tools:
                pct, worst = rate(chosen, metric, tol, tool)
                summary.setdefault(group, {}).setdefault(text, {})[tool] = {"pass_percent": pct, "worst": worst}
                if not pct >= target:
                    verdicts.setdefault(group, {}).setdefault(tool, []).append(text.split(" (")[0])
                cells.append(f"{pct:6.1f} % ({worst:6.2f})")
            print(f"{text:50s}" + "".join(f"{c:>20s}" for c in cells))
        with_cut = [r for r in subset if r.get("cut_oracle") is not None]
        if group.startswith("well-posed") or group.startswith("  of which 3"):
            apart = [
                r for r in with_cut
                if any(abs(r["cut_oracle"][f"D{p}"] - r["oracle"][f"D{p}"]) > 0.01 * r["oracle"]["span"] for p in D_LEVELS)
            ]
            beyond = sorted({
                f"{r['case'].split(', grid')[0]} D{p}" for r in with_cut for p in D_LEVELS
                if abs(r["cut_oracle"][f"D{p}"] - r["oracle"][f"D{p}"]) > 0.02 * r["oracle"]["span"]
            })
            print(f"  apex-edge ambiguity (AP gradient): {len(with_cut)} cases whose contours also fit the solid cut at"
                  f" their highest y; in {len(apart)} a D metric of the two differs by more than 1 % of the span,"
                  f" by more than 2 % (no rule within 1 % of both: unreachable) in: {', '.join(beyond) or 'none'}")
            for m, tol in (("volume", 1.0), *((f"D{p}", 1.0) for p in D_LEVELS)):
                text = f"  {m} <={tol:g} % of the nearer consistent solid"
                cells = []
                for tool in tools:
                    pct, worst = rate(with_cut, f"{m}_consistent", tol, tool)
                    summary.setdefault(group, {}).setdefault(text, {})[tool] = {"pass_percent": pct, "worst": worst}
                    cells.append(f"{pct:6.1f} % ({worst:6.2f})")
                print(f"{text:50s}" + "".join(f"{c:>20s}" for c in cells))
        if group.startswith("ill-posed"):
            text = "volume error <= 1.1 x irreducible half-range"
            cells = []
            for tool in tools:
                pct, worst = rate(subset, "volume_over_ambiguity", AMBIGUITY_SLACK, tool)
                summary.setdefault(group, {}).setdefault(text, {})[tool] = {"pass_percent": pct, "worst": worst}
                cells.append(f"{pct:6.1f} % ({worst:6.2f})")
            print(f"{text:50s}" + "".join(f"{c:>20s}" for c in cells))
            print("  (worst in units of the half-range sum(face area x spacing / 2): <= 1 is as good as the contours allow;"
                  " a face on a plane is at the range's edge, 1.0)")
    print("\nVerdict against the issue-13 targets (criteria missed):")
    groups = _groups(rows)
    for group in ("all", "well-posed: smooth ends", "  of which 3 or more contour planes"):
        label = group.strip()
        if not groups[group]:
            print(f"  {label:34s} no cases")
            continue
        for tool in tools:
            missed = verdicts.get(group, {}).get(tool, [])
            met = len(CRITERIA) - len(missed)
            print(f"  {label:34s} {tool:12s} {met}/{len(CRITERIA)} met" + ("" if not missed else "; misses " + ", ".join(missed)))
    summary["verdict"] = verdicts
    seconds = {t: sum(r["seconds"].get(t, 0.0) for r in rows) for t in (c.value for c in EndCapConvention)}
    print("ours, seconds for all cases (geometry once per contour set + samples + curve): "
          + ", ".join(f"{t} {s:.1f}" for t, s in seconds.items()))
    summary["seconds"] = seconds
    return summary


def _failed(row: dict[str, Any], tool: str) -> list[str]:
    """The issue-13 criteria one case misses under ``tool`` (each case judged on its own)."""
    err = row.get(f"{tool}_error_percent")
    if err is None:
        return ["no result"]
    return [
        f"{metric}>{tol:g}%" for _, metric, tol, small_only, _ in CRITERIA
        if (row["small"] or not small_only) and not abs(err.get(metric, math.inf)) <= tol
    ]


def breakdown(rows: list[dict[str, Any]], tool: str) -> None:
    """Where ``tool`` misses: per solid, contour spacing and plane position, the cases missing any
    criterion and which criteria (issue 13, item 1)."""
    print(f"\nBreakdown of the cases {tool} misses (solid, contours, planes: missed / cases, criteria):")
    cells: dict[str, list[Any]] = {}
    for row in rows:
        key = row["case"].split(", grid")[0]
        cell = cells.setdefault(key, [0, 0, {}])
        missed = _failed(row, tool)
        cell[0] += bool(missed)
        cell[1] += 1
        for m in missed:
            cell[2][m] = cell[2].get(m, 0) + 1
    for key, (n_missed, n, by_metric) in cells.items():
        if n_missed:
            print(f"  {key:52s} {n_missed:3d} / {n:3d}  " + ", ".join(f"{m} {c}" for m, c in by_metric.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-dicompyler", action="store_true")
    parser.add_argument("--only", metavar="REGEX", help="only the cases whose label matches REGEX")
    parser.add_argument("--breakdown", metavar="TOOL", choices=TOOLS, help="also list the cases TOOL misses, by solid and contours")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        with_dicompyler = not args.no_dicompyler
        try:
            rows = run(args.quick, with_dicompyler, Path(tmp), args.only)
        except BaselineUnavailableError as exc:
            print(f"dicompyler-core unavailable ({exc}); running without it")
            rows = run(args.quick, False, Path(tmp), args.only)
    summary = summarise(rows)
    if args.breakdown:
        breakdown(rows, args.breakdown)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
