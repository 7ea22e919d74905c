"""Readers of the vector files in tests/vectors/hashkdf (see the README there)."""

from __future__ import annotations

import re
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "hashkdf"


def cavp_digests(name: str) -> list[tuple[bytes, str]]:
    """(message, hex digest) pairs of a CAVP ShortMsg subset (Len in bits)."""
    text = (VECTORS / name).read_text()
    out = []
    for length, msg, md in re.findall(r"Len = (\d+)\nMsg = (\w+)\nMD = (\w+)", text):
        out.append((bytes.fromhex(msg)[: int(length) // 8], md))
    return out


def records(name: str) -> list[dict[str, str]]:
    """``KEY = value`` records, each starting at the key its file starts records with
    (COUNT, HASH ...); comments and blank lines are dropped."""
    blocks: list[dict[str, str]] = []
    first: str | None = None
    for line in (VECTORS / name).read_text().splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        first = first or key
        if key == first:
            blocks.append({})
        blocks[-1][key] = value
    return blocks


def text_bytes(value: str) -> bytes:
    """RFC 6070 spells NUL bytes as ``\\0``."""
    return value.replace("\\0", "\0").encode()
