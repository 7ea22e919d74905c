"""The qualification suite: PKCS #11 conformance tests for any module, run through the C ABI.

``run()`` loads a module (a path to a PKCS #11 shared library), picks the slot and names the
token, checks that the run may use it (``safety.preflight``: no objects it did not create
unless allowed, the PINs right, one login each), runs the groups the configuration allows
and writes the porting guide's console report (Unity's format) as it goes. The suite imports nothing from tokenport's token implementation: its
own client (``qualify.p11``) speaks to the module through ``C_GetFunctionList`` like any
C application, and only the spec constants of ``tokenport.ck`` are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tokenport.qualify.config import Config, ConfigError, label_overrides, load_config, parse_config
from tokenport.qualify.groups import GROUPS
from tokenport.qualify.junit import junit_xml, write_junit
from tokenport.qualify.p11 import Client, ModuleLoadError
from tokenport.qualify.runner import (
    Report,
    Result,
    SuiteError,
    choose_slot,
    new_context,
    run_groups,
    select_groups,
)
from tokenport.qualify.safety import PinRefused, Refused, describe_existing, preflight

__all__ = [
    "GROUPS",
    "Config",
    "ConfigError",
    "ModuleLoadError",
    "PinRefused",
    "Refused",
    "Report",
    "Result",
    "SuiteError",
    "junit_xml",
    "load_config",
    "parse_config",
    "run",
    "write_junit",
]


def run(
    module: str,
    config: Config | None = None,
    *,
    slot: int | None = None,
    token_label: str | None = None,
    pin: bytes | None = None,
    so_pin: bytes | None = None,
    groups: Sequence[str] = (),
    write: Callable[[str], None] | None = None,
    allow_existing: bool = False,
) -> Report:
    """Run the suite against the PKCS #11 library at ``module``.

    Raises ModuleLoadError when the file is not a PKCS #11 module and SuiteError when the run
    cannot start (unknown group, no such slot or token), when the token holds objects the run
    did not create and neither ``allow_existing`` nor a pre-provisioned configuration allows
    them (Refused), when a PIN is refused (PinRefused: after that one C_Login; a PIN refused
    during a test stops the run after that test); every other problem is a test result.
    """
    import sys

    def default_write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    out = write or default_write
    config = config or Config()
    selected = select_groups(GROUPS, groups)
    client = Client(module)
    chosen, token = choose_slot(client, slot, token_label)
    out(f"tokenport qualify: {module}\n")
    out(f"slot {chosen}: token {token.label!r} ({token.manufacturer} {token.model}, "
        f"serial {token.serial})\n")
    out(f"configuration: {config.describe()}\n")
    overrides = label_overrides(config)
    if overrides:
        out(f"labels: {' '.join(overrides)}\n")
    ctx = new_context(client, config, chosen, pin, so_pin)
    existing = preflight(ctx, allow_existing)
    if existing:
        out(describe_existing(existing, config) + "\n")
    return run_groups(ctx, selected, out)
