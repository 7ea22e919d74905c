"""RSA: key pairs, PKCS #1 v1.5, raw (X.509), PSS and OAEP.

PKCS #11 v2.40 Current Mechanisms s2.1 RSA: CKM_RSA_PKCS_KEY_PAIR_GEN (CKA_MODULUS_BITS
required in the public template, CKA_PUBLIC_EXPONENT optional, default 65537), CKM_RSA_PKCS
(PKCS #1 v1.5: single-part sign/verify over caller-supplied data up to k-11 bytes --
normally a DigestInfo --, encrypt/decrypt, wrap/unwrap), CKM_RSA_PKCS_OAEP
(CK_RSA_PKCS_OAEP_PARAMS with SHA-1/SHA-2 and MGF1, label from CKZ_DATA_SPECIFIED),
CKM_RSA_PKCS_PSS (CK_RSA_PKCS_PSS_PARAMS, single-part over a caller-supplied hash of
hashAlg's length), CKM_RSA_X_509 (raw RSA, single-part), CKM_SHA1_RSA_PKCS / SHA224 / SHA256 /
SHA384 / SHA512 (multi-part) and their _PSS counterparts (hashAlg must be the mechanism's
hash). Key sizes in CK_MECHANISM_INFO are modulus bits.

Key sizes: generation makes 1024..4096-bit keys; signing, decryption, encryption and
unwrapping take 1024..16384-bit keys, and CK_MECHANISM_INFO says 1024..16384. Verification
alone also takes public keys from 512 bits (VERIFY_MIN_BITS), so that signatures in old
certificates (512- to 1023-bit RSA keys, still met in legacy PKIs) can be checked, as with
SoftHSM: C_CreateObject stores such a public key, C_VerifyInit accepts it, every other use
of it gives CKR_KEY_SIZE_RANGE. CK_MECHANISM_INFO has one range per mechanism, so it states
the range of the operations that protect something (1024 up); the verification-only lower
bound is documented here and in docs. Imported keys may have any public exponent the crypto
library accepts (odd, 3 <= e < n: 3, 65537 or larger); generation offers 3 and 65537.

CKM_RSA_PKCS signing uses the crypto library's RSASSA-PKCS1-v1_5 when the input is a DigestInfo
for a known hash, and EMSA-PKCS1-v1_5 type-1 padding plus the backend's blinded raw RSA
private operation otherwise. Verification recovers the encoded message with the public key
and compares it in constant time.

RSA_PKCS decryption inherits the crypto library's implicit rejection (see the pyca backend):
a ciphertext with bad padding yields a pseudo-random message rather than
CKR_ENCRYPTED_DATA_INVALID, which is what removes the padding oracle.

Randomness: RSA key generation, blinding, PSS salts and OAEP / PKCS #1 v1.5 encryption
padding are generated inside the crypto library, not from the token's random source.

Not offered: CKM_RSA_9796, CKM_RSA_X9_31*, CKM_MD5_RSA_PKCS, sign-recover / verify-recover,
multi-part RSA encryption, public exponents other than 3 and 65537 in key generation.
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Callable
from functools import partial

from tokenport.attributes.kinds import AttrValue
from tokenport.ck import CKA, CKF, CKK, CKM, CKO, CKZ
from tokenport.errors import (
    AttributeValueInvalid,
    DataInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    KeySizeRange,
    KeyTypeInconsistent,
    MechanismParamInvalid,
    SignatureInvalid,
    SignatureLenRange,
    TemplateIncomplete,
)
from tokenport.mechanisms import hwkeys, keys
from tokenport.mechanisms.base import (
    AttrMap,
    CipherFactory,
    KeyView,
    MechanismContext,
    MechanismRegistry,
    MechanismSpec,
    SignFactory,
    UnwrapFunction,
    VerifyFactory,
    WrapFunction,
)
from tokenport.mechanisms.common import (
    HashThenSign,
    HashThenVerify,
    SinglePartCipher,
    SinglePartSign,
    SinglePartVerify,
    check_key,
    check_size,
    get_int,
    int_bytes,
    no_param,
    unwrap_with,
    wrap_with,
)
from tokenport.mechanisms.digest import (
    OAEP_HASHES,
    OAEP_MGF1_HASHES,
    digest_size,
    mgf_hash,
    param_hash,
)
from tokenport.mechanisms.params import OaepParams, Params, PssParams
from tokenport.ports.crypto import HashName, RsaKeyHandle, RsaPort, RsaPrivateKeyHandle

MIN_BITS = 1024
VERIFY_MIN_BITS = 512
"""Smallest modulus C_VerifyInit accepts (old certificates); everything else needs MIN_BITS."""
MAX_BITS = 16384
KEYGEN_MAX_BITS = 4096
DEFAULT_EXPONENT = 65537
PKCS1_OVERHEAD = 11
_RSA = frozenset({CKK.RSA})

DIGEST_INFO_PREFIXES: dict[HashName, bytes] = {
    "md5": bytes.fromhex("3020300c06082a864886f70d020505000410"),
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha224": bytes.fromhex("302d300d06096086480165030402040500041c"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
    "sha512_224": bytes.fromhex("302d300d06096086480165030402050500041c"),
    "sha512_256": bytes.fromhex("3031300d060960864801650304020605000420"),
    "sha3_224": bytes.fromhex("302d300d06096086480165030402070500041c"),
    "sha3_256": bytes.fromhex("3031300d060960864801650304020805000420"),
    "sha3_384": bytes.fromhex("3041300d060960864801650304020905000430"),
    "sha3_512": bytes.fromhex("3051300d060960864801650304020a05000440"),
}
"""DER DigestInfo headers of RFC 8017 s9.2 note 1 (the digest follows)."""

PKCS1_HASHES: dict[int, HashName] = {
    CKM.SHA1_RSA_PKCS: "sha1",
    CKM.SHA224_RSA_PKCS: "sha224",
    CKM.SHA256_RSA_PKCS: "sha256",
    CKM.SHA384_RSA_PKCS: "sha384",
    CKM.SHA512_RSA_PKCS: "sha512",
    CKM.SHA3_224_RSA_PKCS: "sha3_224",  # PKCS #11 v3.0 (3.2 s6.1.x SHA-3 with RSA)
    CKM.SHA3_256_RSA_PKCS: "sha3_256",
    CKM.SHA3_384_RSA_PKCS: "sha3_384",
    CKM.SHA3_512_RSA_PKCS: "sha3_512",
}
PSS_HASHES: dict[int, HashName] = {
    CKM.SHA1_RSA_PKCS_PSS: "sha1",
    CKM.SHA224_RSA_PKCS_PSS: "sha224",
    CKM.SHA256_RSA_PKCS_PSS: "sha256",
    CKM.SHA384_RSA_PKCS_PSS: "sha384",
    CKM.SHA512_RSA_PKCS_PSS: "sha512",
    CKM.SHA3_224_RSA_PKCS_PSS: "sha3_224",  # PKCS #11 v3.0
    CKM.SHA3_256_RSA_PKCS_PSS: "sha3_256",
    CKM.SHA3_384_RSA_PKCS_PSS: "sha3_384",
    CKM.SHA3_512_RSA_PKCS_PSS: "sha3_512",
}


# -- key generation and key access --------------------------------------------------------------


def generate_rsa_key_pair(
    ctx: MechanismContext, param: Params, public_template: AttrMap, private_template: AttrMap
) -> tuple[dict[int, AttrValue], dict[int, AttrValue]]:
    """CKM_RSA_PKCS_KEY_PAIR_GEN."""
    no_param(param)
    bits = public_template.get(CKA.MODULUS_BITS)
    if bits is None:
        raise TemplateIncomplete("CKA_MODULUS_BITS is required in the public key template")
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise AttributeValueInvalid("CKA_MODULUS_BITS must be a CK_ULONG")
    check_size(bits, MIN_BITS, KEYGEN_MAX_BITS)
    raw_exponent = public_template.get(CKA.PUBLIC_EXPONENT)
    if raw_exponent is None:
        exponent = DEFAULT_EXPONENT
    elif isinstance(raw_exponent, bytes) and raw_exponent:
        exponent = int.from_bytes(raw_exponent, "big")
    else:
        raise AttributeValueInvalid("CKA_PUBLIC_EXPONENT must be a big-endian integer")
    hardware = hwkeys.rsa_hardware(ctx, bits)
    if hardware is not None:  # generated inside the hardware key port (hwkeys)
        hwkeys.check_template(private_template)
        auth = hwkeys.new_auth(ctx)
        blob, n, e = hardware.generate_rsa(bits, exponent, auth)
        public: dict[int, AttrValue] = {CKA.MODULUS: int_bytes(n), CKA.PUBLIC_EXPONENT: int_bytes(e)}
        return (
            {**public, CKA.MODULUS_BITS: bits},
            {**public, **hwkeys.material(hardware, blob, auth)},
        )
    private = ctx.crypto.rsa_generate(bits, exponent)
    nums = ctx.crypto.rsa_private_numbers(private)
    modulus = int_bytes(nums.n)
    public_exponent = int_bytes(nums.e)
    return (
        {CKA.MODULUS: modulus, CKA.PUBLIC_EXPONENT: public_exponent, CKA.MODULUS_BITS: bits},
        {
            CKA.MODULUS: modulus,
            CKA.PUBLIC_EXPONENT: public_exponent,
            CKA.PRIVATE_EXPONENT: int_bytes(nums.d),
            CKA.PRIME_1: int_bytes(nums.p),
            CKA.PRIME_2: int_bytes(nums.q),
            CKA.EXPONENT_1: int_bytes(nums.dp),
            CKA.EXPONENT_2: int_bytes(nums.dq),
            CKA.COEFFICIENT: int_bytes(nums.qinv),
        },
    )


class _Key:
    """An RSA key checked for an operation: the backend object, n and k (bytes of n)."""

    def __init__(
        self, crypto: RsaPort, key: KeyView, private: bool, *, verify: bool = False
    ) -> None:
        check_key(key, CKO.PRIVATE_KEY if private else CKO.PUBLIC_KEY, _RSA)
        self.n = key.cached("rsa.n", lambda: get_int(key.get, CKA.MODULUS, KeyTypeInconsistent))
        bits = self.n.bit_length()
        check_size(bits, VERIFY_MIN_BITS if verify else MIN_BITS, MAX_BITS)
        self.crypto = crypto
        self.bits = bits
        self.k = (bits + 7) // 8
        self._private: RsaPrivateKeyHandle | None = None
        self.obj: RsaKeyHandle
        if private:
            self.obj = self._private = keys.rsa_private_key(crypto, key)
        else:
            self.obj = keys.rsa_public_key(crypto, key)

    @property
    def is_private(self) -> bool:
        return self._private is not None

    @property
    def private(self) -> RsaPrivateKeyHandle:
        """The private key handle (only for a key checked as a private key)."""
        if self._private is None:
            raise KeyTypeInconsistent("the operation needs an RSA private key")
        return self._private

    def below_n(self, block: bytes) -> bool:
        return int.from_bytes(block, "big") < self.n


# -- PKCS #1 v1.5 --------------------------------------------------------------------------------


def emsa_pkcs1_v15(data: bytes, k: int) -> bytes:
    """Block type 1 encoding 00 01 FF..FF 00 || data (RFC 8017 s9.2 steps 4-5)."""
    if len(data) > k - PKCS1_OVERHEAD:
        raise DataLenRange("data too long for the key")
    return b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data


def split_digest_info(data: bytes) -> tuple[HashName, bytes] | None:
    """(hash, digest) if ``data`` is a DigestInfo for a known hash."""
    for alg, prefix in DIGEST_INFO_PREFIXES.items():
        if data.startswith(prefix) and len(data) == len(prefix) + digest_size(alg):
            return alg, data[len(prefix) :]
    return None


def _pkcs1_signer(key: _Key) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        encoded = emsa_pkcs1_v15(data, key.k)
        known = split_digest_info(data)
        if known is not None:
            return key.crypto.rsa_sign_pkcs1v15(key.private, known[0], known[1])
        return key.crypto.rsa_private_raw(key.private, encoded)

    return sign


def _pkcs1_verifier(key: _Key) -> Callable[[bytes, bytes], None]:
    def verify(data: bytes, signature: bytes) -> None:
        if len(signature) != key.k:
            raise SignatureLenRange("signature length differs from the modulus length")
        expected = emsa_pkcs1_v15(data, key.k)
        if not key.below_n(signature):
            raise SignatureInvalid("signature does not verify")
        recovered = key.crypto.rsa_public_raw(key.obj, signature)
        if not _hmac.compare_digest(recovered, expected):
            raise SignatureInvalid("signature does not verify")

    return verify


def rsa_pkcs_sign(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartSign:
    no_param(param)
    return SinglePartSign(_pkcs1_signer(_Key(ctx.crypto, key, True)))


def rsa_pkcs_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    no_param(param)
    return SinglePartVerify(_pkcs1_verifier(_Key(ctx.crypto, key, False, verify=True)))


def rsa_pkcs_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    no_param(param)
    rsa = _Key(ctx.crypto, key, False)

    def encrypt(data: bytes) -> bytes:
        if len(data) > rsa.k - PKCS1_OVERHEAD:
            raise DataLenRange("data too long for the key")
        return rsa.crypto.rsa_encrypt_pkcs1v15(rsa.obj, data)

    return SinglePartCipher(encrypt)


def rsa_pkcs_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    """CKM_RSA_PKCS decryption (v2.40 Current Mechanisms s2.1.6, RFC 8017 s7.2.2).

    On purpose, a ciphertext of the right length whose padding is bad is *not* reported as
    CKR_ENCRYPTED_DATA_INVALID: the crypto library (OpenSSL >= 3.2 implicit rejection)
    returns a pseudo-random message instead, derived deterministically from the key and the
    ciphertext (same ciphertext, same output; at most k - 11 bytes), and this function passes
    it on with CKR_OK. A caller can therefore not tell good padding from bad, which is what
    removes the Bleichenbacher padding oracle; protocols must authenticate what they decrypt.
    Only a wrong length (CKR_ENCRYPTED_DATA_LEN_RANGE) is reported as an error.
    """
    no_param(param)
    rsa = _Key(ctx.crypto, key, True)

    def decrypt(data: bytes) -> bytes:
        if len(data) != rsa.k:
            raise EncryptedDataLenRange("ciphertext length differs from the modulus length")
        return rsa.crypto.rsa_decrypt_pkcs1v15(rsa.private, data)

    return SinglePartCipher(decrypt)


def _register_pkcs1_hashed(registry: MechanismRegistry, mechanism: int, alg: HashName) -> None:
    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        no_param(param)
        rsa = _Key(ctx.crypto, key, True)
        def sign_digest(digest: bytes) -> bytes:
            return rsa.crypto.rsa_sign_pkcs1v15(rsa.private, alg, digest)

        return HashThenSign(partial(ctx.crypto.hash_new, alg), sign_digest,
                            partial(ctx.crypto.digest, alg))

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        no_param(param)
        rsa = _Key(ctx.crypto, key, False, verify=True)

        def check(digest: bytes, signature: bytes) -> None:
            if len(signature) != rsa.k:
                raise SignatureLenRange("signature length differs from the modulus length")
            rsa.crypto.rsa_verify_pkcs1v15(rsa.obj, signature, alg, digest)

        return HashThenVerify(partial(ctx.crypto.hash_new, alg), check,
                              partial(ctx.crypto.digest, alg))

    registry.add(_spec(mechanism, CKF.SIGN | CKF.VERIFY, sign=sign, verify=verify))


# -- raw RSA (X.509) -------------------------------------------------------------------------------


def _raw_block(rsa: _Key, data: bytes) -> bytes:
    if len(data) > rsa.k:
        raise DataLenRange("data longer than the modulus")
    block = data.rjust(rsa.k, b"\x00")
    if not rsa.below_n(block):
        raise DataInvalid("data is not less than the modulus")
    return block


def rsa_x509_sign(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartSign:
    no_param(param)
    rsa = _Key(ctx.crypto, key, True)
    return SinglePartSign(lambda data: rsa.crypto.rsa_private_raw(rsa.private, _raw_block(rsa, data)))


def rsa_x509_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    no_param(param)
    rsa = _Key(ctx.crypto, key, False, verify=True)

    def verify(data: bytes, signature: bytes) -> None:
        if len(signature) != rsa.k:
            raise SignatureLenRange("signature length differs from the modulus length")
        if len(data) > rsa.k:
            raise DataLenRange("data longer than the modulus")
        if not rsa.below_n(signature):
            raise SignatureInvalid("signature does not verify")
        recovered = rsa.crypto.rsa_public_raw(rsa.obj, signature)
        if not _hmac.compare_digest(recovered, data.rjust(rsa.k, b"\x00")):
            raise SignatureInvalid("signature does not verify")

    return SinglePartVerify(verify)


def rsa_x509_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    no_param(param)
    rsa = _Key(ctx.crypto, key, False)
    return SinglePartCipher(lambda data: rsa.crypto.rsa_public_raw(rsa.obj, _raw_block(rsa, data)))


def rsa_x509_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    no_param(param)
    rsa = _Key(ctx.crypto, key, True)

    def decrypt(data: bytes) -> bytes:
        if len(data) != rsa.k:
            raise EncryptedDataLenRange("ciphertext length differs from the modulus length")
        if not rsa.below_n(data):
            raise EncryptedDataInvalid("ciphertext is not less than the modulus")
        return rsa.crypto.rsa_private_raw(rsa.private, data)

    return SinglePartCipher(decrypt)


# -- PSS -------------------------------------------------------------------------------------------


class _Pss:
    """Checked CK_RSA_PKCS_PSS_PARAMS for a key."""

    def __init__(self, param: Params, rsa: _Key, expected: HashName | None) -> None:
        if not isinstance(param, PssParams):
            raise MechanismParamInvalid("RSA-PSS needs CK_RSA_PKCS_PSS_PARAMS")
        self.alg = param_hash(param.hash_alg)
        if expected is not None and self.alg != expected:
            raise MechanismParamInvalid("hashAlg differs from the mechanism's hash")
        self.mgf = mgf_hash(param.mgf)
        self.salt = param.salt_len
        em_len = (rsa.bits - 1 + 7) // 8
        if self.salt < 0 or em_len < digest_size(self.alg) + self.salt + 2:
            raise MechanismParamInvalid("PSS salt length does not fit the key")
        if rsa.is_private:  # a hardware key signs with its own salt length only
            hwkeys.check_pss(rsa.crypto, rsa.private, self.alg, self.mgf, self.salt)
        self.rsa = rsa

    def sign(self, digest: bytes) -> bytes:
        return self.rsa.crypto.rsa_sign_pss(self.rsa.private, self.alg, digest, self.mgf, self.salt)

    def verify(self, digest: bytes, signature: bytes) -> None:
        if len(signature) != self.rsa.k:
            raise SignatureLenRange("signature length differs from the modulus length")
        self.rsa.crypto.rsa_verify_pss(
            self.rsa.obj, signature, self.alg, digest, self.mgf, self.salt
        )

    def check_digest(self, digest: bytes) -> bytes:
        if len(digest) != digest_size(self.alg):
            raise DataLenRange("input length differs from hashAlg's digest length")
        return digest


def rsa_pss_sign(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartSign:
    pss = _Pss(param, _Key(ctx.crypto, key, True), None)
    return SinglePartSign(lambda data: pss.sign(pss.check_digest(data)))


def rsa_pss_verify(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartVerify:
    pss = _Pss(param, _Key(ctx.crypto, key, False, verify=True), None)
    return SinglePartVerify(lambda data, sig: pss.verify(pss.check_digest(data), sig))


def _register_pss_hashed(registry: MechanismRegistry, mechanism: int, alg: HashName) -> None:
    def sign(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenSign:
        pss = _Pss(param, _Key(ctx.crypto, key, True), alg)
        return HashThenSign(partial(ctx.crypto.hash_new, alg), pss.sign,
                            partial(ctx.crypto.digest, alg))

    def verify(ctx: MechanismContext, key: KeyView, param: Params) -> HashThenVerify:
        pss = _Pss(param, _Key(ctx.crypto, key, False, verify=True), alg)
        return HashThenVerify(partial(ctx.crypto.hash_new, alg), pss.verify,
                              partial(ctx.crypto.digest, alg))

    registry.add(_spec(mechanism, CKF.SIGN | CKF.VERIFY, sign=sign, verify=verify))


# -- OAEP ------------------------------------------------------------------------------------------


class _Oaep:
    """Checked CK_RSA_PKCS_OAEP_PARAMS for a key.

    source 0 with no source data is accepted as "no label", as some applications pass it.
    """

    def __init__(self, param: Params, rsa: _Key) -> None:
        if not isinstance(param, OaepParams):
            raise MechanismParamInvalid("RSA-OAEP needs CK_RSA_PKCS_OAEP_PARAMS")
        self.alg = param_hash(param.hash_alg, OAEP_HASHES)
        self.mgf = mgf_hash(param.mgf, OAEP_MGF1_HASHES)
        if param.source == CKZ.DATA_SPECIFIED:
            self.label = param.source_data
        elif param.source == 0 and not param.source_data:
            self.label = b""
        else:
            raise MechanismParamInvalid("OAEP source must be CKZ_DATA_SPECIFIED")
        self.max_data = rsa.k - 2 * digest_size(self.alg) - 2
        if self.max_data < 0:
            raise KeySizeRange("modulus too short for OAEP with this hash")
        self.rsa = rsa

    def encrypt(self, data: bytes) -> bytes:
        if len(data) > self.max_data:
            raise DataLenRange("data too long for OAEP with this key and hash")
        return self.rsa.crypto.rsa_encrypt_oaep(self.rsa.obj, data, self.alg, self.mgf, self.label)

    def decrypt(self, data: bytes) -> bytes:
        if len(data) != self.rsa.k:
            raise EncryptedDataLenRange("ciphertext length differs from the modulus length")
        return self.rsa.crypto.rsa_decrypt_oaep(self.rsa.private, data, self.alg, self.mgf, self.label)


def rsa_oaep_encrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    return SinglePartCipher(_Oaep(param, _Key(ctx.crypto, key, False)).encrypt)


def rsa_oaep_decrypt(ctx: MechanismContext, key: KeyView, param: Params) -> SinglePartCipher:
    return SinglePartCipher(_Oaep(param, _Key(ctx.crypto, key, True)).decrypt)


# -- registration ----------------------------------------------------------------------------------


def _spec(
    mechanism: int,
    flags: int,
    *,
    sign: SignFactory | None = None,
    verify: VerifyFactory | None = None,
    encrypt: CipherFactory | None = None,
    decrypt: CipherFactory | None = None,
    wrap: WrapFunction | None = None,
    unwrap: UnwrapFunction | None = None,
) -> MechanismSpec:
    return MechanismSpec(
        mechanism,
        MIN_BITS,
        MAX_BITS,
        flags,
        key_types=_RSA,
        sign=sign,
        verify=verify,
        encrypt=encrypt,
        decrypt=decrypt,
        wrap=wrap,
        unwrap=unwrap,
    )


def register(registry: MechanismRegistry) -> None:
    """Add the RSA mechanisms (key sizes in modulus bits)."""
    sign_verify = CKF.SIGN | CKF.VERIFY
    crypt = CKF.ENCRYPT | CKF.DECRYPT
    wrap = CKF.WRAP | CKF.UNWRAP
    registry.add(
        MechanismSpec(
            CKM.RSA_PKCS_KEY_PAIR_GEN,
            MIN_BITS,
            KEYGEN_MAX_BITS,
            CKF.GENERATE_KEY_PAIR,
            generated_key_type=CKK.RSA,
            generate_key_pair=generate_rsa_key_pair,
        )
    )
    registry.add(
        _spec(
            CKM.RSA_PKCS,
            sign_verify | crypt | wrap,
            sign=rsa_pkcs_sign,
            verify=rsa_pkcs_verify,
            encrypt=rsa_pkcs_encrypt,
            decrypt=rsa_pkcs_decrypt,
            wrap=wrap_with(rsa_pkcs_encrypt),
            unwrap=unwrap_with(rsa_pkcs_decrypt),
        )
    )
    registry.add(
        _spec(
            CKM.RSA_X_509,
            sign_verify | crypt,
            sign=rsa_x509_sign,
            verify=rsa_x509_verify,
            encrypt=rsa_x509_encrypt,
            decrypt=rsa_x509_decrypt,
        )
    )
    registry.add(_spec(CKM.RSA_PKCS_PSS, sign_verify, sign=rsa_pss_sign, verify=rsa_pss_verify))
    registry.add(
        _spec(
            CKM.RSA_PKCS_OAEP,
            crypt | wrap,
            encrypt=rsa_oaep_encrypt,
            decrypt=rsa_oaep_decrypt,
            wrap=wrap_with(rsa_oaep_encrypt),
            unwrap=unwrap_with(rsa_oaep_decrypt),
        )
    )
    for mechanism, alg in PKCS1_HASHES.items():
        _register_pkcs1_hashed(registry, mechanism, alg)
    for mechanism, alg in PSS_HASHES.items():
        _register_pss_hashed(registry, mechanism, alg)
