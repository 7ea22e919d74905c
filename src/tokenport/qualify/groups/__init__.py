"""The groups of the suite, in the order they run: the FreeRTOS qualification groups, then
robustness and the CRYPTO group."""

from __future__ import annotations

from tokenport.qualify.groups import (
    capabilities,
    crypto,
    ec,
    no_object,
    robustness,
    rsa,
    start_finish,
)
from tokenport.qualify.runner import Group

GROUPS: tuple[Group, ...] = (
    start_finish.GROUP,
    capabilities.GROUP,
    no_object.GROUP,
    rsa.GROUP,
    ec.GROUP,
    robustness.GROUP,
    crypto.GROUP,
)
