"""Reading the NIST-style ("key = value" records, "[section]" headers) vector files of
tests/vectors/ (see tests/vectors/curves/README.md for their sources)."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def records(relative: str, start: str) -> list[dict[str, str]]:
    """The records of a vector file; a record begins at a line whose key is ``start``. Each
    record also gets the ``section`` header it appeared under (or "")."""
    found: list[dict[str, str]] = []
    section = ""
    for raw in (VECTORS / relative).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == start:
            found.append({"section": section})
        if found:
            found[-1][key] = value
    return found
