"""dosimetry: dosimetry and BED analysis for carbon-ion re-irradiation.

Units inside the library: Gy (or GyE for RBE-weighted dose), mm, cc.
Coordinates: DICOM patient coordinates (LPS).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dosimetry")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
