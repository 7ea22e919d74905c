"""`tokenport openssl-conf` and `tokenport p11-kit-module`: the configuration files that let
OpenSSL (through the libp11 engine) and p11-kit (hence GnuTLS and p11tool) load the
tokenport PKCS #11 module, written with the real paths filled in.

PKCS #11 v2.40 s6.1 leaves finding a module to the application: OpenSSL's engine reads
MODULE_PATH from its config file, p11-kit reads ``module:`` lines from pkcs11.conf(5) module
files (``~/.config/pkcs11/modules/`` for a user, ``/etc/pkcs11/modules/`` for the system).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import click

from tokenport.cli.common import fail

#: Where Debian-family and other distributions install libp11's engine (libengine-pkcs11-openssl).
ENGINE_GLOBS = (
    "/usr/lib/*-linux-gnu*/engines-3/pkcs11.so",
    "/usr/lib64/engines-3/pkcs11.so",
    "/usr/lib/engines-3/pkcs11.so",
    "/usr/local/lib*/engines-3/pkcs11.so",
    "/usr/lib/*-linux-gnu*/engines-1.1/pkcs11.so",
    "/usr/lib64/engines-1.1/pkcs11.so",
    "/usr/lib/engines-1.1/pkcs11.so",
)
ENGINE_MISSING = (
    "the libp11 OpenSSL engine (pkcs11.so) is not installed: looked in {places}; install it "
    "('apt install libengine-pkcs11-openssl' on Debian/Ubuntu, 'dnf install "
    "openssl-pkcs11' on Fedora) or give its path with --engine"
)
MODULE_FILE = "tokenport.module"
SYSTEM_MODULES = Path("/etc/pkcs11/modules")


def find_engine() -> Path | None:
    """The first libp11 engine found under the usual paths (OpenSSL 3 before 1.1), or None."""
    for pattern in ENGINE_GLOBS:
        for found in sorted(glob.glob(pattern)):
            if Path(found).is_file():
                return Path(found)
    return None


def openssl_config(module: str, engine: str) -> str:
    """An OpenSSL configuration that loads the libp11 engine (engine id ``pkcs11``) with the
    tokenport module; keys are then named by ``pkcs11:`` URIs (RFC 7512)."""
    return (
        "# OpenSSL configuration for the tokenport PKCS #11 token (written by\n"
        "# 'tokenport openssl-conf'). Use: OPENSSL_CONF=<this file> openssl ... -engine pkcs11\n"
        "#   -keyform engine -key 'pkcs11:token=...;object=...;type=private'\n"
        "openssl_conf = openssl_init\n\n"
        "[openssl_init]\nengines = engine_section\n\n"
        "[engine_section]\npkcs11 = pkcs11_section\n\n"
        "[pkcs11_section]\n"
        "engine_id = pkcs11\n"
        f"dynamic_path = {engine}\n"
        f"MODULE_PATH = {module}\n"
        "init = 0\n"
    )


def user_modules_dir() -> Path:
    """p11-kit's user module directory: ``~/.config/pkcs11/modules``, where p11-kit reads
    ``~/.config`` as $XDG_CONFIG_HOME when that is set (pkcs11.conf(5))."""
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and os.path.isabs(config) else Path.home() / ".config"
    return base / "pkcs11" / "modules"


def _module_path() -> str:
    from tokenport.abi import module_path

    try:
        return module_path()
    except (FileNotFoundError, ImportError) as exc:
        raise click.ClickException(str(exc)) from None


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path``; a missing folder or a refused write is one clear line."""
    try:
        path.write_text(text)
    except FileNotFoundError:
        fail(f"cannot write {path}: the folder {path.parent} does not exist")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


@click.command("openssl-conf")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the configuration to this file instead of printing it.")
@click.option("--engine", "engine", type=click.Path(dir_okay=False, path_type=Path),
              help="Path of libp11's pkcs11.so engine (default: found under the usual paths).")
@click.option("--module", "module", type=click.Path(dir_okay=False, path_type=Path),
              help="The PKCS #11 module for MODULE_PATH (default: tokenport's; e.g. "
                   "p11-kit-client.so to reach a p11-kit server).")
def openssl_conf_command(out: Path | None, engine: Path | None, module: Path | None) -> None:
    """Print (or write with --out) an OpenSSL configuration for the libp11 engine, with the
    engine path and tokenport's module path filled in.

    \b
    Example:
      tokenport openssl-conf --out tokenport-openssl.cnf
      OPENSSL_CONF=tokenport-openssl.cnf openssl pkeyutl -engine pkcs11 -keyform engine \\
        -inkey 'pkcs11:token=tokenport;object=Device%20Priv%20TLS%20Key;type=private' ...
    """
    if engine is None:
        engine = find_engine()
        if engine is None:
            fail(ENGINE_MISSING.format(places=", ".join(ENGINE_GLOBS[:3]) + " ..."))
    elif not engine.is_file():
        fail(f"no such engine file: {engine}")
    assert engine is not None
    if module is not None and not module.is_file():
        fail(f"no such module file: {module}")
    text = openssl_config(str(module.resolve()) if module else _module_path(), str(engine))
    if out is None:
        click.echo(text, nl=False)
        return
    _write(out, text)
    click.echo(f"Wrote {out}: use it with OPENSSL_CONF={out}", err=True)


@click.command("p11-kit-module")
@click.option("--user", "scope", flag_value="user", default=True,
              help="Register for the current user: ~/.config/pkcs11/modules (default).")
@click.option("--system", "scope", flag_value="system",
              help="Register for all users: /etc/pkcs11/modules (needs root).")
@click.option("--out", "out", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Write tokenport.module into this existing folder instead.")
@click.option("--print", "print_only", is_flag=True, help="Print the file instead of writing it.")
def p11_kit_module_command(scope: str, out: Path | None, print_only: bool) -> None:
    """Write a p11-kit module file (pkcs11.conf(5)) naming tokenport's module, so that
    `p11-kit list-modules`, GnuTLS (p11tool, gnutls-cli) and every p11-kit-proxy user find
    tokenport without flags.

    p11-kit ignores user module files in programs running as root: as root, use --system.
    """
    text = f"# p11-kit module file for tokenport (written by 'tokenport p11-kit-module')\nmodule: {_module_path()}\n"
    if print_only:
        click.echo(text, nl=False)
        return
    folder = out if out is not None else (SYSTEM_MODULES if scope == "system" else user_modules_dir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create the folder {folder}: {exc.strerror or exc}")
    target = folder / MODULE_FILE
    _write(target, text)
    click.echo(f"Wrote {target}")
    if out is None and scope == "user" and os.geteuid() == 0:
        click.echo("Note: p11-kit ignores user module files in programs running as root; "
                   "run 'tokenport p11-kit-module --system' to register tokenport for root.",
                   err=True)
