"""The mechanism families (PKCS #11 v2.40 Current Mechanisms), one module per family.

``default_registry()`` returns a registry holding every mechanism tokenport offers; each
family module exposes ``register(registry)`` to add its own.
"""

from __future__ import annotations

from tokenport.mechanisms.base import MechanismRegistry


def default_registry() -> MechanismRegistry:
    """Every mechanism of digest, hmac, aes, ec, eddsa and rsa, registered once."""
    from tokenport.mechanisms import aead, aes, digest, ec, eddsa, hmac, rsa

    registry = MechanismRegistry()
    for family in (digest, hmac, aes, ec, eddsa, rsa, aead):
        family.register(registry)
    return registry
