"""A reader for the NIST CAVP ``.rsp`` / ``key = value`` vector files in tests/vectors/."""

from __future__ import annotations

from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


def read_rsp(path: Path) -> list[dict[str, str]]:
    """Each ``COUNT = n`` block as a dict (keys upper-case, with ``SECTION`` the last
    ``[ENCRYPT]`` / ``[DECRYPT]`` header seen)."""
    records: list[dict[str, str]] = []
    section = ""
    current: dict[str, str] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().upper(), value.strip()
        if key == "COUNT":
            current = {"SECTION": section}
            records.append(current)
        if current is not None:
            current[key] = value
    return records
