"""The `tokenport` command: tokens, PINs, objects, keys, mechanisms, and the module path."""

from __future__ import annotations

import sys
from importlib import import_module

import click

from tokenport import __version__

COMMANDS: dict[str, str] = {
    "token": "tokenport.cli.tokens:token_group",
    "pin": "tokenport.cli.pins:pin_group",
    "object": "tokenport.cli.objects:object_group",
    "key": "tokenport.cli.keys:key_group",
    "mechanisms": "tokenport.cli.info:mechanisms_command",
    "module-path": "tokenport.cli.info:module_path_command",
    "quickstart": "tokenport.cli.info:quickstart_command",
    "store": "tokenport.cli.store:store_group",
    "qualify": "tokenport.cli.qualify:qualify_command",
    "provision": "tokenport.cli.provision:provision_group",
    "codesign": "tokenport.cli.codesign:codesign_group",
    "entropy": "tokenport.cli.entropy:entropy_group",
    "tpm": "tokenport.cli.tpm:tpm_group",
    "openssl-conf": "tokenport.cli.setup_files:openssl_conf_command",
    "p11-kit-module": "tokenport.cli.setup_files:p11_kit_module_command",
}
"""Every subcommand and where it lives: a command's module is imported only when that
command runs (or when --help lists them all), so `tokenport token list` does not load the
code-signing, provisioning or qualification code (issue 12, "a fast command line")."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use (COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            module_name, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(import_module(module_name), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name
            self.add_command(command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
