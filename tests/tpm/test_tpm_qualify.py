"""`tokenport qualify` (the porting guide's qualification suite, through the C ABI only)
against a token whose private keys live in the TPM: every test passes, none is ignored."""

from __future__ import annotations

import json
from pathlib import Path

from tests.qualify.helpers import (
    SO_PIN,
    USER_PIN,
    expect_clean,
    isolated_env,
    output,
    qualify_args,
    run,
    run_qualify,
    tokenport,
)

from .swtpm import Swtpm


def test_qualify_passes_on_a_tpm_backed_token(swtpm: Swtpm, tmp_path: Path) -> None:
    from tokenport.abi import module_path

    conf = tmp_path / "tokenport.toml"
    conf.write_text(f'[crypto]\nport = "tpm2"\n\n[crypto.tpm2]\ntcti = "{swtpm.tcti}"\n',
                    encoding="utf-8")
    env = isolated_env(tmp_path / "home", TOKENPORT_CONF=str(conf))
    proc = run(tokenport("token", "init", "--label", "qualify"),
               {**env, "TOKENPORT_SO_PIN": SO_PIN, "TOKENPORT_PIN": USER_PIN})
    assert proc.returncode == 0, output(proc)
    result = run_qualify(qualify_args(module_path()), env)
    expect_clean(result)
    assert result.summary is not None and result.summary[0] >= 40
    assert {"PKCS11_EC_GenerateKeyPair", "PKCS11_RSA_GenerateKeyPair"} <= result.passed
    # the suite deletes what it made; a key made the same way on this token is a TPM key
    user = {**env, "TOKENPORT_PIN": USER_PIN}
    made = run(tokenport("key", "generate", "--type", "ec", "--label", "after"), user)
    assert made.returncode == 0, output(made)
    listing = run(tokenport("object", "list", "--login", "--json"), user)
    assert listing.returncode == 0, output(listing)
    rows = json.loads(listing.stdout)
    assert [r.get("location") for r in rows if r["class"] == "privkey"] == ["tpm2"]
