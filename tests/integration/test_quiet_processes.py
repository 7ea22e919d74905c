"""Routine multi-process use is quiet (issue 9, item 11): one process creates and destroys
objects while another lists them, over one SQLite store. Records vanishing between the
lister's listing and its reads are normal, so nothing reaches the lister's stderr (the
library's log lines go there when the host configures no logging)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tokenport.ck import CKF, CKU
from tokenport.config import load_config
from tokenport.wiring import build_module

SO_PIN = b"so-pin-quiet-1"
SECONDS = "3"

COMMON = r"""
import os, sys, time
from tokenport.ck import CKA, CKF, CKO
from tokenport.wiring import build_module
from tokenport.errors import PKCS11Error
module = build_module()
module.initialize()
session = module.open_session(0, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
end = time.monotonic() + float(sys.argv[1])
turns = 0
"""

CHURN = COMMON + r"""
while time.monotonic() < end:
    handles = [module.create_object(session, [(CKA.CLASS, int(CKO.DATA)), (CKA.TOKEN, True),
               (CKA.PRIVATE, False), (CKA.LABEL, b"churn %d" % i)]) for i in range(5)]
    for handle in handles:
        module.destroy_object(session, handle)
    turns += 1
print(turns)
"""

LIST = COMMON + r"""
while time.monotonic() < end:
    module.find_objects_init(session, [])
    handles = module.find_objects(session, 1000)
    module.find_objects_final(session)
    for handle in handles:
        try:
            module.get_attribute_value(session, handle, [CKA.LABEL])
        except PKCS11Error:
            pass  # destroyed by the other process meanwhile: an answer, not a log line
    turns += 1
print(turns)
"""


def test_listing_while_another_process_destroys_is_quiet(tmp_path: Path) -> None:
    env = {**os.environ, "TOKENPORT_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("TOKENPORT_CONF", None)
    module = build_module(load_config(env))
    module.initialize()
    module.init_token(0, SO_PIN, b"quiet".ljust(32))
    session = module.open_session(0, int(CKF.SERIAL_SESSION | CKF.RW_SESSION))
    module.login(session, CKU.SO, SO_PIN)
    module.finalize()

    procs = [subprocess.Popen([sys.executable, "-c", body, SECONDS], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for body in (CHURN, LIST, LIST)]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert int(out) > 0
    churn_turns = int(results[0][0])
    assert churn_turns > 10  # the lists really ran against a changing store
    assert [err for _out, err in results] == ["", "", ""]
