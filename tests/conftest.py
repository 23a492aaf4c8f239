"""Test-wide settings: hypothesis draws its examples deterministically (derandomize), so a run on a
fresh clone (CI, a newcomer's machine) tries exactly the examples every other run tries; set
HYPOTHESIS_PROFILE=explore to search with fresh random examples instead."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
