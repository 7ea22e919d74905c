"""docs/mechanisms.md lists exactly the mechanisms the registry offers, with the data that
C_GetMechanismInfo reports and the standard each comes from (issue 11, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from tokenport.cli import app
from tokenport.cli.info import mechanism_rows, mechanism_table
from tokenport.mechanisms import default_registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "mechanisms.md"


def test_docs_table_is_the_generated_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- mechanisms:begin -->\n(.*)<!-- mechanisms:end -->", text, re.DOTALL)
    assert match is not None, "markers missing in docs/mechanisms.md"
    assert match.group(1) == mechanism_table(mechanism_rows()), (
        "docs/mechanisms.md is stale: run `python3 -m tokenport mechanisms --markdown`")


def test_every_mechanism_names_its_standard() -> None:
    missing = [hex(spec.mechanism) for spec in default_registry() if not spec.standard.strip()]
    assert missing == []


def test_markdown_option_prints_one_row_per_mechanism() -> None:
    result = CliRunner().invoke(app, ["mechanisms", "--markdown"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| CKM_")]
    assert len(rows) == len(default_registry())
    assert any(row.startswith("| CKM_ECDSA |") and "FIPS 186-4" in row for row in rows)
