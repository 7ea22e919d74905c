"""The code blocks of the documentation, as the docs test runs them.

Every fenced block of README.md and docs/*.md whose language is ``sh``, ``bash`` or
``python`` is runnable and runs, in order, in a fresh HOME and store. A comment line right
above a block can change that (the reason is part of the doc, for its readers too):

``<!-- docs-test: skip REASON -->``
    the block does not run (a real device, a system-wide change, the test suite itself);
    REASON is required.
``<!-- docs-test: file NAME -->``
    the block (any language: toml, ini ...) is written to NAME in the working directory
    instead of running, as the text tells the reader to save it.
``<!-- docs-test: installed -->``
    a block that starts with ``pip install ... &&``: the test runs what follows the ``&&``,
    the package being installed already.

Other fences (bare, ``toml``, ``ini``, ``text``) are output or file samples and do not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = {"sh": "sh", "bash": "sh", "python": "python"}
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<verb>\S+)\s*(?P<arg>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})(?P<lang>[\w+-]*)\s*$")
PIP_PREFIX = re.compile(r"^pip install [^&\n]+&&\s*")


class DocsMarkupError(ValueError):
    """A docs-test marker the runner does not understand (a typo must not skip a block)."""


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and what the test does."""

    doc: Path
    line: int
    lang: str
    text: str
    action: str  # "run", "skip", "file" or "sample"
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.doc.name}:{self.line}"

    @property
    def kind(self) -> str:
        """"sh" or "python" for a block that runs."""
        return RUNNABLE.get(self.lang, "")


def extract(doc: Path) -> list[Block]:
    """The fenced blocks of ``doc`` in order, each with its action."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    marker: tuple[str, str] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        found = MARKER.match(line.strip())
        if found:
            marker = (found["verb"], found["arg"])
            if marker[0] not in ("skip", "file", "installed"):
                raise DocsMarkupError(f"{doc.name}:{index + 1}: unknown docs-test marker {line!r}")
            if marker[0] in ("skip", "file") and not marker[1]:
                raise DocsMarkupError(f"{doc.name}:{index + 1}: '{marker[0]}' needs an argument")
            index += 1
            continue
        fence = FENCE.match(line)
        if fence is None:
            if line.strip() and marker is not None:
                raise DocsMarkupError(
                    f"{doc.name}:{index + 1}: a docs-test marker must be right above a block"
                )
            index += 1
            continue
        start = index + 1
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence["fence"]:
            body.append(lines[index][len(fence["indent"]):])
            index += 1
        index += 1
        text = "\n".join(body) + "\n"
        lang = fence["lang"]
        action, argument = ("run" if lang in RUNNABLE else "sample"), ""
        if marker is not None:
            verb, argument = marker
            if verb == "skip":
                action = "skip"
            elif verb == "file":
                action = "file"
            elif verb == "installed":
                if not PIP_PREFIX.match(text):
                    raise DocsMarkupError(f"{doc.name}:{start}: 'installed' block has no pip install &&")
                text = PIP_PREFIX.sub("", text, count=1)
        blocks.append(Block(doc, start, lang, text, action, argument))
        marker = None
    if marker is not None:
        raise DocsMarkupError(f"{doc.name}: a docs-test marker at the end, above no block")
    return blocks
