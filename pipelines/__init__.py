"""Batch orchestration built on the :mod:`dosimetry` library."""
