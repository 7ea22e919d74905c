"""Full_PKCS11_RSA: an RSA-2048 device key pair and certificate under the configured labels."""

from __future__ import annotations

from tokenport.qualify.config import Config
from tokenport.qualify.context import RSA, Context
from tokenport.qualify.groups import device
from tokenport.qualify.provision import generate_device, import_device
from tokenport.qualify.runner import Group, Test


def rsa_configured(config: Config) -> str | None:
    return None if config.rsa else f"PKCS11 is {config.pkcs11}: the port has no RSA keys"


def generate_key_pair(ctx: Context) -> None:
    objects = generate_device(ctx, RSA)
    device.generate_key_pair_checks(ctx, RSA, objects)


def create_object(ctx: Context) -> None:
    import_device(ctx, RSA)


def jitp_code_verify_root_cert(ctx: Context) -> None:
    device.jitp_code_verify_root(ctx, RSA)


def find_object(ctx: Context) -> None:
    device.find_object(ctx, RSA)


def get_attribute_value(ctx: Context) -> None:
    device.get_attribute_value(ctx, RSA)


def sign(ctx: Context) -> None:
    device.sign(ctx, RSA)


def find_object_multi_thread(ctx: Context) -> None:
    device.find_object_multi_thread(ctx, RSA)


def get_attribute_value_multi_thread(ctx: Context) -> None:
    device.get_attribute_value_multi_thread(ctx, RSA)


def destroy_object(ctx: Context) -> None:
    device.destroy_object(ctx, RSA)


GROUP = Group(
    "Full_PKCS11_RSA",
    (
        Test("PKCS11_RSA_GenerateKeyPair", generate_key_pair, device.needs_generation),
        Test("PKCS11_RSA_CreateObject", create_object, device.needs_import),
        Test("PKCS11_RSA_JITPCodeVerifyRootCert", jitp_code_verify_root_cert, device.needs_jitp),
        Test("PKCS11_RSA_FindObject", find_object),
        Test("PKCS11_RSA_GetAttributeValue", get_attribute_value),
        Test("PKCS11_RSA_Sign", sign),
        Test("PKCS11_RSA_FindObjectMultiThread", find_object_multi_thread),
        Test("PKCS11_RSA_GetAttributeValueMultiThread", get_attribute_value_multi_thread),
        Test("PKCS11_RSA_DestroyObject", destroy_object, device.not_preprovisioned),
    ),
    setup=Context.start,
    teardown=Context.stop,
    rule=rsa_configured,
)
