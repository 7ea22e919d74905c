"""python-pkcs11 0.10.1's ML-DSA API drives the module (PKCS #11 v3.2 s6.67 over the v2.40
function list: C_GenerateKeyPair with CKA_PARAMETER_SET, C_Sign / C_Verify with CKM_ML_DSA);
pyca/cryptography, in this process, verifies the signatures independently. (ML-KEM through
python-pkcs11 goes through C_EncapsulateKey / C_DecapsulateKey of the 3.2 interface.)"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

from .tools import Token, init_with_cli, needs_python_pkcs11, new_token

pytestmark = needs_python_pkcs11

MESSAGE = b"post-quantum interop message \x00\xff"


@pytest.fixture(scope="module")
def tok(module_path: str, tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = new_token(module_path, tmp_path_factory.mktemp("python-pkcs11-pqc"), "interop-pq")
    init_with_cli(token)
    return token


@pytest.mark.parametrize(("parameter_set", "pyca", "signature_bytes"), [
    ("ML_DSA_44", mldsa.MLDSA44PublicKey, 2420),
    ("ML_DSA_65", mldsa.MLDSA65PublicKey, 3309),
    ("ML_DSA_87", mldsa.MLDSA87PublicKey, 4627),
])
def test_mldsa_generate_sign_verify(tok: Token, parameter_set: str, pyca: type,
                                    signature_bytes: int) -> None:
    result = tok.python(
        r"""
from pkcs11.mechanisms import MLDSAParameterSet
MSG = bytes.fromhex(os.environ["MSG"])
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(
        KeyType.ML_DSA, store=True, label="py-mldsa-" + os.environ["SET"],
        public_template={Attribute.PARAMETER_SET: MLDSAParameterSet[os.environ["SET"]]})
    signature = priv.sign(MSG)
    multi = priv.sign(iter([MSG[:5], MSG[5:]]), mechanism=Mechanism.ML_DSA)
    bad = bytearray(signature); bad[10] ^= 0x01; bad = bytes(bad)
    emit(
        public=pub[Attribute.VALUE], parameter_set=pub[Attribute.PARAMETER_SET],
        key_type=priv[Attribute.KEY_TYPE], signature=signature, multi=multi,
        verified=pub.verify(MSG, signature), tampered=pub.verify(MSG, bad),
        seed=raised(lambda: priv[Attribute.SEED]),
    )
""",
        env={"MSG": MESSAGE.hex(), "SET": parameter_set},
    )
    public = pyca.from_public_bytes(result["public"])  # type: ignore[attr-defined]
    for signature in (result["signature"], result["multi"]):
        assert len(signature) == signature_bytes
        public.verify(signature, MESSAGE)
    assert result["verified"] is True
    assert result["tampered"] is False
    assert result["key_type"] == 0x4A
    assert result["parameter_set"] == {"ML_DSA_44": 1, "ML_DSA_65": 2, "ML_DSA_87": 3}[parameter_set]
    assert result["seed"] == "AttributeSensitive"


def test_mlkem_key_generation(tok: Token) -> None:
    """python-pkcs11's ML-KEM key generation (C_GenerateKeyPair with CKA_PARAMETER_SET,
    CKA_ENCAPSULATE / CKA_DECAPSULATE); the exported encapsulation key works with pyca."""
    result = tok.python(
        r"""
from pkcs11.mechanisms import MLKEMParameterSet
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(
        KeyType.ML_KEM, store=False, label="py-mlkem",
        public_template={Attribute.PARAMETER_SET: MLKEMParameterSet.ML_KEM_768})
    emit(public=pub[Attribute.VALUE], encapsulate=pub[Attribute.ENCAPSULATE],
         decapsulate=priv[Attribute.DECAPSULATE], key_type=priv[Attribute.KEY_TYPE],
         refused=raised(s.generate_keypair, KeyType.ML_KEM, store=False,
                        public_template={Attribute.PARAMETER_SET: MLKEMParameterSet.ML_KEM_512}))
""",
    )
    from cryptography.hazmat.primitives.asymmetric import mlkem

    secret, ciphertext = mlkem.MLKEM768PublicKey.from_public_bytes(result["public"]).encapsulate()
    assert (len(secret), len(ciphertext)) == (32, 1088)
    assert result["encapsulate"] is True and result["decapsulate"] is True
    assert result["key_type"] == 0x49
    # python-pkcs11 0.10.1 has no class for CKR_PARAMETER_SET_NOT_SUPPORTED (0x209)
    assert result["refused"] == "PKCS11Error"


@pytest.mark.parametrize(("parameter_set", "pyca_name", "ciphertext_bytes"), [
    ("ML_KEM_768", "MLKEM768", 1088),
    ("ML_KEM_1024", "MLKEM1024", 1568),
])
def test_mlkem_encapsulate_and_decapsulate_through_the_3_2_interface(
    tok: Token, parameter_set: str, pyca_name: str, ciphertext_bytes: int
) -> None:
    """python-pkcs11 0.10.1 encapsulates with C_EncapsulateKey and decapsulates with
    C_DecapsulateKey (the PKCS #11 3.2 function list, found through C_GetInterface): the two
    shared secrets agree; a ciphertext pyca made for the token's key decapsulates on the
    token to pyca's secret."""
    from cryptography.hazmat.primitives.asymmetric import mlkem

    label = f"py-mlkem-kem-{parameter_set}"
    first = tok.python(
        r"""
from pkcs11.mechanisms import MLKEMParameterSet
with token.open(rw=True, user_pin=PIN) as s:
    pub, priv = s.generate_keypair(
        KeyType.ML_KEM, store=True, label=os.environ["LABEL"],
        public_template={Attribute.PARAMETER_SET: MLKEMParameterSet[os.environ["SET"]]})
    extractable = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
    ciphertext, sent = pub.encapsulate_key(KeyType.GENERIC_SECRET, template=extractable)
    received = priv.decapsulate_key(ciphertext, KeyType.GENERIC_SECRET, template=extractable)
    bad = bytearray(ciphertext); bad[0] ^= 0x01
    implicit = priv.decapsulate_key(bytes(bad), KeyType.GENERIC_SECRET, template=extractable)
    emit(public=pub[Attribute.VALUE], ciphertext=ciphertext, sent=sent[Attribute.VALUE],
         received=received[Attribute.VALUE], implicit=implicit[Attribute.VALUE],
         short=raised(priv.decapsulate_key, ciphertext[:-1], KeyType.GENERIC_SECRET))
""",
        env={"SET": parameter_set, "LABEL": label},
    )
    assert len(first["ciphertext"]) == ciphertext_bytes
    assert len(first["sent"]) == 32 and first["sent"] == first["received"]
    assert first["implicit"] != first["sent"]  # FIPS 203 implicit rejection, not an error
    assert first["short"] != "no exception"

    public = getattr(mlkem, f"{pyca_name}PublicKey").from_public_bytes(first["public"])
    secret, ciphertext = public.encapsulate()
    second = tok.python(
        r"""
with token.open(rw=True, user_pin=PIN) as s:
    priv = s.get_key(label=os.environ["LABEL"], object_class=ObjectClass.PRIVATE_KEY)
    key = priv.decapsulate_key(bytes.fromhex(os.environ["CT"]), KeyType.GENERIC_SECRET,
                               template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True})
    emit(secret=key[Attribute.VALUE])
""",
        env={"LABEL": label, "CT": ciphertext.hex()},
    )
    assert second["secret"] == secret
