"""`tokenport entropy`: the self-test of the random sources, and seed files for manufacturing."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tokenport.backends.entropy.health import STARTUP_SAMPLES, HealthTests
from tokenport.backends.entropy.selftest import (
    Check,
    Report,
    health_checks,
    known_answer_checks,
    source_check,
)
from tokenport.backends.entropy.sources import (
    CLAIMED_MIN_ENTROPY,
    DEFAULT_SEED_BYTES,
    MAX_SEED_BYTES,
    MIN_SEED_BYTES,
    OsEntropySource,
    write_seed_file,
)
from tokenport.cli.common import fail, reports_errors
from tokenport.config import load_config, open_random_source
from tokenport.errors import PKCS11Error


@click.group("entropy")
def entropy_group() -> None:
    """The token's random source: self-test, seed files (see docs/porting.md)."""


@entropy_group.command("selftest")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@reports_errors
def selftest_command(as_json: bool) -> None:
    """Run the DRBG known-answer tests and the health tests, start every configured
    random source, and print a report (exit status 0 when everything passed)."""
    config = load_config()
    report = Report()
    known_answer_checks(report)
    health_checks(report, CLAIMED_MIN_ENTROPY)
    configured = [("[entropy]", config.entropy)] + [
        (f'[entropy.tokens."{name}"]', entropy) for name, entropy in config.token_entropy.items()
    ]
    for name, entropy in configured:
        try:
            source = open_random_source(entropy, b"tokenport entropy selftest")
        except PKCS11Error as exc:
            report.checks.append(Check("Configured random sources", name, False, str(exc)))
            continue
        source_check(report, name, source)

    failures = report.failures
    if as_json:
        click.echo(json.dumps({"ok": not failures, "checks": [
            {"group": c.group, "name": c.name, "passed": c.passed, "detail": c.detail}
            for c in report.checks]}, indent=2, sort_keys=True))
    else:
        _print_report(report)
    if failures:
        first = failures[0]
        fail(f"entropy self-test failed: {first.name}: {first.detail}"
             + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))


def _print_report(report: Report) -> None:
    click.echo("tokenport entropy self-test")
    group = None
    for check in report.checks:
        if check.group != group:
            group = check.group
            click.echo(f"\n{group}")
        status = "pass" if check.passed else "FAIL"
        click.echo(f"  {status}  {check.name}: {check.detail}")
    failures = report.failures
    click.echo(f"\n{len(report.checks) - len(failures)} of {len(report.checks)} checks passed.")


@entropy_group.command("seed")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="The seed file to create.",
)
@click.option(
    "--bytes", "size", type=click.IntRange(MIN_SEED_BYTES, MAX_SEED_BYTES),
    default=DEFAULT_SEED_BYTES, show_default=True, help="Size of the seed.",
)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@reports_errors
def seed_command(out: Path, size: int, force: bool) -> None:
    """Create a seed file for the nv-seed source from the OS entropy source (health-tested),
    with mode 0600, written atomically. Provision one per device and keep it secret."""
    if out.exists() and not force:
        fail(f"{out} exists; use --force to replace it")
    if not out.parent.is_dir():
        fail(f"cannot write {out}: no directory {out.parent} (create it first)")
    source = OsEntropySource()
    tests = HealthTests(source.min_entropy_per_sample)
    tests.feed(source.read(STARTUP_SAMPLES))
    seed = source.read(size)
    tests.feed(seed)
    try:
        write_seed_file(out, seed, replace=force)
    except FileExistsError:
        fail(f"{out} exists; use --force to replace it")
    click.echo(f"Wrote a {size}-byte seed from the OS entropy source to {out} (mode 0600).")
