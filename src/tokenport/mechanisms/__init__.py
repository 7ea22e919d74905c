"""The mechanism families (PKCS #11 v2.40 Current Mechanisms), one module per family.

``default_registry()`` returns a registry holding every mechanism tokenport offers; each
family module exposes ``register(registry)`` to add its own. The families are imported at the
registry's first use, not when it is made (C_Initialize stays fast).
"""

from __future__ import annotations

from dataclasses import replace
from importlib import import_module

from tokenport.mechanisms.base import MechanismRegistry

FAMILIES: tuple[str, ...] = (
    "digest", "hmac", "aes", "ec", "eddsa", "rsa",
    "mldsa", "mlkem", "dsa", "dh", "des", "derive_data", "kdf", "montgomery", "aead",
)
"""The family modules of tokenport.mechanisms, in registration order."""


def default_registry() -> MechanismRegistry:
    """Every mechanism tokenport offers, registered at the registry's first use."""
    return MechanismRegistry(loader=register_families)


def register_families(registry: MechanismRegistry) -> None:
    """Import each mechanism family and let it register its mechanisms; a mechanism that
    does not name its standard gets it from mechanisms.standards."""
    from tokenport.mechanisms.standards import STANDARDS

    families = MechanismRegistry()
    for name in FAMILIES:
        import_module(f"tokenport.mechanisms.{name}").register(families)
    for spec in families:
        if not spec.standard:
            spec = replace(spec, standard=STANDARDS.get(spec.mechanism, ""))
        registry.add(spec)
