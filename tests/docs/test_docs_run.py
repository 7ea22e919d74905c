"""Every doc runs as written: the shell and Python blocks of README.md and docs/*.md, in
order, in a fresh HOME and default store, with the installed ``tokenport`` command.

One test per document; its blocks share a working directory, a HOME and the shell
variables one block sets for the next (``MODULE=...`` in one block, ``$MODULE`` in the
next), as they would in the reader's terminal. Background processes a block starts (a TLS
server, p11-kit server) are ended when the document is done. What the markers mean, and
which blocks do not run, is in ``blocks``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .blocks import Block, extract

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK_TIMEOUT = 300
STATE_FILTER = r"^declare -x (PWD|OLDPWD|SHLVL|_|BASH[A-Z_]*|DOCS_[A-Z_]*)="

NEEDED_TOOLS = (
    "pkcs11-tool", "openssl", "p11-kit", "p11tool", "gnutls-cli", "curl", "ssh-keygen",
    "mosquitto", "mosquitto_pub", "mosquitto_sub", "softhsm2-util",
)


def _runnable_docs() -> list[Path]:
    return [doc for doc in DOCS if any(block.action == "run" for block in extract(doc))]


def _doc_env(base: Path) -> dict[str, str]:
    home, runtime = base / "home", base / "run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TOKENPORT_", "XDG_", "PKCS11_", "P11_KIT", "OPENSSL_", "PYTEST_"))
    }
    scripts = sysconfig.get_path("scripts")
    python_dir = str(Path(sys.executable).parent)
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(runtime),
        PATH=os.pathsep.join([python_dir, scripts, env.get("PATH", "/usr/bin:/bin")]),
        DOCS_PYTHON=sys.executable,
    )
    return env


class DocRun:
    """A reader's terminal for one document: cwd, HOME and shell variables carried over."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.work = base / "work"
        self.work.mkdir()
        self.env = _doc_env(base)
        self.state = base / "shell-state"
        self.cwd_file = base / "shell-cwd"
        self.cwd_file.write_text(str(self.work))
        self.sessions: list[int] = []
        self.count = 0

    def _script(self, block: Block, body: str) -> Path:
        self.count += 1
        script = self.base / f"block-{self.count:02d}.sh"
        script.write_text(
            "set -euo pipefail\n"
            f'[ -f "{self.state}" ] && source "{self.state}"\n'
            f'cd "$(cat "{self.cwd_file}")"\n'
            "set -a\n"
            f"{body}\n"
            "set +a\n"
            f'export -p | grep -vE "{STATE_FILTER}" > "{self.state}.new"\n'
            f'mv "{self.state}.new" "{self.state}"\n'
            f'pwd > "{self.cwd_file}"\n'
        )
        return script

    def run(self, block: Block) -> None:
        if block.action == "file":
            target = Path(self.cwd_file.read_text().strip()) / block.argument
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
            return
        if block.kind == "python":
            source = self.base / f"block-{self.count + 1:02d}.py"
            source.write_text(block.text)
            body = f'"$DOCS_PYTHON" "{source}"'
        else:
            body = block.text
        script = self._script(block, body)
        out = self.base / f"block-{self.count:02d}.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                ["bash", str(script)], env=self.env, stdin=subprocess.DEVNULL,
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )
            self.sessions.append(proc.pid)
            try:
                code = proc.wait(timeout=BLOCK_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = -1
        if code != 0:
            tail = out.read_text(errors="replace")[-4000:]
            pytest.fail(
                f"{block.where}: the {block.lang} block exited with {code}:\n"
                f"--- block ---\n{block.text}--- output (tail) ---\n{tail}",
                pytrace=False,
            )

    def close(self) -> None:
        """End whatever the blocks left running (servers started with ``&``)."""
        for session in self.sessions:
            try:
                os.killpg(session, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.mark.parametrize("doc", _runnable_docs(), ids=lambda doc: doc.name)
def test_doc_runs_as_written(doc: Path, tmp_path: Path) -> None:
    missing = [tool for tool in NEEDED_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the docs use {', '.join(missing)}, not installed here (.ci/run installs them)")
    terminal = DocRun(tmp_path)
    try:
        for block in extract(doc):
            if block.action in ("run", "file"):
                terminal.run(block)
    finally:
        terminal.close()
