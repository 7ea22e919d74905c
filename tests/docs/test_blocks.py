"""The docs test's block extraction: markers, and that no runnable block goes unnoticed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .blocks import DocsMarkupError, extract
from .test_docs_run import DOCS


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text)
    return path


def test_blocks_and_markers(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        "```sh\necho a\n```\n\n<!-- docs-test: skip needs a real TPM -->\n```sh\nrm -rf /\n```\n"
        "<!-- docs-test: file conf/x.toml -->\n```toml\na = 1\n```\n"
        "<!-- docs-test: installed -->\n```sh\npip install . && tokenport quickstart\n```\n"
        "```\noutput\n```\n```python\nprint(1)\n```\n",
    )
    blocks = extract(doc)
    assert [(b.lang, b.action, b.argument) for b in blocks] == [
        ("sh", "run", ""),
        ("sh", "skip", "needs a real TPM"),
        ("toml", "file", "conf/x.toml"),
        ("sh", "run", ""),
        ("", "sample", ""),
        ("python", "run", ""),
    ]
    assert blocks[3].text == "tokenport quickstart\n"
    assert blocks[0].line == 1 and blocks[0].text == "echo a\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- docs-test: skp x -->\n```sh\necho\n```\n", "unknown docs-test marker"),
        ("<!-- docs-test: skip -->\n```sh\necho\n```\n", "needs an argument"),
        ("<!-- docs-test: skip x -->\ntext\n```sh\necho\n```\n", "right above a block"),
        ("<!-- docs-test: installed -->\n```sh\necho\n```\n", "no pip install"),
        ("```sh\necho\n```\n<!-- docs-test: skip x -->\n", "above no block"),
    ],
)
def test_bad_markers_fail_loudly(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DocsMarkupError, match=message):
        extract(_doc(tmp_path, text))


def test_every_doc_parses_and_skips_say_why() -> None:
    """A typo in a marker fails here, and every skipped block carries its reason."""
    for doc in DOCS:
        for block in extract(doc):
            if block.action == "skip":
                assert len(block.argument) > 10, f"{block.where}: give the reason in words"


def test_the_readme_quickstart_runs() -> None:
    """The README's first command is the quickstart, and the docs test runs it."""
    first = extract(DOCS[0])[0]
    assert first.action == "run" and "tokenport quickstart" in first.text
