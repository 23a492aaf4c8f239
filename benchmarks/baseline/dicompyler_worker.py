"""Runs inside .venv-baseline (dicompyler-core 0.5.6, pydicom < 3). Do not import from the product.

Reads one JSON request on stdin:
    {"rtdose": PATH, "rtstruct": PATH, "rois": [NAME, ...] | null,
     "get_dvh_kwargs": {...}, "dose_metrics": ["D95", ...]}
and writes one JSON object on stdout:
    {"dicompyler_core": VERSION, "pydicom": VERSION,
     "structures": [{"name", "number", "volume_cc", "min_gy", "max_gy", "mean_gy",
                     "metrics": {"D95": gy, ...}, "seconds": s, "cpu_seconds": s}], "total_seconds": s}
A request {"cases": [REQUEST, ...]} runs several such requests in one process and answers
{"dicompyler_core": VERSION, "pydicom": VERSION, "cases": [ANSWER, ...]} (each ANSWER as above
without the version fields).
Errors are written as {"error": "..."} with exit code 1.
"""

import json
import sys
import time


def main():
    request = json.load(sys.stdin)
    import dicompylercore
    import pydicom

    versions = {"dicompyler_core": dicompylercore.__version__, "pydicom": pydicom.__version__}
    if "cases" in request:
        answers = [run_case(case) for case in request["cases"]]
        json.dump(dict(versions, cases=answers), sys.stdout)
        return
    json.dump(dict(versions, **run_case(request)), sys.stdout)


def run_case(request):
    from dicompylercore import dicomparser, dvhcalc

    rtss = dicomparser.DicomParser(request["rtstruct"])
    structures = rtss.GetStructures()
    wanted = request.get("rois")
    kwargs = request.get("get_dvh_kwargs") or {}
    dose_metrics = request.get("dose_metrics") or []
    out = []
    started = time.perf_counter()
    for number, info in sorted(structures.items()):
        if wanted is not None and info["name"] not in wanted:
            continue
        t0 = time.perf_counter()
        c0 = time.process_time()
        dvh = dvhcalc.get_dvh(request["rtstruct"], request["rtdose"], number, **kwargs)
        seconds = time.perf_counter() - t0
        cpu_seconds = time.process_time() - c0
        entry = {"name": info["name"], "number": int(number), "seconds": seconds, "cpu_seconds": cpu_seconds}
        if dvh is None or dvh.volume == 0:
            entry.update({"volume_cc": 0.0, "min_gy": None, "max_gy": None, "mean_gy": None, "metrics": {}})
        else:
            metrics = {}
            for m in dose_metrics:
                metrics[m] = float(dvh.statistic(m).value)
            entry.update(
                {
                    "volume_cc": float(dvh.volume),
                    "min_gy": float(dvh.min),
                    "max_gy": float(dvh.max),
                    "mean_gy": float(dvh.mean),
                    "metrics": metrics,
                }
            )
        out.append(entry)
    return {"structures": out, "total_seconds": time.perf_counter() - started}


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # report any failure as JSON for the caller
        json.dump({"error": f"{type(exc).__name__}: {exc}"}, sys.stdout)
        sys.exit(1)
