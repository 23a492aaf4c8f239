"""Test suite; helper modules (browser, dicom_factory) are importable as tests.<name>."""
