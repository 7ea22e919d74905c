"""SP 800-90A DRBGs against the NIST CAVP response files: every vector of the
``[AES-256 use df]`` sections (CTR_DRBG) and of the ``[SHA-256]`` sections (HMAC_DRBG) of
no_reseed, pr_false and pr_true.

The vectors are read from tests/data/nist-drbg/, copies of exactly those sections of the
CAVS 14.3 response files (each copy names its source in its first lines). When the
original files are at hand (../shared/vectors/nist-drbg/ next to the clone, as in CI),
a test also checks that the copies hold the same vectors as the originals.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tokenport.backends.entropy.selftest import FieldList, cavp_returned_bits

DATA = Path(__file__).resolve().parents[2] / "data" / "nist-drbg"
ORIGINALS = Path(__file__).resolve().parents[4] / "shared" / "vectors" / "nist-drbg"

SECTIONS = {"ctr": ("CTR", "AES-256 use df"), "hmac": ("HMAC", "SHA-256")}
VARIANTS = ("no_reseed", "pr_false", "pr_true")
EXPECTED_COUNT = 240  # 16 parameter groups x 15 vectors in each section of each file


def parse(path: Path, section: str) -> list[tuple[str, FieldList]]:
    """(id, fields) of every COUNT block of ``section`` in a CAVP response file."""
    blocks: list[tuple[str, FieldList]] = []
    current: str | None = None
    params: list[str] = []  # the group's parameter lines (kept for debugging)
    fields: list[tuple[str, str]] | None = None

    def close() -> None:
        if fields is not None:
            blocks.append((f"group{groups}-count{count}", tuple(fields)))

    count = ""
    groups = 0
    for raw in path.read_text(encoding="ascii").splitlines():
        line = raw.strip()
        header = re.fullmatch(r"\[([^=\]]+)\]", line)
        if header:
            close()
            fields = None
            current, params = header.group(1), []
            groups += current == section
            continue
        param = re.fullmatch(r"\[(\w+) = (\w+)\]", line)
        if param:
            close()
            fields = None
            params.append(f"{param.group(1)}={param.group(2)}")
            continue
        if current != section or not line or line.startswith("#"):
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        if name == "COUNT":
            close()
            fields, count = [], value
            continue
        assert fields is not None, line
        fields.append((name, value))
    close()
    return blocks


def vectors(drbg: str, variant: str, root: Path = DATA) -> list[tuple[str, FieldList]]:
    prefix, section = SECTIONS[drbg]
    return parse(root / f"{variant}-{prefix}_DRBG.rsp", section)


CASES = [
    pytest.param(drbg, variant, fields, id=f"{drbg}-{variant}-{name}")
    for drbg in SECTIONS
    for variant in VARIANTS
    for name, fields in vectors(drbg, variant)
]


@pytest.mark.parametrize(("drbg", "variant", "fields"), CASES)
def test_vector(drbg: str, variant: str, fields: FieldList) -> None:
    expected = bytes.fromhex(dict(fields)["ReturnedBits"])
    assert cavp_returned_bits(drbg, variant, fields) == expected


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("drbg", list(SECTIONS))
def test_every_vector_of_the_section_is_checked(drbg: str, variant: str) -> None:
    found = vectors(drbg, variant)
    assert len(found) == EXPECTED_COUNT
    assert len({name for name, _ in found}) == EXPECTED_COUNT  # no block read twice
    assert len(CASES) == 6 * EXPECTED_COUNT


@pytest.mark.skipif(not ORIGINALS.is_dir(), reason=f"no original CAVP files at {ORIGINALS}")
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("drbg", list(SECTIONS))
def test_copies_match_the_original_files(drbg: str, variant: str) -> None:
    assert vectors(drbg, variant) == vectors(drbg, variant, ORIGINALS)


def test_a_wrong_answer_is_noticed() -> None:
    """The harness really compares: a flipped bit of the entropy changes the output."""
    _, fields = vectors("ctr", "pr_true")[0]
    flip = {"0": "1"}
    tampered = tuple(
        (key, flip.get(value[0], "0") + value[1:]) if key == "EntropyInputPR" else (key, value)
        for key, value in fields
    )
    expected = bytes.fromhex(dict(fields)["ReturnedBits"])
    assert cavp_returned_bits("ctr", "pr_true", tampered) != expected
