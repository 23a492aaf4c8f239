"""dosimetry: dosimetry and BED analysis for carbon-ion re-irradiation.

Units inside the library: Gy (Gy(RBE), written GyE, for RBE-weighted dose), mm, cc.
Coordinates: DICOM patient coordinates (LPS).

Start here::

    import dosimetry
    plan = dosimetry.load_patient("sample_data/patient01")   # or dosimetry.Patient.from_sample()
    print(plan.check())
    plan.results().summary()

``load_patient`` and ``Patient`` are imported on first use (``import dosimetry`` stays light, so the
command line starts fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dosimetry.patient import AnalysisResults, Patient, load_patient

    __version__: str

__all__ = ["AnalysisResults", "Patient", "__version__", "load_patient"]

_LAZY = {"load_patient", "Patient", "AnalysisResults"}


def _installed_version() -> str:
    # importlib.metadata costs about 35 ms of start-up: read only when asked
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dosimetry")
    except PackageNotFoundError:
        return "unknown (a source tree that was not installed with pip)"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _installed_version()
    if name in _LAZY:
        from dosimetry import patient

        return getattr(patient, name)
    raise AttributeError(f"module 'dosimetry' has no attribute {name!r}")
