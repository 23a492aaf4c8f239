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

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("dosimetry")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

if TYPE_CHECKING:
    from dosimetry.patient import AnalysisResults, Patient, load_patient

__all__ = ["AnalysisResults", "Patient", "__version__", "load_patient"]

_LAZY = {"load_patient", "Patient", "AnalysisResults"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from dosimetry import patient

        return getattr(patient, name)
    raise AttributeError(f"module 'dosimetry' has no attribute {name!r}")
