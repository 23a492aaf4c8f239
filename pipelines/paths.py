"""Safe output paths built from untrusted values (DICOM PatientID, folder names).

A PatientID is free text chosen by whoever exported the data: ``../../x``, ``/etc/passwd``,
``a/b``, ``..``, ``CON``, a NUL byte or 500 characters are all valid DICOM LO values. Nothing built
from such a value may escape the output folder, collide with another patient, or be unusable on
Windows. Two layers protect the output tree:

* :func:`safe_component` maps any string to one safe path component: only ``[A-Za-z0-9._-]``,
  no leading dot or dash, not a Windows reserved device name, at most :data:`MAX_COMPONENT_CHARS`
  characters. A value that is already safe is kept unchanged (readable folders); any value that
  had to be changed gets a suffix of its SHA-256, so two different hostile values never map to
  the same name. The mapping is deterministic (no randomness, no clock).
* :func:`inside` joins path parts under a root and refuses (``OutputError``) any result that does
  not resolve inside the root (``..``, absolute parts, symlinks pointing out).

:func:`unique_keys` makes a set of names unique case-insensitively (macOS and Windows file systems
fold case), again deterministically.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from dosimetry.errors import OutputError

#: Longest component produced, hash suffix included (well below the 255-byte limit of most file systems).
MAX_COMPONENT_CHARS = 64
_HASH_CHARS = 10
_ALLOWED = re.compile(r"[A-Za-z0-9._-]")
_SAFE_FULL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in range(10)]
    + [f"LPT{i}" for i in range(10)]
    + ["COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"]
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _is_windows_reserved(name: str) -> bool:
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    return stem in _WINDOWS_RESERVED


def is_safe_component(name: str) -> bool:
    """True when ``name`` is usable as-is as one path component on POSIX and Windows."""
    return (
        0 < len(name) <= MAX_COMPONENT_CHARS
        and _SAFE_FULL.fullmatch(name) is not None
        and not name.endswith(".")
        and not _is_windows_reserved(name)
    )


def safe_component(value: str, *, fallback: str = "patient") -> str:
    """One safe, deterministic path component for an untrusted ``value`` (see the module docstring)."""
    if is_safe_component(value):
        return value
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    cleaned = "".join(ch if _ALLOWED.fullmatch(ch) else "_" for ch in ascii_value)
    cleaned = re.sub(r"_+", "_", cleaned).strip("._- ")
    if not cleaned:
        cleaned = fallback
    if _is_windows_reserved(cleaned):
        cleaned = f"_{cleaned}"
    suffix = "-" + _digest(value)[:_HASH_CHARS]
    cleaned = cleaned[: MAX_COMPONENT_CHARS - len(suffix)].rstrip("._-") or fallback
    result = cleaned + suffix
    assert is_safe_component(result), result  # construction invariant, covered by property tests
    return result


def unique_keys(candidates: Sequence[tuple[str, str]]) -> list[str]:
    """Unique safe names for ``(preferred value, disambiguator)`` pairs, in the same order.

    Each preferred value goes through :func:`safe_component`. Names that collide with another
    (ignoring case) all get a suffix from the SHA-256 of their disambiguator (for example the
    patient's source folder), lengthened until unique. The result depends only on the pairs.
    """
    disambiguators = [d for _, d in candidates]
    if len(set(disambiguators)) != len(disambiguators):
        raise OutputError(f"unique_keys needs distinct disambiguators, got duplicates in {disambiguators}")
    base = [safe_component(value) for value, _ in candidates]
    counts: dict[str, int] = {}
    for name in base:
        counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    result: list[str] = []
    taken = {name.casefold() for name in base if counts[name.casefold()] == 1}
    for name, (_, disambiguator) in zip(base, candidates, strict=True):
        if counts[name.casefold()] == 1:
            result.append(name)
            continue
        digest = _digest(disambiguator)
        for width in range(8, len(digest) + 1, 4):
            suffix = "-" + digest[:width]
            candidate = name[: MAX_COMPONENT_CHARS - len(suffix)].rstrip("._-") + suffix
            if candidate.casefold() not in taken:
                break
        else:  # pragma: no cover - needs a SHA-256 collision
            raise OutputError(f"cannot make a unique output name for {name!r}")
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def inside(root: Path, *parts: str | Path) -> Path:
    """``root / parts...``, resolved, guaranteed to lie inside ``root`` (else ``OutputError``).

    The result may not exist yet; symlinks already on disk are followed, so a link pointing out of
    ``root`` is refused too.
    """
    root_resolved = Path(root).resolve()
    candidate = root_resolved.joinpath(*[str(p) for p in parts])
    if "\x00" in str(candidate):
        raise OutputError(f"output path contains a NUL character: {candidate!r}")
    resolved = candidate.resolve()
    if resolved == root_resolved or not resolved.is_relative_to(root_resolved):
        raise OutputError(f"output path {candidate} resolves to {resolved}, outside the output folder {root_resolved}")
    return resolved
