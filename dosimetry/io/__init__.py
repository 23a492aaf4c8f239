"""DICOM input and output."""
