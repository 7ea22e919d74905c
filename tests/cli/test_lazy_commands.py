"""`tokenport <command>` imports only that command's module (issue 12, "a fast command
line"): the lazy group lists every command, loads each on first use, and a plain
`token list` does not load code signing, provisioning, qualification or pyca."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from tokenport.cli import COMMANDS, app

PROBE = """
import json, sys
from tokenport.cli import main
try:
    main(["token", "list"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("tokenport.cli.", "cryptography"))
                        or m in ("tokenport.codesign", "tokenport.provisioning", "tokenport.qualify"))),
      file=sys.stderr)
"""


def test_every_command_is_listed_and_loads(tmp_path: Path) -> None:
    ctx = click.Context(app)
    assert app.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = app.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert app.get_command(ctx, "no-such-command") is None


def test_token_list_loads_only_its_own_module(tmp_path: Path) -> None:
    env = dict(os.environ, TOKENPORT_HOME=str(tmp_path / "store"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert "tokenport.cli.tokens" in loaded
    heavy = [m for m in loaded if m.startswith(("tokenport.cli.codesign", "tokenport.cli.provision",
                                                 "tokenport.cli.qualify", "tokenport.codesign",
                                                 "tokenport.provisioning", "tokenport.qualify"))]
    assert heavy == []
