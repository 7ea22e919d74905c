/* p11fuzz: mechanisms and their parameters (PKCS #11 v2.40 Current Mechanisms).
 *
 * Mostly a mechanism that suits the operation and the key, else any mechanism of the
 * module's list, else an invalid one. Parameters are the structure the mechanism takes
 * (CK_GCM_PARAMS in both layouts, CK_AES_CTR_PARAMS, CK_RSA_PKCS_PSS_PARAMS,
 * CK_RSA_PKCS_OAEP_PARAMS, CK_ECDH1_DERIVE_PARAMS, CK_EDDSA_PARAMS, v3.0 CK_CCM_PARAMS and
 * CK_SALSA20_CHACHA20_POLY1305_PARAMS, an IV) with plausible
 * or random fields; at times a wrong structure, a short one, or raw bytes. Every length
 * (ulParameterLen and the lengths inside the structures) equals its buffer.
 */
#include <stdio.h>
#include <string.h>

#include "p11fuzz.h"

#define FZ_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const CK_MECHANISM_TYPE m_aes_cipher[] = {CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD,
                                                 CKM_AES_CTR, CKM_AES_GCM, CKM_AES_CCM};
static const CK_MECHANISM_TYPE m_rsa_cipher[] = {CKM_RSA_PKCS, CKM_RSA_X_509,
                                                 CKM_RSA_PKCS_OAEP};
static const CK_MECHANISM_TYPE m_aes_mac[] = {CKM_AES_CMAC};
static const CK_MECHANISM_TYPE m_hmac[] = {CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC,
                                           CKM_SHA384_HMAC, CKM_SHA512_HMAC};
static const CK_MECHANISM_TYPE m_ecdsa[] = {CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224,
                                            CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
                                            CKM_ECDSA_SHA512};
static const CK_MECHANISM_TYPE m_eddsa[] = {CKM_EDDSA};
static const CK_MECHANISM_TYPE m_rsa_sign[] = {
    CKM_RSA_PKCS, CKM_RSA_X_509, CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS};
static const CK_MECHANISM_TYPE m_digest[] = {CKM_MD5, CKM_SHA_1, CKM_SHA224, CKM_SHA256,
                                             CKM_SHA384, CKM_SHA512};
static const CK_MECHANISM_TYPE m_aes_wrap[] = {CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD,
                                               CKM_AES_CBC_PAD, CKM_AES_CBC, CKM_AES_ECB,
                                               CKM_AES_GCM, CKM_AES_CTR};
static const CK_MECHANISM_TYPE m_rsa_wrap[] = {CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_X_509};
static const CK_MECHANISM_TYPE m_derive[] = {CKM_ECDH1_DERIVE};
static const CK_MECHANISM_TYPE m_genkey[] = {CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN};
static const CK_MECHANISM_TYPE m_gen_ec[] = {CKM_EC_KEY_PAIR_GEN};
static const CK_MECHANISM_TYPE m_gen_ed[] = {CKM_EC_EDWARDS_KEY_PAIR_GEN};
static const CK_MECHANISM_TYPE m_gen_rsa[] = {CKM_RSA_PKCS_KEY_PAIR_GEN};
static const CK_MECHANISM_TYPE m_invalid[] = {
    CKM_DES3_CBC, CKM_AES_XTS, CKM_AES_MAC, CKM_SHA_1_HMAC_GENERAL, CKM_ECDH1_COFACTOR_DERIVE,
    CKM_VENDOR_DEFINED, CKM_VENDOR_DEFINED | 0x1234, ~0UL, 0x7fffffffUL};

/* Suitable mechanisms for (op, kind); NULL when none. */
static const CK_MECHANISM_TYPE *fz_suitable(int op, int kind, int *n)
{
#define RET(a) do { *n = FZ_N(a); return (a); } while (0)
    switch (op) {
    case OP_ENCRYPT:
    case OP_DECRYPT:
        if (kind == K_AES)
            RET(m_aes_cipher);
        if (kind == K_RSA_PUB || kind == K_RSA_PRIV)
            RET(m_rsa_cipher);
        break;
    case OP_SIGN:
    case OP_VERIFY:
        if (kind == K_AES)
            RET(m_aes_mac);
        if (kind == K_SECRET)
            RET(m_hmac);
        if (kind == K_EC_PRIV || kind == K_EC_PUB)
            RET(m_ecdsa);
        if (kind == K_ED_PRIV || kind == K_ED_PUB)
            RET(m_eddsa);
        if (kind == K_RSA_PRIV || kind == K_RSA_PUB)
            RET(m_rsa_sign);
        break;
    case OP_DIGEST:
        RET(m_digest);
    case OP_WRAP:
    case OP_UNWRAP:
        if (kind == K_AES)
            RET(m_aes_wrap);
        if (kind == K_RSA_PUB || kind == K_RSA_PRIV)
            RET(m_rsa_wrap);
        break;
    case OP_DERIVE:
        RET(m_derive);
    case OP_GENKEY:
        RET(m_genkey);
    case OP_GENPAIR:
        if (kind == K_EC_PUB)
            RET(m_gen_ec);
        if (kind == K_ED_PUB)
            RET(m_gen_ed);
        if (kind == K_RSA_PUB)
            RET(m_gen_rsa);
        break;
    default:
        break;
    }
    *n = 0;
    return NULL;
#undef RET
}

int fz_kind_for(fz_state *st, int op)
{
    static const int enc[] = {K_AES, K_AES, K_AES, K_RSA_PUB};
    static const int dec[] = {K_AES, K_AES, K_AES, K_RSA_PRIV};
    static const int sign[] = {K_EC_PRIV, K_EC_PRIV, K_ED_PRIV, K_SECRET, K_AES, K_RSA_PRIV};
    static const int verify[] = {K_EC_PUB, K_EC_PUB, K_ED_PUB, K_SECRET, K_AES, K_RSA_PUB};
    static const int wrap[] = {K_AES, K_AES, K_AES, K_RSA_PUB};
    static const int unwrap[] = {K_AES, K_AES, K_AES, K_RSA_PRIV};
    static const int genkey[] = {K_AES, K_AES, K_SECRET};

    switch (op) {
    case OP_ENCRYPT:
        return enc[fz_below(&st->r, FZ_N(enc))];
    case OP_DECRYPT:
        return dec[fz_below(&st->r, FZ_N(dec))];
    case OP_SIGN:
        return sign[fz_below(&st->r, FZ_N(sign))];
    case OP_VERIFY:
        return verify[fz_below(&st->r, FZ_N(verify))];
    case OP_WRAP:
        return wrap[fz_below(&st->r, FZ_N(wrap))];
    case OP_UNWRAP:
        return unwrap[fz_below(&st->r, FZ_N(unwrap))];
    case OP_DERIVE:
        return K_EC_PRIV;
    case OP_GENKEY:
        return genkey[fz_below(&st->r, FZ_N(genkey))];
    case OP_GENPAIR:
        /* RSA key generation is slow: rare, and 1024 bits but for a few */
        if (fz_chance(&st->r, 25))
            return K_RSA_PUB;
        return fz_chance(&st->r, 700) ? K_EC_PUB : K_ED_PUB;
    default:
        return K_UNKNOWN;
    }
}

/* ---- parameters ----------------------------------------------------------------------- */

static const CK_MECHANISM_TYPE fz_hashes[] = {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384,
                                              CKM_SHA512};
static const CK_ULONG fz_mgfs[] = {CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256,
                                   CKG_MGF1_SHA384, CKG_MGF1_SHA512};
static const CK_ULONG fz_hash_len[] = {20, 28, 32, 48, 64};

static CK_ULONG fz_odd(fz_state *st)
{
    static const CK_ULONG odd[] = {0, 1, 6, 0x80000000UL, ~0UL};
    return fz_chance(&st->r, 500) ? odd[fz_below(&st->r, 5)] : fz_next(&st->r);
}

/* A byte string inside a parameter structure: pointer and length that agree. */
static void fz_inner(fz_state *st, CK_BYTE_PTR *ptr, CK_ULONG *len, size_t n)
{
    if (n > 0 && fz_null_with_len(st)) {
        *ptr = NULL;
        *len = n;
        return;
    }
    *ptr = n == 0 && fz_chance(&st->r, 500) ? NULL : fz_bytes(st, n);
    *len = n;
}

/* The hash of PSS / OAEP parameters: mostly SHA-1/2 (index h), at times MD5 or random. */
static CK_ULONG fz_hash_alg(fz_state *st, CK_ULONG h)
{
    if (fz_chance(&st->r, 920))
        return fz_hashes[h];
    return fz_chance(&st->r, 500) ? CKM_MD5 : fz_next(&st->r);
}

/* The MGF: the one of the same hash, another MGF1, or an odd value. */
static CK_ULONG fz_mgf(fz_state *st, CK_ULONG h, unsigned same_per_mille)
{
    if (fz_chance(&st->r, same_per_mille))
        return fz_mgfs[h];
    return fz_chance(&st->r, 750) ? fz_mgfs[fz_below(&st->r, 5)] : fz_odd(st);
}

static void *fz_gcm(fz_state *st, CK_ULONG *plen)
{
    static const size_t ivs[] = {1, 8, 16, 60, 0, 13, 128, 256};
    static const CK_ULONG tags[] = {96, 104, 112, 120, 64, 32, 0, 8, 129, 256, 127};
    CK_GCM_PARAMS p;
    FZ_GCM_PARAMS_NO_IVBITS q;
    size_t iv = fz_chance(&st->r, 750) ? 12 : ivs[fz_below(&st->r, FZ_N(ivs))];
    size_t aad = fz_chance(&st->r, 500) ? 0 : (size_t)fz_below(&st->r, 65);

    memset(&p, 0, sizeof(p));
    fz_inner(st, &p.pIv, &p.ulIvLen, iv);
    fz_inner(st, &p.pAAD, &p.ulAADLen, aad);
    p.ulIvBits = fz_chance(&st->r, 850) ? iv * 8 : fz_odd(st);
    p.ulTagBits = fz_chance(&st->r, 650) ? 128
                  : fz_chance(&st->r, 900) ? tags[fz_below(&st->r, FZ_N(tags))] : fz_odd(st);
    if (fz_chance(&st->r, 150)) {
        q.pIv = p.pIv;
        q.ulIvLen = p.ulIvLen;
        q.pAAD = p.pAAD;
        q.ulAADLen = p.ulAADLen;
        q.ulTagBits = p.ulTagBits;
        *plen = sizeof(q);
        return fz_copy(st, &q, sizeof(q));
    }
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_ccm(fz_state *st, CK_ULONG *plen)
{
    static const size_t nonces[] = {7, 13, 0, 6, 14, 16};
    static const CK_ULONG macs[] = {4, 6, 8, 10, 12, 14, 0, 3, 5, 17, 32};
    FZ_CCM_PARAMS p;
    size_t nonce = fz_chance(&st->r, 750) ? 12 : nonces[fz_below(&st->r, FZ_N(nonces))];

    memset(&p, 0, sizeof(p));
    p.ulDataLen = fz_chance(&st->r, 700) ? (CK_ULONG)fz_below(&st->r, 64) : fz_odd(st);
    fz_inner(st, &p.pNonce, &p.ulNonceLen, nonce);
    fz_inner(st, &p.pAAD, &p.ulAADLen, fz_chance(&st->r, 500) ? 0 : (size_t)fz_below(&st->r, 65));
    p.ulMACLen = fz_chance(&st->r, 650) ? 16
                 : fz_chance(&st->r, 900) ? macs[fz_below(&st->r, FZ_N(macs))] : fz_odd(st);
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_chacha_poly(fz_state *st, CK_ULONG *plen)
{
    static const size_t nonces[] = {8, 0, 11, 13, 24};
    FZ_CHACHA20_POLY1305_PARAMS p;

    memset(&p, 0, sizeof(p));
    fz_inner(st, &p.pNonce, &p.ulNonceLen,
             fz_chance(&st->r, 800) ? 12 : nonces[fz_below(&st->r, FZ_N(nonces))]);
    fz_inner(st, &p.pAAD, &p.ulAADLen, fz_chance(&st->r, 500) ? 0 : (size_t)fz_below(&st->r, 65));
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_ctr(fz_state *st, CK_ULONG *plen)
{
    static const CK_ULONG bits[] = {64, 32, 1, 0, 129, 16, 8};
    CK_AES_CTR_PARAMS p;

    p.ulCounterBits = fz_chance(&st->r, 600) ? 128
                      : fz_chance(&st->r, 900) ? bits[fz_below(&st->r, FZ_N(bits))] : fz_odd(st);
    fz_fill(&st->r, p.cb, sizeof(p.cb));
    if (fz_chance(&st->r, 100))
        memset(p.cb, 0xff, sizeof(p.cb)); /* counter about to wrap */
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_pss(fz_state *st, CK_MECHANISM_TYPE mech, CK_ULONG *plen)
{
    static const CK_ULONG slens[] = {0, 20, 32, 48, 64, 1000, ~0UL, 0x80000000UL};
    CK_RSA_PKCS_PSS_PARAMS p;
    CK_ULONG h = fz_below(&st->r, 5);

    if (mech == CKM_SHA256_RSA_PKCS_PSS && fz_chance(&st->r, 800))
        h = 2;
    p.hashAlg = fz_hash_alg(st, h);
    p.mgf = fz_mgf(st, h, 750);
    p.sLen = fz_chance(&st->r, 500) ? fz_hash_len[h] : slens[fz_below(&st->r, FZ_N(slens))];
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_oaep(fz_state *st, CK_ULONG *plen)
{
    CK_RSA_PKCS_OAEP_PARAMS p;
    CK_ULONG h = fz_below(&st->r, 5);

    p.hashAlg = fz_hash_alg(st, h);
    p.mgf = fz_mgf(st, h, 800);
    p.source = fz_chance(&st->r, 850) ? CKZ_DATA_SPECIFIED : fz_odd(st);
    fz_inner(st, (CK_BYTE_PTR *)&p.pSourceData, &p.ulSourceDataLen,
             fz_chance(&st->r, 500) ? 0 : (size_t)fz_below(&st->r, 33));
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_ecdh(fz_state *st, CK_ULONG *plen)
{
    static const int pubs[] = {K_EC_PUB};
    static const CK_ULONG kdfs[] = {CKD_SHA1_KDF, CKD_SHA256_KDF, CKD_SHA512_KDF, 0, 9, 3};
    CK_ECDH1_DERIVE_PARAMS p;
    fz_obj *o = fz_pick_obj(st, pubs, 1);
    CK_ULONG c = fz_below(&st->r, 100);
    unsigned char point[140];
    size_t n;

    p.kdf = fz_chance(&st->r, 650) ? CKD_NULL
            : fz_chance(&st->r, 900) ? kdfs[fz_below(&st->r, FZ_N(kdfs))] : fz_odd(st);
    fz_inner(st, &p.pSharedData, &p.ulSharedDataLen,
             fz_chance(&st->r, 750) ? 0 : (size_t)fz_below(&st->r, 33));
    if (c < 60 && o != NULL && o->point_len > 2) {
        /* the peer's point, as DER OCTET STRING or raw (both are seen in the wild) */
        if (fz_chance(&st->r, 500)) {
            p.pPublicData = fz_copy(st, o->point, o->point_len);
            p.ulPublicDataLen = o->point_len;
        } else {
            n = o->point[1] == 0x81 ? 3 : 2;
            p.pPublicData = fz_copy(st, o->point + n, o->point_len - n);
            p.ulPublicDataLen = o->point_len - n;
        }
    } else if (c < 80) {
        n = 65;
        point[0] = 0x04;
        fz_fill(&st->r, point + 1, 64);
        p.pPublicData = fz_copy(st, point, n);
        p.ulPublicDataLen = n;
    } else {
        fz_inner(st, &p.pPublicData, &p.ulPublicDataLen, (size_t)fz_below(&st->r, 140));
    }
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

/* CK_HKDF_PARAMS: mostly SHA-1/2 PRFs and the three salt types, at times odd values. */
static void *fz_hkdf(fz_state *st, CK_ULONG *plen)
{
    static const CK_ULONG salts[] = {1, 2, 4, 0, 3};
    FZ_HKDF_PARAMS p;
    CK_ULONG h = fz_below(&st->r, 5);

    memset(&p, 0, sizeof(p));
    p.bExtract = (CK_BBOOL)fz_below(&st->r, 2);
    p.bExpand = fz_chance(&st->r, 800) ? 1 : (CK_BBOOL)fz_below(&st->r, 2);
    p.prfHashMechanism = fz_hash_alg(st, h);
    p.ulSaltType = fz_chance(&st->r, 900) ? salts[fz_below(&st->r, 3)]
                                          : salts[fz_below(&st->r, FZ_N(salts))];
    fz_inner(st, &p.pSalt, &p.ulSaltLen, p.ulSaltType == 2 ? 1 + (size_t)fz_below(&st->r, 64) : 0);
    p.hSaltKey = fz_next(&st->r) % 64;
    fz_inner(st, &p.pInfo, &p.ulInfoLen, (size_t)fz_below(&st->r, 40));
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

/* CK_PKCS5_PBKD2_PARAMS2: few iterations (the call must stay quick), at times odd values. */
static void *fz_pbkd2(fz_state *st, CK_ULONG *plen)
{
    FZ_PBKD2_PARAMS2 p;

    memset(&p, 0, sizeof(p));
    p.saltSource = fz_chance(&st->r, 900) ? 1 : fz_odd(st);
    fz_inner(st, (CK_BYTE_PTR *)&p.pSaltSourceData, &p.ulSaltSourceDataLen,
             (size_t)fz_below(&st->r, 33));
    p.iterations = fz_chance(&st->r, 900) ? 1 + fz_below(&st->r, 100) : fz_odd(st);
    p.prf = fz_chance(&st->r, 900) ? 1 + fz_below(&st->r, 8) : fz_odd(st);
    fz_inner(st, (CK_BYTE_PTR *)&p.pPrfData, &p.ulPrfDataLen,
             fz_chance(&st->r, 900) ? 0 : (size_t)fz_below(&st->r, 9));
    fz_inner(st, &p.pPassword, &p.ulPasswordLen, (size_t)fz_below(&st->r, 65));
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_eddsa(fz_state *st, CK_ULONG *plen)
{
    CK_EDDSA_PARAMS p;
    size_t n;

    if (fz_chance(&st->r, 550)) {
        *plen = 0;
        return NULL;
    }
    p.phFlag = fz_chance(&st->r, 900) ? (CK_BBOOL)fz_below(&st->r, 2) : (CK_BBOOL)fz_next(&st->r);
    n = fz_chance(&st->r, 400) ? 0 : fz_chance(&st->r, 900) ? (size_t)fz_below(&st->r, 256)
                                                           : 256 + (size_t)fz_below(&st->r, 64);
    fz_inner(st, &p.pContextData, &p.ulContextDataLen, n);
    *plen = sizeof(p);
    return fz_copy(st, &p, sizeof(p));
}

static void *fz_iv(fz_state *st, size_t usual, CK_ULONG *plen, unsigned none_per_mille)
{
    size_t n;

    if (fz_chance(&st->r, none_per_mille)) {
        *plen = 0;
        return NULL;
    }
    n = fz_chance(&st->r, 880) ? usual : (size_t)fz_below(&st->r, 34);
    *plen = n;
    return fz_bytes(st, n);
}

/* The parameter `mech` takes, as a buffer of exactly *plen bytes (NULL for none). */
static void *fz_param(fz_state *st, CK_MECHANISM_TYPE mech, CK_ULONG *plen)
{
    switch (mech) {
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
        return fz_iv(st, 16, plen, 20);
    case CKM_AES_KEY_WRAP:
        return fz_iv(st, 8, plen, 700);
    case CKM_AES_KEY_WRAP_PAD:
        return fz_iv(st, 4, plen, 700);
    case CKM_AES_GCM:
        return fz_gcm(st, plen);
    case CKM_AES_CTR:
        return fz_ctr(st, plen);
    case CKM_AES_CCM:
        return fz_ccm(st, plen);
    case CKM_CHACHA20_POLY1305:
        return fz_chacha_poly(st, plen);
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS:
        return fz_pss(st, mech, plen);
    case CKM_RSA_PKCS_OAEP:
        return fz_oaep(st, plen);
    case CKM_ECDH1_DERIVE:
    case CKM_ECDH1_COFACTOR_DERIVE:
        return fz_ecdh(st, plen);
    case CKM_EDDSA:
        return fz_eddsa(st, plen);
    case FZ_CKM_HKDF_DERIVE:
    case FZ_CKM_HKDF_DATA:
        return fz_hkdf(st, plen);
    case FZ_CKM_PKCS5_PBKD2:
        return fz_pbkd2(st, plen);
    default:
        *plen = 0;
        return NULL;
    }
}

/* 1 when `len` is the size of a parameter structure `mech` reads pointers from: such a
   length must only ever come with that structure, filled in by fz_param (anything else of
   that size would hand the module pointers that do not point to buffers of their length). */
static int fz_struct_size(CK_MECHANISM_TYPE mech, CK_ULONG len)
{
    switch (mech) {
    case CKM_AES_GCM:
        return len == sizeof(CK_GCM_PARAMS) || len == sizeof(FZ_GCM_PARAMS_NO_IVBITS);
    case CKM_RSA_PKCS_OAEP:
        return len == sizeof(CK_RSA_PKCS_OAEP_PARAMS);
    case CKM_ECDH1_DERIVE:
    case CKM_ECDH1_COFACTOR_DERIVE:
        return len == sizeof(CK_ECDH1_DERIVE_PARAMS);
    case CKM_EDDSA:
        return len == sizeof(CK_EDDSA_PARAMS);
    case FZ_CKM_HKDF_DERIVE:
    case FZ_CKM_HKDF_DATA:
        return len == sizeof(FZ_HKDF_PARAMS);
    case FZ_CKM_PKCS5_PBKD2:
        return len == sizeof(FZ_PBKD2_PARAMS2); /* the v2.40 layout has the same size */
    case CKM_AES_CCM:
        return len == sizeof(FZ_CCM_PARAMS);
    case CKM_CHACHA20_POLY1305:
        return len == sizeof(FZ_CHACHA20_POLY1305_PARAMS);
    default:
        return 0; /* CTR, PSS and MAC-length structures hold no pointers; others are bytes */
    }
}

/* A malformed parameter: another mechanism's structure, a short structure, raw bytes or
   nothing; never a length that `mech` would read pointers from (see fz_struct_size). */
static void *fz_bad_param(fz_state *st, CK_MECHANISM_TYPE mech, CK_ULONG *plen)
{
    static const CK_MECHANISM_TYPE others[] = {CKM_AES_GCM, CKM_AES_CTR, CKM_RSA_PKCS_PSS,
                                               CKM_RSA_PKCS_OAEP, CKM_ECDH1_DERIVE, CKM_EDDSA,
                                               CKM_AES_CBC, CKM_AES_CCM,
                                               CKM_CHACHA20_POLY1305};
    void *p;
    CK_ULONG n;

    switch (fz_below(&st->r, 4)) {
    case 0:
        p = fz_param(st, others[fz_below(&st->r, FZ_N(others))], plen);
        if (!fz_struct_size(mech, *plen))
            return p;
        break;
    case 1:
        p = fz_param(st, mech, &n);
        if (p == NULL || n == 0)
            break;
        n = fz_below(&st->r, n); /* a prefix of the structure, told so */
        *plen = n;
        return fz_copy(st, p, n);
    case 2:
        *plen = 0;
        return fz_chance(&st->r, 500) ? NULL : fz_bytes(st, 0);
    default:
        break;
    }
    *plen = fz_below(&st->r, 80);
    if (fz_struct_size(mech, *plen))
        (*plen)++;
    return fz_bytes(st, *plen);
}

CK_MECHANISM *fz_mechanism(fz_state *st, int op, int kind)
{
    CK_MECHANISM *m = fz_buf(st, sizeof(CK_MECHANISM));
    const CK_MECHANISM_TYPE *list;
    CK_ULONG c = fz_below(&st->r, 100);
    int n;

    list = fz_suitable(op, kind, &n);
    if (c < 78 && n > 0)
        m->mechanism = list[fz_below(&st->r, (CK_ULONG)n)];
    else if (c < 93 && st->nmechs > 0)
        m->mechanism = st->mechs[fz_below(&st->r, (CK_ULONG)st->nmechs)];
    else if (c < 97)
        m->mechanism = m_invalid[fz_below(&st->r, FZ_N(m_invalid))];
    else
        m->mechanism = fz_next(&st->r);
    if (fz_chance(&st->r, 70))
        m->pParameter = fz_bad_param(st, m->mechanism, &m->ulParameterLen);
    else
        m->pParameter = fz_param(st, m->mechanism, &m->ulParameterLen);
    if (m->pParameter == NULL && m->ulParameterLen == 0 && fz_null_with_len(st))
        m->ulParameterLen = 1 + fz_below(&st->r, 64); /* NULL parameter with a length */
    return m;
}

void fz_describe_mechanism(char *out, size_t size, const CK_MECHANISM *m)
{
    if (m == NULL)
        snprintf(out, size, "mech=NULL");
    else
        snprintf(out, size, "mech=0x%lx%s/%lu", m->mechanism, m->pParameter == NULL ? "(N)" : "",
                 m->ulParameterLen);
}
