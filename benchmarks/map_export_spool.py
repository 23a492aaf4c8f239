"""The RT Dose map export before and after the spool (issue 20), in one process, side by side.

Before: ``Patient.write`` computed each of the six BED/EQD2/cumulative maps again after the
analysis and wrote it (``export_lq_map`` / ``export_cumulative_map``: encode in memory, write).
After: the analysis encodes each map into a spool file when it computes it (``encode_dose``) and
the export writes the file from there (``export_map_file``). The map computation itself is timed
separately: the analysis pays it in both cases. Prints CPU seconds (``time.process_time``) per
repetition and the minimum, for the six maps together; on a shared machine compare minima.

Run: ``.venv/bin/python benchmarks/map_export_spool.py CASE [--repeat 4]``
(``CASE``: ``/tmp/dosimetry_clinical/clinical01`` from ``benchmarks/clinical_scale.py``).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dosimetry.io.rtdose_writer import encode_dose  # noqa: E402
from dosimetry.patient.facade import load_patient  # noqa: E402
from dosimetry.radiobiology.export import (  # noqa: E402
    cumulative_map_text,
    export_cumulative_map,
    export_lq_map,
    export_map_file,
    identity_from_dicom,
    lq_map_text,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    maps = load_patient(args.case).patient_maps
    identity, plan = identity_from_dicom(maps.current.dose_paths[0]), maps.current.plan
    keys = [(k, False) for k in maps.lq] + ([(k, True) for k in maps.cumulative] if maps.prior is not None else [])
    spent: dict[str, list[float]] = {"map computation": [], "before: export": [], "after: encode": [], "after: export": []}
    for _ in range(args.repeat):
        scratch = Path(tempfile.mkdtemp(prefix="map_export_spool_"))
        run = dict.fromkeys(spent, 0.0)
        for key, cumulative in keys:
            t = time.process_time()
            computed = maps.cumulative[key] if cumulative else maps.lq[key]
            run["map computation"] += time.process_time() - t
            t = time.process_time()
            if cumulative:
                export_cumulative_map(computed, scratch / f"before_{key}.dcm", identity=identity, plan=plan)  # type: ignore[arg-type]
            else:
                export_lq_map(computed, scratch / f"before_{key}.dcm", identity=identity, plan=plan)  # type: ignore[arg-type]
            run["before: export"] += time.process_time() - t
            t = time.process_time()
            encoded = encode_dose(computed.dose, scratch / f"{key}.pixels")
            text = cumulative_map_text(computed) if cumulative else lq_map_text(computed)  # type: ignore[arg-type]
            run["after: encode"] += time.process_time() - t
            del computed
            gc.collect()
            t = time.process_time()
            export_map_file(encoded, text, scratch / f"after_{key}.dcm", identity=identity, plan=plan)
            run["after: export"] += time.process_time() - t
        for name, value in run.items():
            spent[name].append(value)
        shutil.rmtree(scratch)
    print(f"{len(keys)} maps, CPU seconds per repetition (min first)")
    for name, values in spent.items():
        print(f"{name:<18} {min(values):6.3f}   " + " ".join(f"{v:.3f}" for v in values))
    before = min(spent["map computation"]) + min(spent["before: export"])
    after = min(spent["after: encode"]) + min(spent["after: export"])
    print(f"export cost beyond the analysis: before {before:.3f} s (recompute + export), after {after:.3f} s (encode + export)")


if __name__ == "__main__":
    main()
