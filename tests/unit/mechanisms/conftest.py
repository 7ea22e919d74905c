"""Fixtures for the mechanism tests: the pyca backend, a context, the registry, key pairs."""

from __future__ import annotations

import os

import pytest

from tokenport.backends.crypto.pyca import PycaCrypto
from tokenport.ck import CKA, CKM
from tokenport.mechanisms import default_registry
from tokenport.mechanisms.base import MechanismContext, MechanismRegistry

from .helpers import ED25519_OID_PARAMS, P256_PARAMS, FakeKey, key_pair


@pytest.fixture(scope="session")
def crypto() -> PycaCrypto:
    return PycaCrypto()


@pytest.fixture(scope="session")
def ctx(crypto: PycaCrypto) -> MechanismContext:
    return MechanismContext(crypto=crypto, random_bytes=os.urandom)


@pytest.fixture(scope="session")
def registry() -> MechanismRegistry:
    return default_registry()


@pytest.fixture(scope="session")
def rsa2048(registry: MechanismRegistry, ctx: MechanismContext) -> tuple[FakeKey, FakeKey]:
    return key_pair(registry, ctx, CKM.RSA_PKCS_KEY_PAIR_GEN, {CKA.MODULUS_BITS: 2048})


@pytest.fixture(scope="session")
def p256(registry: MechanismRegistry, ctx: MechanismContext) -> tuple[FakeKey, FakeKey]:
    return key_pair(registry, ctx, CKM.EC_KEY_PAIR_GEN, {CKA.EC_PARAMS: P256_PARAMS})


@pytest.fixture(scope="session")
def ed25519_pair(registry: MechanismRegistry, ctx: MechanismContext) -> tuple[FakeKey, FakeKey]:
    return key_pair(registry, ctx, CKM.EC_EDWARDS_KEY_PAIR_GEN, {CKA.EC_PARAMS: ED25519_OID_PARAMS})
