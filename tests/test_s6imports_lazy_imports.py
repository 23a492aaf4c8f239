"""``dosimetry analyze`` imports scipy's interpolate and ndimage packages and SimpleITK only where a run uses them.

scipy.interpolate (with the scipy.linalg/optimize/sparse/fft/spatial packages it pulls in) is needed by
a prior grid with non-uniform z (:mod:`dosimetry.align.resample`), scipy.ndimage by a deformable
registration (:mod:`dosimetry.align.deformable`), the registration check
(:mod:`dosimetry.patient.registration_quality`) and per-organ recovery models
(:mod:`dosimetry.patient.recovery`), SimpleITK by a prior course (alignment, registration). Importing
those modules must not import them (issue 20: start-up CPU of every analyze), and an analyze without a
prior course never imports SimpleITK. PyYAML is needed only by a YAML protocol or name mapping file.

Oracles: ``sys.modules`` of a fresh interpreter after the imports, and, in a fresh interpreter running
``dosimetry analyze`` on the sample patient, the dosimetry module whose code first imported each
package (a module-level import runs at start-up, before any use, so it would be the first one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PATIENT = REPO / "sample_data" / "patient01"

#: The packages made lazy and the dosimetry packages that may import them during a run: the DVH shape
#: end caps (scipy.ndimage, scipy.spatial at run time) and the report's dose planes (scipy.interpolate
#: at module level in dosimetry/report/planes.py, outside this change).
LAZY = ("scipy.interpolate", "scipy.ndimage")
ALLOWED_FIRST_IMPORTERS = ("dosimetry.dvh.", "dosimetry.report.")

MODULES_WITHOUT_THEM = (
    "dosimetry.cli.commands.analyze",
    "dosimetry.patient.facade",
    "dosimetry.align",
    "dosimetry.align.resample",
    "dosimetry.align.deformable",
    "dosimetry.patient.registration_quality",
    "dosimetry.patient.recovery",
    "dosimetry.align.register",
    "dosimetry.patient.deformable",
)


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_analyze_modules_imports_neither_scipy_interpolate_nor_ndimage_nor_simpleitk_nor_yaml() -> None:
    imports = "".join(f"import {name}\n" for name in (*MODULES_WITHOUT_THEM, "dosimetry.constraints.protocol", "dosimetry.constraints.naming"))
    watched = (*LAZY, "SimpleITK", "yaml")
    out = _run_python(
        "import json, sys\n" + imports + f"print(json.dumps(sorted(k for k in sys.modules if k.startswith({watched!r}))))\n"
    )
    assert json.loads(out) == []


def test_analyze_without_a_prior_course_or_protocol_imports_neither_simpleitk_nor_yaml(tmp_path: Path) -> None:
    code = (
        "import contextlib, io, json, sys\n"
        "import dosimetry.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = m.main(['analyze', {str(SAMPLE_PATIENT / 'current')!r}, '--no-prior', '--out', {str(tmp_path / 'out')!r}])\n"
        "print(json.dumps([code, sorted(k for k in sys.modules if k.startswith(('SimpleITK', 'yaml')))]))\n"
    )
    exit_code, modules = json.loads(_run_python(code))
    assert exit_code == 0
    assert (tmp_path / "out" / "results.json").is_file()
    assert modules == []


def test_analyze_of_the_sample_patient_imports_them_only_from_the_modules_that_use_them(tmp_path: Path) -> None:
    if not SAMPLE_PATIENT.is_dir():
        pytest.fail(f"sample patient missing: {SAMPLE_PATIENT}")
    code = (
        "import contextlib, io, json, sys\n"
        f"WATCH = {LAZY!r}\n"
        "first = {}\n"
        "class Recorder:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in WATCH and name not in first:\n"
        "            frame = sys._getframe(1)\n"
        "            while frame is not None and not frame.f_globals.get('__name__', '').startswith('dosimetry.'):\n"
        "                frame = frame.f_back\n"
        "            first[name] = None if frame is None else frame.f_globals['__name__']\n"
        "        return None\n"
        "sys.meta_path.insert(0, Recorder())\n"
        "import dosimetry.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    code = m.main(['analyze', {str(SAMPLE_PATIENT)!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "print(json.dumps([code, first]))\n"
    )
    exit_code, first = json.loads(_run_python(code))
    assert exit_code == 0
    assert (tmp_path / "out" / "results.json").is_file()
    for name, importer in first.items():
        assert importer is not None and importer.startswith(ALLOWED_FIRST_IMPORTERS), (name, importer)
