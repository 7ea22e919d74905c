"""The `tokenport` command: tokens, PINs, objects, keys, mechanisms, and the module path."""

from __future__ import annotations

import click

from tokenport import __version__
from tokenport.cli.info import mechanisms_command, module_path_command, quickstart_command
from tokenport.cli.keys import key_group
from tokenport.cli.objects import object_group
from tokenport.cli.pins import pin_group
from tokenport.cli.tokens import token_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tokenport")
def main() -> None:
    """tokenport: a PKCS #11 software token you can load into any PKCS #11 application.

    The store lives in $TOKENPORT_HOME, else the [store] path of the config file
    ($TOKENPORT_CONF or ~/.config/tokenport/tokenport.toml), else
    ~/.local/share/tokenport. PINs come from a prompt, from TOKENPORT_PIN /
    TOKENPORT_SO_PIN, or from the --pin-env / --pin-file options.
    """


main.add_command(token_group)
main.add_command(pin_group)
main.add_command(object_group)
main.add_command(key_group)
main.add_command(mechanisms_command)
main.add_command(module_path_command)
main.add_command(quickstart_command)
