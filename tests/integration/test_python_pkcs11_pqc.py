"""python-pkcs11 0.10.1's ML-DSA API drives the module (PKCS #11 v3.2 s6.67 over the v2.40
function list: C_GenerateKeyPair with CKA_PARAMETER_SET, C_Sign / C_Verify with CKM_ML_DSA);
pyca/cryptography, in this process, verifies the signatures independently. (ML-KEM through
python-pkcs11 needs C_EncapsulateKey from the 3.2 interface, added with the ABI work.)"""

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
