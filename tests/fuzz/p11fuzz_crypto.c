/* p11fuzz: the cryptographic functions (PKCS #11 v2.40 s5.8-5.16) and the checks of the
 * s5.2 length protocol on their outputs.
 *
 * Output checks (each failure is an "anomaly", and fails the run):
 *   - CKR_OK with a buffer: *pulLen may not exceed the buffer's length;
 *   - CKR_BUFFER_TOO_SMALL: only with a buffer, and *pulLen then larger than it;
 *   - nothing written past the buffer (canary; guard pages turn it into a crash).
 */
#include <stdio.h>
#include <string.h>

#include "p11fuzz.h"

typedef CK_RV (*fz_io_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
typedef CK_RV (*fz_final_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);

static fz_io_fn fz_io(fz_state *st, int fn)
{
    CK_FUNCTION_LIST_PTR p = st->p11;

    switch (fn) {
    case FN_C_Encrypt: return p->C_Encrypt;
    case FN_C_EncryptUpdate: return p->C_EncryptUpdate;
    case FN_C_Decrypt: return p->C_Decrypt;
    case FN_C_DecryptUpdate: return p->C_DecryptUpdate;
    case FN_C_Digest: return p->C_Digest;
    case FN_C_Sign: return p->C_Sign;
    case FN_C_SignRecover: return p->C_SignRecover;
    case FN_C_VerifyRecover: return p->C_VerifyRecover;
    case FN_C_DigestEncryptUpdate: return p->C_DigestEncryptUpdate;
    case FN_C_DecryptDigestUpdate: return p->C_DecryptDigestUpdate;
    case FN_C_SignEncryptUpdate: return p->C_SignEncryptUpdate;
    case FN_C_DecryptVerifyUpdate: return p->C_DecryptVerifyUpdate;
    default: return NULL;
    }
}

static fz_final_fn fz_final(fz_state *st, int fn)
{
    CK_FUNCTION_LIST_PTR p = st->p11;

    switch (fn) {
    case FN_C_EncryptFinal: return p->C_EncryptFinal;
    case FN_C_DecryptFinal: return p->C_DecryptFinal;
    case FN_C_DigestFinal: return p->C_DigestFinal;
    case FN_C_SignFinal: return p->C_SignFinal;
    case FN_C_GetOperationState: return p->C_GetOperationState;
    default: return NULL;
    }
}

void *fz_input(fz_state *st, size_t len)
{
    if (len == 0)
        return fz_chance(&st->r, 500) ? NULL : fz_buf(st, 0);
    if (fz_null_with_len(st))
        return NULL; /* NULL with a non-zero length: the module must not read it */
    return fz_bytes(st, len);
}

/* Check the s5.2 output conventions after a call (see the file comment). */
static void fz_check_output(fz_state *st, const char *what, CK_RV rv, unsigned char *out,
                            CK_ULONG given, CK_ULONG got)
{
    if (out != NULL)
        fz_out_check(st, out, given, what);
    if (rv == CKR_OK && out != NULL && got > given)
        fz_anomaly(st, "%s: CKR_OK and *pulLen %lu for a %lu-byte buffer", what, got, given);
    if (rv == CKR_BUFFER_TOO_SMALL && out == NULL)
        fz_anomaly(st, "%s: CKR_BUFFER_TOO_SMALL for a NULL buffer (a length query)", what);
    if (rv == CKR_BUFFER_TOO_SMALL && out != NULL && got <= given)
        fz_anomaly(st, "%s: CKR_BUFFER_TOO_SMALL but needs %lu of %lu bytes", what, got, given);
}

/* One output call with the given buffer (NULL: length query). */
static CK_RV fz_do_output(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len,
                          unsigned char *out, CK_ULONG given, CK_ULONG *got)
{
    fz_io_fn f = fz_io(st, fn);
    fz_final_fn g = f == NULL ? fz_final(st, fn) : NULL;
    CK_ULONG len = out != NULL ? given : (fz_chance(&st->r, 500) ? 0 : fz_next(&st->r));
    CK_ULONG *plen = fz_chance(&st->r, 12) ? NULL : &len;
    CK_RV rv;

    if (f != NULL)
        fz_note(st, "%s(s=%lu, in=%s%zu, out=%s%lu%s)", fz_function_names[fn], s,
                in == NULL ? "NULL/" : "", in_len, out == NULL ? "NULL/" : "", given,
                plen == NULL ? ", pulLen=NULL" : "");
    else
        fz_note(st, "%s(s=%lu, out=%s%lu%s)", fz_function_names[fn], s,
                out == NULL ? "NULL/" : "", given, plen == NULL ? ", pulLen=NULL" : "");
    fz_begin(st, fn);
    rv = f != NULL ? f(s, in, (CK_ULONG)in_len, out, plen) : g(s, out, plen);
    fz_end(st, fn, rv);
    if (plen != NULL)
        fz_check_output(st, fz_function_names[fn], rv, out, given, len);
    *got = plen != NULL ? len : 0;
    return rv;
}

CK_RV fz_call_output(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len,
                     unsigned char **out, CK_ULONG *out_len)
{
    CK_ULONG c = fz_below(&st->r, 100), given = 0, got = 0;
    unsigned char *buf = NULL;
    CK_RV rv;

    if (c >= 30) {
        given = c < 45 ? fz_below(&st->r, 17) : (CK_ULONG)fz_out_len(st);
        buf = fz_out(st, given);
    }
    rv = fz_do_output(st, fn, s, in, in_len, buf, given, &got);
    *out = rv == CKR_OK && buf != NULL ? buf : NULL;
    *out_len = got;
    return rv;
}

/* A length query, then a call with a buffer of exactly that length (the usual two calls). */
CK_RV fz_call_exact(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len,
                    unsigned char **out, CK_ULONG *out_len)
{
    CK_ULONG need = 0, got = 0;
    unsigned char *buf;
    CK_RV rv;

    *out = NULL;
    *out_len = 0;
    rv = fz_do_output(st, fn, s, in, in_len, NULL, 0, &need);
    if (rv != CKR_OK || need > (1UL << 20))
        return rv;
    buf = fz_out(st, need);
    rv = fz_do_output(st, fn, s, in, in_len, buf, need, &got);
    if (rv == CKR_OK) {
        *out = buf;
        *out_len = got;
    }
    return rv;
}

CK_RV fz_call_init(fz_state *st, int op, CK_SESSION_HANDLE s, CK_MECHANISM *m,
                   CK_OBJECT_HANDLE key)
{
    char mech[64];

    fz_describe_mechanism(mech, sizeof(mech), m);
    switch (op) {
    case OP_ENCRYPT:
        fz_note(st, "C_EncryptInit(s=%lu, %s, key=%lu)", s, mech, key);
        return CALL(st, C_EncryptInit, s, m, key);
    case OP_DECRYPT:
        fz_note(st, "C_DecryptInit(s=%lu, %s, key=%lu)", s, mech, key);
        return CALL(st, C_DecryptInit, s, m, key);
    case OP_SIGN:
        fz_note(st, "C_SignInit(s=%lu, %s, key=%lu)", s, mech, key);
        return CALL(st, C_SignInit, s, m, key);
    case OP_VERIFY:
        fz_note(st, "C_VerifyInit(s=%lu, %s, key=%lu)", s, mech, key);
        return CALL(st, C_VerifyInit, s, m, key);
    default:
        fz_note(st, "C_DigestInit(s=%lu, %s)", s, mech);
        return CALL(st, C_DigestInit, s, m);
    }
}

CK_RV fz_call_update(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len)
{
    const char *name = fz_function_names[fn];

    fz_note(st, "%s(s=%lu, in=%s%zu)", name, s, in == NULL ? "NULL/" : "", in_len);
    switch (fn) {
    case FN_C_DigestUpdate:
        return CALL(st, C_DigestUpdate, s, in, in_len);
    case FN_C_SignUpdate:
        return CALL(st, C_SignUpdate, s, in, in_len);
    case FN_C_SeedRandom:
        return CALL(st, C_SeedRandom, s, in, in_len);
    default:
        return CALL(st, C_VerifyUpdate, s, in, in_len);
    }
}

CK_RV fz_call_verify(fz_state *st, int fn, CK_SESSION_HANDLE s, void *data, size_t len,
                     void *sig, size_t sig_len)
{
    if (fn == FN_C_VerifyFinal) {
        fz_note(st, "C_VerifyFinal(s=%lu, sig=%s%zu)", s, sig == NULL ? "NULL/" : "", sig_len);
        return CALL(st, C_VerifyFinal, s, sig, sig_len);
    }
    fz_note(st, "C_Verify(s=%lu, in=%s%zu, sig=%s%zu)", s, data == NULL ? "NULL/" : "", len,
            sig == NULL ? "NULL/" : "", sig_len);
    return CALL(st, C_Verify, s, data, len, sig, sig_len);
}

static size_t fz_sig_len(fz_state *st)
{
    static const size_t lens[] = {64, 96, 132, 70, 71, 72, 128, 256, 20, 32, 48, 16, 0};
    return fz_chance(&st->r, 850) ? lens[fz_below(&st->r, sizeof(lens) / sizeof(lens[0]))]
                                  : (size_t)fz_below(&st->r, 600);
}

/* ---- key generation ------------------------------------------------------------------- */

void fz_fetch_point(fz_state *st, CK_SESSION_HANDLE s, fz_obj *o)
{
    CK_ATTRIBUTE *a = fz_buf(st, sizeof(CK_ATTRIBUTE));
    CK_RV rv;

    a->type = CKA_EC_POINT;
    a->pValue = fz_out(st, sizeof(o->point));
    a->ulValueLen = sizeof(o->point);
    fz_note(st, "C_GetAttributeValue(s=%lu, obj=%lu, [EC_POINT:%zu])", s, o->h, sizeof(o->point));
    rv = CALL(st, C_GetAttributeValue, s, o->h, a, 1);
    fz_out_check(st, a->pValue, sizeof(o->point), "C_GetAttributeValue");
    if (rv == CKR_OK && a->ulValueLen <= sizeof(o->point)) {
        memcpy(o->point, a->pValue, a->ulValueLen);
        o->point_len = a->ulValueLen;
    }
}

static int fz_private_of(int pub)
{
    return pub == K_EC_PUB ? K_EC_PRIV : pub == K_ED_PUB ? K_ED_PRIV : K_RSA_PRIV;
}

int fz_generate(fz_state *st, CK_SESSION_HANDLE s, int kind, fz_obj **made)
{
    CK_MECHANISM *m;
    fz_template pub, priv;
    CK_OBJECT_HANDLE *h1 = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    CK_OBJECT_HANDLE *h2 = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    char mech[64], t1[160], t2[160];
    CK_RV rv;
    int pair = kind == K_EC_PUB || kind == K_ED_PUB || kind == K_RSA_PUB, k;

    *made = NULL;
    m = fz_mechanism(st, pair ? OP_GENPAIR : OP_GENKEY, kind);
    if (!pair && fz_chance(&st->r, 850)) {
        m->mechanism = kind == K_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN;
        m->pParameter = NULL;
        m->ulParameterLen = 0;
    }
    pub = fz_key_template(st, kind, 1);
    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_describe_template(t1, sizeof(t1), pub);
    if (!pair) {
        fz_note(st, "C_GenerateKey(s=%lu, %s, %s)", s, mech, t1);
        rv = CALL(st, C_GenerateKey, s, fz_chance(&st->r, 10) ? NULL : m, pub.attrs, pub.count,
                  fz_chance(&st->r, 10) ? NULL : h1);
        if (rv != CKR_OK)
            return 0;
        k = m->mechanism == CKM_AES_KEY_GEN ? K_AES
            : m->mechanism == CKM_GENERIC_SECRET_KEY_GEN ? K_SECRET : K_UNKNOWN;
        fz_add_object(st, *h1, k, -1, 0);
        *made = fz_pick_obj(st, &k, 1);
        return 1;
    }
    priv = fz_key_template(st, fz_private_of(kind), 0);
    fz_describe_template(t2, sizeof(t2), priv);
    fz_note(st, "C_GenerateKeyPair(s=%lu, %s, pub %s, priv %s)", s, mech, t1, t2);
    rv = CALL(st, C_GenerateKeyPair, s, fz_chance(&st->r, 5) ? NULL : m, pub.attrs, pub.count,
              priv.attrs, priv.count, fz_chance(&st->r, 5) ? NULL : h1,
              fz_chance(&st->r, 5) ? NULL : h2);
    if (rv != CKR_OK)
        return 0;
    if (m->mechanism == CKM_EC_KEY_PAIR_GEN)
        kind = K_EC_PUB;
    else if (m->mechanism == CKM_EC_EDWARDS_KEY_PAIR_GEN)
        kind = K_ED_PUB;
    else if (m->mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN)
        kind = K_RSA_PUB;
    fz_add_object(st, *h2, fz_private_of(kind), -1, *h1);
    fz_add_object(st, *h1, kind, -1, *h2);
    for (k = 0; k < st->nobjects; k++)
        if (st->objects[k].h == *h1)
            *made = &st->objects[k];
    if (*made != NULL && kind != K_RSA_PUB)
        fz_fetch_point(st, s, *made);
    return 1;
}

/* A key of `kind` (a pair: give the public kind) made for a purpose: its template sets
   use1 and use2 (on the private half of a pair) and CKA_EXTRACTABLE to TRUE. */
fz_obj *fz_generate_for(fz_state *st, CK_SESSION_HANDLE s, int kind, CK_ATTRIBUTE_TYPE use1,
                        CK_ATTRIBUTE_TYPE use2)
{
    static const CK_BBOOL yes = 1;
    CK_ATTRIBUTE *pub = fz_buf(st, 3 * sizeof(CK_ATTRIBUTE));
    CK_ATTRIBUTE *priv = fz_buf(st, 4 * sizeof(CK_ATTRIBUTE));
    CK_MECHANISM *m = fz_buf(st, sizeof(CK_MECHANISM));
    CK_OBJECT_HANDLE *h1 = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    CK_OBJECT_HANDLE *h2 = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    CK_ULONG curve = fz_below(&st->r, FZ_NCURVES), value_len = kind == K_AES ? 16 : 32;
    int pair = kind == K_EC_PUB || kind == K_ED_PUB, k;
    fz_obj *made = NULL;
    CK_RV rv;

    priv[0].type = use1;
    priv[1].type = use2;
    priv[2].type = CKA_EXTRACTABLE;
    for (k = 0; k < 3; k++) {
        priv[k].pValue = fz_copy(st, &yes, 1);
        priv[k].ulValueLen = 1;
    }
    if (!pair) {
        m->mechanism = kind == K_AES ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN;
        priv[3].type = CKA_VALUE_LEN;
        priv[3].pValue = fz_copy(st, &value_len, sizeof(value_len));
        priv[3].ulValueLen = sizeof(value_len);
        fz_note(st, "C_GenerateKey(s=%lu, mech=0x%lx, {0x%lx, 0x%lx, EXTRACTABLE, VALUE_LEN})", s,
                m->mechanism, use1, use2);
        rv = CALL(st, C_GenerateKey, s, m, priv, 4, h1);
        if (rv != CKR_OK)
            return NULL;
        fz_add_object(st, *h1, kind, -1, 0);
        for (k = 0; k < st->nobjects; k++)
            if (st->objects[k].h == *h1)
                return &st->objects[k];
        return NULL;
    }
    m->mechanism = kind == K_EC_PUB ? CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
    pub[0].type = CKA_EC_PARAMS;
    pub[0].pValue = kind == K_EC_PUB
                        ? fz_copy(st, fz_curve_params[curve], fz_curve_params_len[curve])
                        : fz_copy(st, "\x06\x03\x2b\x65\x70", 5); /* Ed25519 */
    pub[0].ulValueLen = kind == K_EC_PUB ? fz_curve_params_len[curve] : 5;
    pub[1].type = CKA_VERIFY;
    pub[2].type = CKA_DERIVE;
    for (k = 1; k < 3; k++) {
        pub[k].pValue = fz_copy(st, &yes, 1);
        pub[k].ulValueLen = 1;
    }
    fz_note(st, "C_GenerateKeyPair(s=%lu, mech=0x%lx, {EC_PARAMS, VERIFY}, {0x%lx, 0x%lx})", s,
            m->mechanism, use1, use2);
    rv = CALL(st, C_GenerateKeyPair, s, m, pub, kind == K_EC_PUB ? 3 : 2, priv, 3, h1, h2);
    if (rv != CKR_OK)
        return NULL;
    fz_add_object(st, *h2, kind == K_EC_PUB ? K_EC_PRIV : K_ED_PRIV, -1, *h1);
    fz_add_object(st, *h1, kind, -1, *h2);
    for (k = 0; k < st->nobjects; k++)
        if (st->objects[k].h == *h1)
            made = &st->objects[k];
    if (made != NULL)
        fz_fetch_point(st, s, made);
    for (k = 0; k < st->nobjects; k++)
        if (st->objects[k].h == *h2)
            return &st->objects[k];
    return NULL;
}

/* ---- random single calls --------------------------------------------------------------- */

static int fz_op_of_init(int fn)
{
    switch (fn) {
    case FN_C_EncryptInit: return OP_ENCRYPT;
    case FN_C_DecryptInit: return OP_DECRYPT;
    case FN_C_SignInit: return OP_SIGN;
    case FN_C_VerifyInit: return OP_VERIFY;
    case FN_C_DigestInit: return OP_DIGEST;
    default: return -1;
    }
}

static void fz_wrap(fz_state *st, CK_SESSION_HANDLE s)
{
    static const int wrapped[] = {K_AES, K_SECRET, K_EC_PRIV, K_ED_PRIV, K_RSA_PRIV, K_AES};
    int kind = fz_kind_for(st, OP_WRAP);
    CK_MECHANISM *m = fz_mechanism(st, OP_WRAP, kind);
    CK_OBJECT_HANDLE wk = fz_object(st, kind);
    CK_OBJECT_HANDLE key = fz_object(st, wrapped[fz_below(&st->r, 6)]);
    CK_ULONG c = fz_below(&st->r, 100);
    CK_ULONG given = c < 30 ? 0 : c < 45 ? fz_below(&st->r, 24) : (CK_ULONG)fz_out_len(st);
    unsigned char *out = c < 30 ? NULL : fz_out(st, given);
    CK_ULONG len = out != NULL ? given : fz_next(&st->r);
    char mech[64];
    CK_RV rv;

    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_note(st, "C_WrapKey(s=%lu, %s, wrapping=%lu, key=%lu, out=%s%lu)", s, mech, wk, key,
            out == NULL ? "NULL/" : "", given);
    rv = CALL(st, C_WrapKey, s, m, wk, key, out, &len);
    fz_check_output(st, "C_WrapKey", rv, out, given, len);
}

static void fz_unwrap(fz_state *st, CK_SESSION_HANDLE s, void *blob, size_t blob_len, int kind)
{
    static const size_t lens[] = {24, 40, 32, 48, 128, 256, 0, 7};
    int target = fz_chance(&st->r, 700) ? K_AES : K_SECRET;
    CK_MECHANISM *m = fz_mechanism(st, OP_UNWRAP, kind);
    CK_OBJECT_HANDLE uk = fz_object(st, kind);
    fz_template t = fz_new_key_template(st, target);
    CK_OBJECT_HANDLE *h = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    char mech[64], tmpl[160];
    CK_RV rv;

    if (blob == NULL && blob_len == 0) {
        blob_len = fz_chance(&st->r, 800) ? lens[fz_below(&st->r, 8)] : fz_below(&st->r, 600);
        blob = fz_input(st, blob_len);
    }
    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_describe_template(tmpl, sizeof(tmpl), t);
    fz_note(st, "C_UnwrapKey(s=%lu, %s, unwrapping=%lu, blob=%s%zu, %s)", s, mech, uk,
            blob == NULL ? "NULL/" : "", blob_len, tmpl);
    rv = CALL(st, C_UnwrapKey, s, m, uk, blob, blob_len, t.attrs, t.count,
              fz_chance(&st->r, 10) ? NULL : h);
    if (rv == CKR_OK)
        fz_add_object(st, *h, K_UNKNOWN, -1, 0);
}

static void fz_derive(fz_state *st, CK_SESSION_HANDLE s)
{
    CK_MECHANISM *m = fz_mechanism(st, OP_DERIVE, K_EC_PRIV);
    CK_OBJECT_HANDLE base = fz_object(st, K_EC_PRIV);
    fz_template t = fz_new_key_template(st, fz_chance(&st->r, 600) ? K_SECRET : K_AES);
    CK_OBJECT_HANDLE *h = fz_buf(st, sizeof(CK_OBJECT_HANDLE));
    char mech[64], tmpl[160];
    CK_RV rv;

    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_describe_template(tmpl, sizeof(tmpl), t);
    fz_note(st, "C_DeriveKey(s=%lu, %s, base=%lu, %s)", s, mech, base, tmpl);
    rv = CALL(st, C_DeriveKey, s, m, base, t.attrs, t.count, fz_chance(&st->r, 10) ? NULL : h);
    if (rv == CKR_OK)
        fz_add_object(st, *h, K_UNKNOWN, -1, 0);
}

static void fz_random(fz_state *st, CK_SESSION_HANDLE s)
{
    CK_ULONG len = fz_chance(&st->r, 950) ? fz_below(&st->r, 257)
                   : fz_chance(&st->r, 800) ? fz_below(&st->r, 4097) : fz_below(&st->r, 65537);
    unsigned char *out = len > 0 && fz_null_with_len(st) ? NULL : fz_out(st, len);

    fz_note(st, "C_GenerateRandom(s=%lu, out=%s%lu)", s, out == NULL ? "NULL/" : "", len);
    CALL(st, C_GenerateRandom, s, out, len);
    if (out != NULL)
        fz_out_check(st, out, len, "C_GenerateRandom");
}

/* A random call of crypto function `fn` on a random session; 0 if fn is not one. */
int fz_random_crypto_call(fz_state *st, int fn)
{
    CK_SESSION_HANDLE s = fz_session(st);
    int op = fz_op_of_init(fn), kind;
    unsigned char *out;
    CK_ULONG out_len;
    size_t len;
    fz_obj *made;
    char mech[64];
    CK_MECHANISM *m;

    if (op >= 0) {
        kind = op == OP_DIGEST ? K_UNKNOWN : fz_kind_for(st, op);
        m = fz_chance(&st->r, 25) ? NULL : fz_mechanism(st, op, kind);
        fz_call_init(st, op, s, m, op == OP_DIGEST ? 0 : fz_object(st, kind));
        return 1;
    }
    if (fz_io(st, fn) != NULL || fz_final(st, fn) != NULL) {
        len = fz_final(st, fn) != NULL ? 0 : fz_data_len(st);
        fz_call_output(st, fn, s, fz_final(st, fn) != NULL ? NULL : fz_input(st, len), len, &out,
                       &out_len);
        return 1;
    }
    switch (fn) {
    case FN_C_DigestUpdate:
    case FN_C_SignUpdate:
    case FN_C_VerifyUpdate:
    case FN_C_SeedRandom:
        len = fz_data_len(st);
        fz_call_update(st, fn, s, fz_input(st, len), len);
        return 1;
    case FN_C_Verify:
    case FN_C_VerifyFinal:
        len = fz_data_len(st);
        out_len = fz_sig_len(st);
        fz_call_verify(st, fn, s, fz_input(st, len), len, fz_input(st, out_len), out_len);
        return 1;
    case FN_C_DigestKey:
        out_len = fz_object(st, K_AES);
        fz_note(st, "C_DigestKey(s=%lu, key=%lu)", s, out_len);
        CALL(st, C_DigestKey, s, out_len);
        return 1;
    case FN_C_SignRecoverInit:
    case FN_C_VerifyRecoverInit:
        kind = fz_kind_for(st, fn == FN_C_SignRecoverInit ? OP_SIGN : OP_VERIFY);
        m = fz_mechanism(st, fn == FN_C_SignRecoverInit ? OP_SIGN : OP_VERIFY, kind);
        fz_describe_mechanism(mech, sizeof(mech), m);
        fz_note(st, "%s(s=%lu, %s)", fz_function_names[fn], s, mech);
        if (fn == FN_C_SignRecoverInit)
            CALL(st, C_SignRecoverInit, s, m, fz_object(st, kind));
        else
            CALL(st, C_VerifyRecoverInit, s, m, fz_object(st, kind));
        return 1;
    case FN_C_GenerateKey:
        fz_generate(st, s, fz_chance(&st->r, 700) ? K_AES : K_SECRET, &made);
        return 1;
    case FN_C_GenerateKeyPair:
        fz_generate(st, s, fz_kind_for(st, OP_GENPAIR), &made);
        return 1;
    case FN_C_WrapKey:
        fz_wrap(st, s);
        return 1;
    case FN_C_UnwrapKey:
        fz_unwrap(st, s, NULL, 0, fz_kind_for(st, OP_UNWRAP));
        return 1;
    case FN_C_DeriveKey:
        fz_derive(st, s);
        return 1;
    case FN_C_GenerateRandom:
        fz_random(st, s);
        return 1;
    case FN_C_GetFunctionStatus:
        fz_note(st, "C_GetFunctionStatus(s=%lu)", s);
        CALL(st, C_GetFunctionStatus, s);
        return 1;
    case FN_C_CancelFunction:
        fz_note(st, "C_CancelFunction(s=%lu)", s);
        CALL(st, C_CancelFunction, s);
        return 1;
    default:
        return 0;
    }
}
