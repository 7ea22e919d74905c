"""The `tokenport` command: tokens, PINs, objects, keys, mechanisms, and the module path."""

from __future__ import annotations

import sys

import click

from tokenport import __version__
from tokenport.cli.codesign import codesign_group
from tokenport.cli.entropy import entropy_group
from tokenport.cli.info import mechanisms_command, module_path_command, quickstart_command
from tokenport.cli.keys import key_group
from tokenport.cli.objects import object_group
from tokenport.cli.pins import pin_group
from tokenport.cli.provision import provision_group
from tokenport.cli.qualify import qualify_command
from tokenport.cli.setup_files import openssl_conf_command, p11_kit_module_command
from tokenport.cli.store import store_group
from tokenport.cli.tokens import token_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokenport")
def app() -> None:
    """tokenport: a PKCS #11 software token you can load into any PKCS #11 application.

    The config file is the first of: $TOKENPORT_CONF (which must exist),
    $TOKENPORT_HOME/tokenport.toml, $XDG_CONFIG_HOME/tokenport/tokenport.toml (default
    ~/.config/tokenport/tokenport.toml); none: built-in defaults. The store lives in
    $TOKENPORT_HOME, else the [store] path of the config file, else
    $XDG_DATA_HOME/tokenport (default ~/.local/share/tokenport). PINs come from a prompt,
    from TOKENPORT_PIN / TOKENPORT_SO_PIN, or from the --pin-env / --pin-file options.
    """


app.add_command(token_group)
app.add_command(pin_group)
app.add_command(object_group)
app.add_command(key_group)
app.add_command(mechanisms_command)
app.add_command(module_path_command)
app.add_command(quickstart_command)
app.add_command(store_group)
app.add_command(qualify_command)
app.add_command(provision_group)
app.add_command(codesign_group)
app.add_command(entropy_group)
app.add_command(openssl_conf_command)
app.add_command(p11_kit_module_command)


def main(args: list[str] | None = None) -> None:
    """The console entry point: every error is one line on stderr and a non-zero exit."""
    try:
        code = app.main(args=args, prog_name="tokenport", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see 'tokenport {exc.ctx.command_path.partition(' ')[2]} --help')".replace(
            "tokenport  --help", "tokenport --help") if exc.ctx else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
