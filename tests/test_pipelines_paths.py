"""Sanitising output paths built from DICOM values, and the inside-OUT guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.errors import OutputError
from pipelines.paths import MAX_COMPONENT_CHARS, inside, is_safe_component, safe_component, unique_keys


@pytest.mark.parametrize("value", ["P01", "patient_7", "ANON-2024.1", "a" * MAX_COMPONENT_CHARS])
def test_safe_values_are_kept(value: str) -> None:
    assert safe_component(value) == value


@pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("../../x", "x-"),
        ("/etc/passwd", "etc_passwd-"),
        ("a/b", "a_b-"),
        ("a\\b", "a_b-"),
        ("..", "patient-"),
        (".", "patient-"),
        ("", "patient-"),
        ("x\x00y", "x_y-"),
        ("CON", "_CON-"),
        ("nul.txt", "_nul.txt-"),
        ("LPT1", "_LPT1-"),
        ("C:\\Windows", "C_Windows-"),
        (".hidden", "hidden-"),
        ("-rf", "rf-"),
        ("Müller Jörg", "Muller_Jorg-"),
        ("trailing.", "trailing-"),
    ],
)
def test_hostile_values_become_safe_with_hash_suffix(value: str, prefix: str) -> None:
    name = safe_component(value)
    assert name.startswith(prefix)
    assert len(name) == len(prefix) + 10 and all(c in "0123456789abcdef" for c in name[len(prefix):])
    assert is_safe_component(name)
    assert "/" not in name and "\\" not in name and "\x00" not in name and name not in (".", "..")


def test_long_value_is_truncated_and_unique() -> None:
    a, b = "A" * 500 + "1", "A" * 500 + "2"
    assert len(safe_component(a)) == MAX_COMPONENT_CHARS
    assert safe_component(a) != safe_component(b)


def test_deterministic() -> None:
    assert safe_component("../../x") == safe_component("../../x") == "x-" + "9cdf6a5010"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_property_any_text_gives_one_safe_component(value: str) -> None:
    name = safe_component(value)
    assert is_safe_component(name)
    assert Path(name).name == name and len(Path(name).parts) == 1
    assert name == safe_component(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_property_distinct_values_give_distinct_names(a: str, b: str) -> None:
    if a != b:
        assert safe_component(a) != safe_component(b)


def test_unique_keys_separate_case_insensitive_collisions() -> None:
    keys = unique_keys([("ANON", "folder:p1"), ("anon", "folder:p2"), ("P03", "folder:p3"), ("ANON", "folder:p4")])
    assert keys[2] == "P03"
    assert len({k.casefold() for k in keys}) == 4
    assert all(k.casefold().startswith("anon-") for k in (keys[0], keys[1], keys[3]))
    # deterministic and independent of the order of the others
    again = unique_keys([("ANON", "folder:p4"), ("P03", "folder:p3"), ("anon", "folder:p2"), ("ANON", "folder:p1")])
    assert again[0] == keys[3] and again[3] == keys[0]


def test_unique_keys_refuses_duplicate_disambiguators() -> None:
    with pytest.raises(OutputError):
        unique_keys([("a", "x"), ("b", "x")])


def test_inside_accepts_children(tmp_path: Path) -> None:
    assert inside(tmp_path, "patients", "P01") == (tmp_path / "patients" / "P01").resolve()


@pytest.mark.parametrize("part", ["../x", "../../etc/passwd", "/etc/passwd", "a/../../b", ".", "a/.."])
def test_inside_refuses_escapes(tmp_path: Path, part: str) -> None:
    with pytest.raises(OutputError, match="outside the output folder"):
        inside(tmp_path / "out", part)


def test_inside_refuses_nul(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="NUL"):
        inside(tmp_path, "a\x00b")


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_inside_refuses_symlink_pointing_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError):
        inside(out, "link", "file.txt")
