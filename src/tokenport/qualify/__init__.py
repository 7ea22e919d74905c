"""The qualification suite: PKCS #11 conformance tests for any module, run through the C ABI.

``run()`` loads a module (a path to a PKCS #11 shared library), picks the slot, runs the
groups the configuration allows and writes the porting guide's console report (Unity's
format) as it goes. The suite imports nothing from tokenport's token implementation: its
own client (``qualify.p11``) speaks to the module through ``C_GetFunctionList`` like any
C application, and only the spec constants of ``tokenport.ck`` are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tokenport.qualify.config import Config, ConfigError, label_overrides, load_config, parse_config
from tokenport.qualify.groups import GROUPS
from tokenport.qualify.guard import (
    GuardedClient,
    PreflightError,
    RunStopped,
    preflight,
    refusal,
)
from tokenport.qualify.junit import junit_xml, write_junit
from tokenport.qualify.p11 import ModuleLoadError
from tokenport.qualify.runner import (
    Report,
    Result,
    SuiteError,
    choose_slot,
    new_context,
    run_groups,
    select_groups,
)

__all__ = [
    "GROUPS",
    "Config",
    "ConfigError",
    "ModuleLoadError",
    "PreflightError",
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
    allow_existing_objects: bool = False,
) -> Report:
    """Run the suite against the PKCS #11 library at ``module``.

    Raises ModuleLoadError when the file is not a PKCS #11 module, SuiteError when the run
    cannot start (unknown group, no such slot or token) and PreflightError when it must not
    (a refused PIN: one failed login and no more; a token holding objects the suite did not
    create, unless ``allow_existing_objects`` or preProvisioned); every other problem is a
    test result. Objects that were on the token before the run are never destroyed.
    """
    import sys

    def default_write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    out = write or default_write
    config = config or Config()
    selected = select_groups(GROUPS, groups)
    client = GuardedClient(module)
    chosen, token = choose_slot(client, slot, token_label)
    name = f"token {token.label!r} (serial {token.serial}, slot {chosen})"
    out(f"tokenport qualify: {module}\n")
    out(f"slot {chosen}: token {token.label!r} ({token.manufacturer} {token.model}, "
        f"serial {token.serial})\n")
    existing = preflight(client, chosen, pin, so_pin)
    if existing and not (allow_existing_objects or config.preprovisioned):
        raise PreflightError(refusal(existing, name))
    client.existing = existing
    if existing:
        out(f"existing objects: {len(existing)}, never destroyed by the suite\n")
    out(f"configuration: {config.describe()}\n")
    overrides = label_overrides(config)
    if overrides:
        out(f"labels: {' '.join(overrides)}\n")
    ctx = new_context(client, config, chosen, pin, so_pin)
    try:
        report = run_groups(ctx, selected, out)
    except RunStopped as stop:
        client.finalize()
        raise PreflightError(f"{name}: {stop}; qualify stopped") from None
    finally:
        left = client.clean_up(chosen, pin)
    if left:
        out(f"removed {left} object(s) the run created and left on the token\n")
    return report
