"""Issue 12, item 4: no traceback for any bad argument. Every command of ``tokenport.cli.app``
(found by walking the click app), every option that takes a value, fed bad values (non-hex
ids, negative and huge numbers, missing files, empty strings, unknown choices and names):
a non-zero exit, ONE line on stderr starting with "Error", and no Python traceback.

The commands run in this process through ``tokenport.cli.main`` (the console entry point),
with a temporary TOKENPORT_HOME holding one initialized token; an exception escaping
``main`` (a traceback for a user) fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from tokenport.cli import app, main

SO_PIN = "so-pin-5678"
USER_PIN = "user-pin-1234"
HUGE = "9" * 30
MISSING = "/nonexistent/tokenport-test/file"

BAD_NUMBERS = ["zz", "-1", HUGE, ""]
BAD_PATHS = [MISSING, ""]
BAD_CHOICES = ["bogus", ""]

BAD_TEXT: dict[str, list[str]] = {
    "id_hex": ["zz", "1", "0x01"],
    "key_type": ["elgamal", "", "ec:p999", "rsa:zz", "rsa:-1", f"rsa:{HUGE}", "aes:7",
                 "hmac:sha256:zz", "hmac:md5", f"hkdf:{HUGE}", "dsa:1024", "ml-dsa-11"],
    "generate": ["elgamal", "ec:p999", "rsa:1024", "rsa:zz", ""],
    "token_name": ["nope", "pkcs11:token=nope", "pkcs11:%zz", ""],
    "token_label": ["nope"],
    "uri_text": ["http://example.com/", "pkcs11:object=nope;type=private", "pkcs11:foo=bar", ""],
    "serial": ["nope", ""],
    "pin_env": ["TOKENPORT_TEST_UNSET_VARIABLE", ""],
    "so_pin_env": ["TOKENPORT_TEST_UNSET_VARIABLE", ""],
    "new_pin_env": ["TOKENPORT_TEST_UNSET_VARIABLE", ""],
    "pin": ["", "wrong-pin"],
    "so_pin": ["", "wrong-pin"],
    "module": [MISSING, ""],
    "groups": ["nonesuch"],
    "tcti": ["bogus", "", "device:/nonexistent/tpmrm0", "swtpm:host=127.0.0.1,port=1"],
}
"""Bad values of the free-text options, by parameter name."""

BAD_TEXT_BY_COMMAND: dict[tuple[str, str], list[str]] = {
    ("token init", "label"): ["x" * 40],
    ("codesign verify", "label"): ["nope"],
    ("codesign sign", "label"): ["nope"],
    ("object export", "label"): ["nope"],
    ("object delete", "label"): ["nope"],
    ("provision", "subject"): ["garbage", "CN", ""],
    ("token init", "so_pin"): [""], ("token init", "pin"): [""],  # a new token: any PIN
    ("quickstart", "so_pin"): [""],
}
"""Bad values of options whose meaning depends on the command."""

ANY_TEXT = {
    ("token repair", "label"), ("key generate", "label"), ("object import", "label"),
    ("quickstart", "label"), ("object import", "key_password_env"),
    ("provision", "key_password_env"), ("store check", "pin"),
}
"""Free text every value of which is acceptable (labels of new objects, the password of an
unencrypted file); `store check` reports a wrong PIN as a finding (stdout, exit 1: see
test_store_cli)."""

EXTRA_ARGS: dict[tuple[str, str], list[str]] = {
    ("provision", "subject"): ["--csr", "{tmp}/device.csr"],
    **{("quickstart", name): ["--label", "fresh"] for name in ("so_pin", "so_pin_env", "so_pin_file")},
}
"""Options that are only read together with another one (quickstart reads the SO PIN only
to create a token)."""


def commands() -> Iterator[tuple[str, click.Command]]:
    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[str, click.Command]]:
        if isinstance(command, click.Group):  # through click's API: the top group is lazy
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                yield from walk(sub, [*path, name])
        if path and command.callback is not None:
            yield " ".join(path), command

    return walk(app, [])


COMMANDS = dict(commands())


def bad_values(path: str, param: click.Parameter) -> list[str]:
    """The bad values of one parameter (a parameter with none fails the test: classify it)."""
    kind = param.type
    if isinstance(kind, click.Choice):
        return BAD_CHOICES
    if isinstance(kind, (click.types.IntParamType, click.IntRange)):
        return BAD_NUMBERS
    if isinstance(kind, click.Path):
        return BAD_PATHS
    name = param.name or ""
    if (path, name) in BAD_TEXT_BY_COMMAND:
        return BAD_TEXT_BY_COMMAND[(path, name)]
    if (path, name) in ANY_TEXT:
        return []
    if name in BAD_TEXT:
        return BAD_TEXT[name]
    raise AssertionError(f"{path} --{name}: add its bad values to BAD_TEXT or it to ANY_TEXT")


def valid_value(path: str, param: click.Parameter, tmp: Path) -> str:
    """A good value for a required parameter, so that the bad value is what fails."""
    from tokenport.abi import module_path

    values = {
        "label": "x", "file": str(tmp / "cert.pem"), "image": str(tmp / "image.bin"),
        "sig_file": str(tmp / "image.sig"), "out": str(tmp / "out.bin"),
        "serial": "0000", "module": module_path(),
    }
    name = param.name or ""
    if path == "store import" and name == "file":
        return str(tmp / "store.export")
    return values[name]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = tmp_path / "home"
    for name in ("TOKENPORT_CONF", "TOKENPORT_NEW_PIN", "TOKENPORT_TEST_UNSET_VARIABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOKENPORT_HOME", str(store))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TOKENPORT_SO_PIN", SO_PIN)
    monkeypatch.setenv("TOKENPORT_PIN", USER_PIN)
    monkeypatch.setenv("TOKENPORT_NEW_PIN", "new-pin-9999")
    (tmp_path / "image.bin").write_bytes(b"firmware image")
    (tmp_path / "image.sig").write_bytes(b"not a signature")
    assert run(["token", "init", "--label", "dev"])[0] == 0
    assert run(["key", "generate", "--type", "ec", "--label", "Code Verify Key"])[0] == 0
    assert run(["object", "export", "--type", "pubkey", "--label", "Code Verify Key",
                "--out", str(tmp_path / "cert.pem")])[0] == 0
    assert run(["store", "export", "--out", str(tmp_path / "store.export")])[0] == 0
    return tmp_path


def run(args: list[str]) -> tuple[int, str]:
    """Run the console entry point; (exit code, what it printed on stderr). An exception
    other than SystemExit escaping ``main`` is a traceback for the user: the test fails."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:  # noqa: BLE001 - what a user would see as a traceback
            return -1, f"Traceback: {exc!r}"
        else:
            code = 0
    return code, err.getvalue()


def test_the_walk_finds_every_command() -> None:
    assert {"token init", "key generate", "object import", "provision", "provision status",
            "codesign verify", "qualify", "entropy seed", "store check"} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_bad_values_give_one_error_line(home: Path, path: str) -> None:
    command = COMMANDS[path]
    if path == "qualify":  # the suite refuses a token holding objects under its own labels
        assert run(["object", "delete", "--label", "Code Verify Key"])[0] == 0
    required = [p for p in command.params if p.required]
    problems = []
    for param in command.params:
        if isinstance(param, click.Option) and (param.is_flag or param.count):
            continue
        for value in bad_values(path, param):
            base: list[str] = []
            for other in required:
                if other is param:
                    continue
                good = valid_value(path, other, home)
                base += [good] if isinstance(other, click.Argument) else [other.opts[0], good]
            given = [value] if isinstance(param, click.Argument) else [param.opts[0], value]
            extra = [a.replace("{tmp}", str(home)) for a in EXTRA_ARGS.get((path, param.name or ""), [])]
            if path == "qualify":  # an accepted value would run the suite (and exit 0)
                extra.append("--allow-existing-objects")
            args = [*path.split(), *base, *given, *extra]
            code, err = run(args)
            lines = err.strip().splitlines()
            if code == 0 or len(lines) != 1 or not lines[0].startswith("Error") \
                    or "Traceback" in err:
                problems.append(f"{' '.join(args)!r}: exit {code}, stderr {err!r}")
    assert not problems, "\n".join(problems)
