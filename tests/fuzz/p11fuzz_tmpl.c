/* p11fuzz: attribute templates (PKCS #11 v2.40 s4: CK_ATTRIBUTE arrays).
 *
 * Values come from a table of real attribute types with a value generator per type: a
 * CK_BBOOL is 1 byte, a CK_ULONG 8, a CK_DATE 8 digits (or empty), byte strings have a
 * random length, CKA_ALLOWED_MECHANISMS a CK_MECHANISM_TYPE array, the *_TEMPLATE
 * attributes nested CK_ATTRIBUTE arrays. Sometimes a fixed-size value has another size;
 * ulValueLen is then that other size too: every ulValueLen equals the length of the buffer
 * behind pValue (a lying length is a separate test).
 */
#include <stdio.h>
#include <string.h>

#include "p11fuzz.h"

enum fz_vk {
    VK_BOOL, VK_ULONG, VK_CLASS, VK_KEYTYPE, VK_CERTTYPE, VK_MECH, VK_BITS, VK_LEN, VK_BYTES,
    VK_TEXT, VK_DATE, VK_MECHS, VK_NESTED, VK_ECPARAMS, VK_ECPOINT, VK_BIGINT, VK_CERT
};

typedef struct {
    CK_ATTRIBUTE_TYPE type;
    int vk;
} fz_attr_spec;

static const fz_attr_spec fz_attrs[] = {
    {CKA_CLASS, VK_CLASS}, {CKA_TOKEN, VK_BOOL}, {CKA_PRIVATE, VK_BOOL},
    {CKA_LABEL, VK_TEXT}, {CKA_UNIQUE_ID, VK_BYTES}, {CKA_APPLICATION, VK_TEXT},
    {CKA_VALUE, VK_BYTES}, {CKA_OBJECT_ID, VK_BYTES}, {CKA_CERTIFICATE_TYPE, VK_CERTTYPE},
    {CKA_ISSUER, VK_BYTES}, {CKA_SERIAL_NUMBER, VK_BYTES}, {CKA_TRUSTED, VK_BOOL},
    {CKA_CERTIFICATE_CATEGORY, VK_ULONG}, {CKA_JAVA_MIDP_SECURITY_DOMAIN, VK_ULONG},
    {CKA_URL, VK_TEXT}, {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, VK_BYTES},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, VK_BYTES}, {CKA_NAME_HASH_ALGORITHM, VK_MECH},
    {CKA_CHECK_VALUE, VK_BYTES}, {CKA_KEY_TYPE, VK_KEYTYPE}, {CKA_SUBJECT, VK_BYTES},
    {CKA_ID, VK_BYTES}, {CKA_SENSITIVE, VK_BOOL}, {CKA_ENCRYPT, VK_BOOL},
    {CKA_DECRYPT, VK_BOOL}, {CKA_WRAP, VK_BOOL}, {CKA_UNWRAP, VK_BOOL}, {CKA_SIGN, VK_BOOL},
    {CKA_SIGN_RECOVER, VK_BOOL}, {CKA_VERIFY, VK_BOOL}, {CKA_VERIFY_RECOVER, VK_BOOL},
    {CKA_DERIVE, VK_BOOL}, {CKA_START_DATE, VK_DATE}, {CKA_END_DATE, VK_DATE},
    {CKA_MODULUS, VK_BIGINT}, {CKA_MODULUS_BITS, VK_BITS}, {CKA_PUBLIC_EXPONENT, VK_BIGINT},
    {CKA_PRIVATE_EXPONENT, VK_BIGINT}, {CKA_PRIME_1, VK_BIGINT}, {CKA_PRIME_2, VK_BIGINT},
    {CKA_EXPONENT_1, VK_BIGINT}, {CKA_EXPONENT_2, VK_BIGINT}, {CKA_COEFFICIENT, VK_BIGINT},
    {CKA_PUBLIC_KEY_INFO, VK_BYTES}, {CKA_VALUE_BITS, VK_LEN}, {CKA_VALUE_LEN, VK_LEN},
    {CKA_EXTRACTABLE, VK_BOOL}, {CKA_LOCAL, VK_BOOL}, {CKA_NEVER_EXTRACTABLE, VK_BOOL},
    {CKA_ALWAYS_SENSITIVE, VK_BOOL}, {CKA_KEY_GEN_MECHANISM, VK_MECH},
    {CKA_MODIFIABLE, VK_BOOL}, {CKA_COPYABLE, VK_BOOL}, {CKA_DESTROYABLE, VK_BOOL},
    {CKA_EC_PARAMS, VK_ECPARAMS}, {CKA_EC_POINT, VK_ECPOINT},
    {CKA_ALWAYS_AUTHENTICATE, VK_BOOL}, {CKA_WRAP_WITH_TRUSTED, VK_BOOL},
    {CKA_HW_FEATURE_TYPE, VK_ULONG}, {CKA_MECHANISM_TYPE, VK_MECH},
    {CKA_WRAP_TEMPLATE, VK_NESTED}, {CKA_UNWRAP_TEMPLATE, VK_NESTED},
    {CKA_DERIVE_TEMPLATE, VK_NESTED}, {CKA_ALLOWED_MECHANISMS, VK_MECHS},
};
#define FZ_NATTRS (sizeof(fz_attrs) / sizeof(fz_attrs[0]))

static const unsigned char fz_e65537[] = {0x01, 0x00, 0x01};

/* ---- values --------------------------------------------------------------------------- */

static void fz_ulong_value(fz_state *st, CK_ATTRIBUTE *a, CK_ULONG v)
{
    CK_ULONG c = fz_below(&st->r, 1000);
    size_t len = sizeof(CK_ULONG);

    if (c < 15)
        len = (size_t)fz_below(&st->r, 17); /* another size: ulValueLen says so */
    a->pValue = fz_buf(st, len);
    memcpy(a->pValue, &v, len < sizeof(v) ? len : sizeof(v));
    a->ulValueLen = len;
}

static void fz_set_bytes(fz_state *st, CK_ATTRIBUTE *a, const void *src, size_t len)
{
    a->pValue = fz_copy(st, src, len);
    a->ulValueLen = len;
}

static void fz_set_random(fz_state *st, CK_ATTRIBUTE *a, size_t len)
{
    a->pValue = fz_bytes(st, len);
    a->ulValueLen = len;
}

static CK_ULONG fz_mech_value(fz_state *st)
{
    if (st->nmechs > 0 && fz_chance(&st->r, 850))
        return st->mechs[fz_below(&st->r, (CK_ULONG)st->nmechs)];
    return fz_chance(&st->r, 500) ? fz_below(&st->r, 0x3000) : fz_next(&st->r);
}

static CK_ULONG fz_bits_value(fz_state *st)
{
    static const CK_ULONG bad[] = {0, 1, 512, 1023, 4097, 16385, 1UL << 32, ~0UL};

    if (fz_chance(&st->r, 700))
        return 1024;
    if (st->allow_rsa_2048 && fz_chance(&st->r, 100))
        return 2048;
    return bad[fz_below(&st->r, sizeof(bad) / sizeof(bad[0]))];
}

static CK_ULONG fz_len_value(fz_state *st)
{
    static const CK_ULONG common[] = {16, 24, 32, 16, 32, 20, 64, 1, 0, 15, 33, 4096, 4097};

    if (fz_chance(&st->r, 900))
        return common[fz_below(&st->r, sizeof(common) / sizeof(common[0]))];
    return fz_chance(&st->r, 500) ? fz_below(&st->r, 600) : fz_next(&st->r);
}

static void fz_ec_params(fz_state *st, CK_ATTRIBUTE *a, int edwards)
{
    static const unsigned char *const other[] = {fz_ed448, fz_x25519, fz_secp256k1, fz_bad_der};
    static const size_t other_len[] = {sizeof(fz_ed448), sizeof(fz_x25519),
                                       sizeof(fz_secp256k1), sizeof(fz_bad_der)};
    CK_ULONG c = fz_below(&st->r, 100), i;

    if (edwards && c < 80) {
        if (c < 55)
            fz_set_bytes(st, a, fz_ed25519, sizeof(fz_ed25519));
        else if (c < 70)
            fz_set_bytes(st, a, fz_ed25519_name, sizeof(fz_ed25519_name));
        else
            fz_set_bytes(st, a, fz_ed25519_opensc, sizeof(fz_ed25519_opensc));
    } else if (!edwards && c < 85) {
        i = fz_below(&st->r, FZ_NCURVES);
        fz_set_bytes(st, a, fz_curve_params[i], fz_curve_params_len[i]);
    } else if (c < 95) {
        i = fz_below(&st->r, 4);
        fz_set_bytes(st, a, other[i], other_len[i]);
    } else {
        fz_set_random(st, a, (size_t)fz_below(&st->r, 24));
    }
}

/* CKA_EC_POINT: a real public point from the pool, or DER / raw random points. */
static void fz_ec_point(fz_state *st, CK_ATTRIBUTE *a, int edwards)
{
    static const int pubs[] = {K_EC_PUB, K_ED_PUB};
    CK_ULONG c = fz_below(&st->r, 100);
    unsigned char p[140];
    size_t n, hdr;
    fz_obj *o = fz_pick_obj(st, &pubs[edwards ? 1 : 0], 1);

    if (c < 55 && o != NULL && o->point_len > 0) {
        fz_set_bytes(st, a, o->point, o->point_len);
        return;
    }
    if (c >= 90) {
        fz_set_random(st, a, (size_t)fz_below(&st->r, 140));
        return;
    }
    /* a random point of the right size: 0x04 X Y (NIST) or 32 bytes (Ed25519) */
    n = edwards ? 32 : fz_curve_point_len[fz_below(&st->r, FZ_NCURVES)];
    hdr = c < 80 ? (n > 127 ? 3 : 2) : 0; /* DER OCTET STRING, or the raw point */
    if (hdr) {
        p[0] = 0x04;
        p[1] = (unsigned char)(n > 127 ? 0x81 : n);
        p[2] = (unsigned char)n;
    }
    fz_fill(&st->r, p + hdr, n);
    if (!edwards)
        p[hdr] = 0x04;
    fz_set_bytes(st, a, p, hdr + n);
}

static void fz_bigint(fz_state *st, CK_ATTRIBUTE *a)
{
    CK_ULONG c = fz_below(&st->r, 100);
    size_t n;
    unsigned char *p;

    if (c < 20) {
        fz_set_bytes(st, a, fz_e65537, sizeof(fz_e65537));
        return;
    }
    n = c < 70 ? (fz_chance(&st->r, 500) ? 128 : 256) : (size_t)fz_below(&st->r, 300);
    p = fz_bytes(st, n);
    if (n > 0) {
        p[0] |= 0x80;
        p[n - 1] |= 1;
    }
    a->pValue = p;
    a->ulValueLen = n;
}

static void fz_cert_value(fz_state *st, CK_ATTRIBUTE *a)
{
    CK_ULONG c = fz_below(&st->r, 100);
    unsigned char *p;
    size_t n;

    if (c < 60) {
        fz_set_bytes(st, a, fz_cert, fz_cert_len);
    } else if (c < 80) {
        n = (size_t)fz_below(&st->r, fz_cert_len);
        fz_set_bytes(st, a, fz_cert, n); /* truncated */
    } else if (c < 95) {
        p = fz_copy(st, fz_cert, fz_cert_len);
        p[fz_below(&st->r, fz_cert_len)] ^= (unsigned char)(1u << fz_below(&st->r, 8));
        a->pValue = p;
        a->ulValueLen = fz_cert_len;
    } else {
        fz_set_random(st, a, (size_t)fz_below(&st->r, 600));
    }
}

static void fz_value(fz_state *st, CK_ATTRIBUTE *a, int vk, int depth);

static void fz_nested(fz_state *st, CK_ATTRIBUTE *a, int depth)
{
    CK_ULONG n = fz_below(&st->r, 4), i;
    CK_ATTRIBUTE *inner = fz_buf(st, n * sizeof(CK_ATTRIBUTE));
    const fz_attr_spec *s;

    for (i = 0; i < n; i++) {
        s = &fz_attrs[fz_below(&st->r, FZ_NATTRS)];
        inner[i].type = s->type;
        fz_value(st, &inner[i], depth > 0 && s->vk == VK_NESTED ? VK_BYTES : s->vk, depth + 1);
    }
    a->pValue = inner;
    a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
}

static void fz_value(fz_state *st, CK_ATTRIBUTE *a, int vk, int depth)
{
    static const CK_ULONG classes[] = {CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY,
                                       CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKO_HW_FEATURE,
                                       CKO_DOMAIN_PARAMETERS, CKO_MECHANISM, CKO_OTP_KEY};
    static const CK_ULONG keytypes[] = {CKK_RSA, CKK_EC, CKK_EC_EDWARDS, CKK_AES,
                                        CKK_GENERIC_SECRET, CKK_SHA256_HMAC, CKK_SHA_1_HMAC,
                                        CKK_SHA384_HMAC, CKK_SHA512_HMAC, CKK_SHA224_HMAC,
                                        CKK_DSA, CKK_DES3, CKK_EC_MONTGOMERY};
    static const char *const dates[] = {"20240131", "19991231", "20380119", "00000000",
                                        "99991399", "2024013"};
    unsigned char b;
    CK_ULONG v, n, i;
    char text[48];

    if (fz_null_with_len(st) && vk != VK_NESTED) {
        a->pValue = NULL; /* NULL pValue with a non-zero ulValueLen: nothing to read */
        a->ulValueLen = 1 + fz_below(&st->r, 16);
        return;
    }
    switch (vk) {
    case VK_BOOL:
        if (fz_chance(&st->r, 15)) {
            fz_set_random(st, a, (size_t)fz_below(&st->r, 9)); /* another size, told so */
            return;
        }
        b = (unsigned char)(fz_chance(&st->r, 30) ? fz_next(&st->r) : fz_below(&st->r, 2));
        fz_set_bytes(st, a, &b, 1);
        return;
    case VK_ULONG:
        fz_ulong_value(st, a, fz_chance(&st->r, 700) ? fz_below(&st->r, 4) : fz_next(&st->r));
        return;
    case VK_CLASS:
        v = fz_chance(&st->r, 900) ? classes[fz_below(&st->r, 9)] : fz_next(&st->r);
        fz_ulong_value(st, a, v);
        return;
    case VK_KEYTYPE:
        v = fz_chance(&st->r, 900) ? keytypes[fz_below(&st->r, 13)] : fz_next(&st->r);
        fz_ulong_value(st, a, v);
        return;
    case VK_CERTTYPE:
        fz_ulong_value(st, a, fz_chance(&st->r, 800) ? CKC_X_509 : fz_below(&st->r, 4));
        return;
    case VK_MECH:
        fz_ulong_value(st, a, fz_mech_value(st));
        return;
    case VK_BITS:
        fz_ulong_value(st, a, fz_bits_value(st));
        return;
    case VK_LEN:
        fz_ulong_value(st, a, fz_len_value(st));
        return;
    case VK_TEXT:
        n = fz_below(&st->r, 40);
        for (i = 0; i < n; i++)
            text[i] = (char)(' ' + fz_below(&st->r, 95));
        if (n > 0 && fz_chance(&st->r, 50))
            text[fz_below(&st->r, n)] = (char)0xc3; /* not UTF-8 */
        fz_set_bytes(st, a, text, n);
        return;
    case VK_DATE:
        if (fz_chance(&st->r, 100)) {
            fz_set_bytes(st, a, "", 0);
            return;
        }
        i = fz_below(&st->r, 6);
        fz_set_bytes(st, a, dates[i], strlen(dates[i]));
        return;
    case VK_MECHS:
        n = fz_below(&st->r, 6);
        i = fz_chance(&st->r, 50) ? 3 : 0; /* not a whole number of CK_ULONGs, told so */
        a->pValue = fz_buf(st, n * sizeof(CK_ULONG) + i);
        a->ulValueLen = n * sizeof(CK_ULONG) + i;
        for (v = 0; v < n; v++)
            ((CK_ULONG *)a->pValue)[v] = fz_mech_value(st);
        return;
    case VK_NESTED:
        if (depth < 2)
            fz_nested(st, a, depth);
        else
            fz_set_random(st, a, (size_t)fz_below(&st->r, 8));
        return;
    case VK_ECPARAMS:
        fz_ec_params(st, a, fz_chance(&st->r, 300));
        return;
    case VK_ECPOINT:
        fz_ec_point(st, a, fz_chance(&st->r, 300));
        return;
    case VK_BIGINT:
        fz_bigint(st, a);
        return;
    case VK_CERT:
        fz_cert_value(st, a);
        return;
    default:
        fz_set_random(st, a, (size_t)(fz_chance(&st->r, 950) ? fz_below(&st->r, 65)
                                                             : fz_below(&st->r, 2048)));
        return;
    }
}

/* ---- templates ------------------------------------------------------------------------ */

#define FZ_MAX_TMPL 40

typedef struct {
    CK_ATTRIBUTE a[FZ_MAX_TMPL];
    int n;
} fz_builder;

static CK_ATTRIBUTE *fz_add(fz_builder *b, CK_ATTRIBUTE_TYPE type)
{
    CK_ATTRIBUTE *a;

    if (b->n >= FZ_MAX_TMPL)
        return NULL;
    a = &b->a[b->n++];
    a->type = type;
    a->pValue = NULL;
    a->ulValueLen = 0;
    return a;
}

static void fz_add_ulong(fz_state *st, fz_builder *b, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    CK_ATTRIBUTE *a = fz_add(b, type);
    if (a != NULL) {
        a->pValue = fz_copy(st, &v, sizeof(v));
        a->ulValueLen = sizeof(v);
    }
}

static void fz_add_bool(fz_state *st, fz_builder *b, CK_ATTRIBUTE_TYPE type, int value)
{
    CK_ATTRIBUTE *a = fz_add(b, type);
    CK_BBOOL v = value ? 1 : 0;
    if (a != NULL) {
        a->pValue = fz_copy(st, &v, 1);
        a->ulValueLen = 1;
    }
}

static void fz_add_typed(fz_state *st, fz_builder *b, CK_ATTRIBUTE_TYPE type, int vk)
{
    CK_ATTRIBUTE *a = fz_add(b, type);
    if (a != NULL)
        fz_value(st, a, vk, 0);
}

/* One random attribute: a real type with a value of its kind, or an unknown type. */
static void fz_add_random(fz_state *st, fz_builder *b)
{
    const fz_attr_spec *s;
    CK_ULONG c = fz_below(&st->r, 100);

    if (c < 92) {
        s = &fz_attrs[fz_below(&st->r, FZ_NATTRS)];
        fz_add_typed(st, b, s->type, s->vk);
    } else if (c < 96) {
        fz_add_typed(st, b, CKA_VENDOR_DEFINED | fz_below(&st->r, 16), VK_BYTES);
    } else if (c < 98) {
        fz_add_typed(st, b, 0x40000000UL | fz_below(&st->r, 0x1000), VK_NESTED);
    } else {
        fz_add_typed(st, b, fz_next(&st->r), VK_BYTES);
    }
}

/* Booleans a template may set on a key, each present with probability 1/2. */
static void fz_add_flags(fz_state *st, fz_builder *b, const CK_ATTRIBUTE_TYPE *types, int n,
                         unsigned true_per_mille)
{
    int i;

    for (i = 0; i < n; i++)
        if (fz_chance(&st->r, 500))
            fz_add_bool(st, b, types[i], fz_chance(&st->r, true_per_mille));
}

static const CK_ATTRIBUTE_TYPE fz_storage_flags[] = {CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE,
                                                     CKA_COPYABLE, CKA_DESTROYABLE};
static const CK_ATTRIBUTE_TYPE fz_secret_flags[] = {
    CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE,
    CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED};
static const CK_ATTRIBUTE_TYPE fz_private_flags[] = {
    CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_SENSITIVE, CKA_EXTRACTABLE,
    CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED, CKA_SIGN_RECOVER};
static const CK_ATTRIBUTE_TYPE fz_public_flags[] = {CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP,
                                                    CKA_DERIVE, CKA_TRUSTED, CKA_VERIFY_RECOVER};
#define FZ_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void fz_common(fz_state *st, fz_builder *b)
{
    fz_add_flags(st, b, fz_storage_flags, FZ_N(fz_storage_flags), 350);
    if (fz_chance(&st->r, 600))
        fz_add_typed(st, b, CKA_LABEL, VK_TEXT);
    if (fz_chance(&st->r, 400))
        fz_add_typed(st, b, CKA_ID, VK_BYTES);
}

/* Mutations: drop, add, duplicate or reorder attributes. */
static fz_template fz_finish(fz_state *st, fz_builder *b, unsigned mutate_per_mille)
{
    fz_template t;
    CK_ATTRIBUTE tmp;
    int i, j, k;

    if (fz_chance(&st->r, mutate_per_mille)) {
        k = 1 + (int)fz_below(&st->r, 3);
        for (i = 0; i < k; i++) {
            switch (fz_below(&st->r, 4)) {
            case 0:
                if (b->n > 0) {
                    j = (int)fz_below(&st->r, (CK_ULONG)b->n);
                    b->a[j] = b->a[--b->n];
                }
                break;
            case 1:
                fz_add_random(st, b);
                break;
            case 2:
                if (b->n > 0 && b->n < FZ_MAX_TMPL) {
                    j = (int)fz_below(&st->r, (CK_ULONG)b->n);
                    b->a[b->n] = b->a[j];
                    b->n++;
                }
                break;
            default:
                if (b->n > 1) {
                    j = (int)fz_below(&st->r, (CK_ULONG)b->n);
                    tmp = b->a[0];
                    b->a[0] = b->a[j];
                    b->a[j] = tmp;
                }
                break;
            }
        }
    }
    t.count = (CK_ULONG)b->n;
    if (b->n == 0 && fz_chance(&st->r, 500)) {
        t.attrs = NULL;
        return t;
    }
    t.attrs = fz_copy(st, b->a, (size_t)b->n * sizeof(CK_ATTRIBUTE));
    return t;
}

fz_template fz_random_template(fz_state *st, int n)
{
    fz_builder b;
    int i;

    b.n = 0;
    for (i = 0; i < n; i++)
        fz_add_random(st, &b);
    return fz_finish(st, &b, 0);
}

static void fz_key_material(fz_state *st, fz_builder *b, int kind)
{
    static const CK_ULONG hmac_types[] = {CKK_GENERIC_SECRET, CKK_SHA256_HMAC, CKK_SHA_1_HMAC,
                                          CKK_SHA384_HMAC, CKK_SHA512_HMAC, CKK_SHA224_HMAC};
    static const size_t aes_len[] = {16, 24, 32, 16, 32, 15, 0, 33};
    CK_ATTRIBUTE *a;
    CK_ULONG curve = fz_below(&st->r, FZ_NCURVES);
    size_t n;

    switch (kind) {
    case K_AES:
        fz_add_ulong(st, b, CKA_KEY_TYPE, CKK_AES);
        n = aes_len[fz_chance(&st->r, 900) ? fz_below(&st->r, 5) : 5 + fz_below(&st->r, 3)];
        a = fz_add(b, CKA_VALUE);
        fz_set_random(st, a, n);
        return;
    case K_SECRET:
        fz_add_ulong(st, b, CKA_KEY_TYPE, hmac_types[fz_below(&st->r, 6)]);
        a = fz_add(b, CKA_VALUE);
        fz_set_random(st, a, (size_t)fz_below(&st->r, 80));
        return;
    case K_EC_PUB:
    case K_ED_PUB:
        fz_add_ulong(st, b, CKA_KEY_TYPE, kind == K_EC_PUB ? CKK_EC : CKK_EC_EDWARDS);
        a = fz_add(b, CKA_EC_PARAMS);
        fz_ec_params(st, a, kind == K_ED_PUB);
        a = fz_add(b, CKA_EC_POINT);
        fz_ec_point(st, a, kind == K_ED_PUB);
        return;
    case K_EC_PRIV:
        fz_add_ulong(st, b, CKA_KEY_TYPE, CKK_EC);
        a = fz_add(b, CKA_EC_PARAMS);
        fz_set_bytes(st, a, fz_curve_params[curve], fz_curve_params_len[curve]);
        a = fz_add(b, CKA_VALUE);
        n = curve == 0 ? 32 : curve == 1 ? 48 : 66;
        fz_set_random(st, a, fz_chance(&st->r, 900) ? n : (size_t)fz_below(&st->r, 80));
        if (n == 66 && a->pValue != NULL && a->ulValueLen == 66)
            ((unsigned char *)a->pValue)[0] &= 1;
        return;
    case K_ED_PRIV:
        fz_add_ulong(st, b, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        a = fz_add(b, CKA_EC_PARAMS);
        fz_ec_params(st, a, 1);
        a = fz_add(b, CKA_VALUE);
        fz_set_random(st, a, fz_chance(&st->r, 900) ? 32 : (size_t)fz_below(&st->r, 64));
        return;
    case K_RSA_PUB:
    case K_RSA_PRIV:
        fz_add_ulong(st, b, CKA_KEY_TYPE, CKK_RSA);
        fz_add_typed(st, b, CKA_MODULUS, VK_BIGINT);
        a = fz_add(b, CKA_PUBLIC_EXPONENT);
        fz_set_bytes(st, a, fz_e65537, sizeof(fz_e65537));
        if (kind == K_RSA_PRIV) {
            fz_add_typed(st, b, CKA_PRIVATE_EXPONENT, VK_BIGINT);
            if (fz_chance(&st->r, 500)) {
                fz_add_typed(st, b, CKA_PRIME_1, VK_BIGINT);
                fz_add_typed(st, b, CKA_PRIME_2, VK_BIGINT);
                fz_add_typed(st, b, CKA_EXPONENT_1, VK_BIGINT);
                fz_add_typed(st, b, CKA_EXPONENT_2, VK_BIGINT);
                fz_add_typed(st, b, CKA_COEFFICIENT, VK_BIGINT);
            }
        }
        return;
    default:
        return;
    }
}

static CK_ULONG fz_class_of(int kind)
{
    switch (kind) {
    case K_DATA:
        return CKO_DATA;
    case K_CERT:
        return CKO_CERTIFICATE;
    case K_AES:
    case K_SECRET:
        return CKO_SECRET_KEY;
    case K_EC_PUB:
    case K_ED_PUB:
    case K_RSA_PUB:
        return CKO_PUBLIC_KEY;
    default:
        return CKO_PRIVATE_KEY;
    }
}

static void fz_usage(fz_state *st, fz_builder *b, int kind)
{
    switch (fz_class_of(kind)) {
    case CKO_SECRET_KEY:
        fz_add_flags(st, b, fz_secret_flags, FZ_N(fz_secret_flags), 650);
        break;
    case CKO_PRIVATE_KEY:
        fz_add_flags(st, b, fz_private_flags, FZ_N(fz_private_flags), 550);
        break;
    case CKO_PUBLIC_KEY:
        fz_add_flags(st, b, fz_public_flags, FZ_N(fz_public_flags), 650);
        break;
    default:
        break;
    }
    if (fz_chance(&st->r, 60))
        fz_add_typed(st, b, CKA_ALLOWED_MECHANISMS, VK_MECHS);
    if (fz_chance(&st->r, 40))
        fz_add_typed(st, b, CKA_START_DATE, VK_DATE);
}

fz_template fz_object_template(fz_state *st, int kind)
{
    static const int creatable[] = {K_DATA, K_CERT, K_AES, K_SECRET, K_EC_PRIV, K_EC_PUB,
                                    K_ED_PRIV, K_ED_PUB, K_RSA_PRIV, K_RSA_PUB};
    fz_builder b;
    CK_ATTRIBUTE *a;

    if (kind == K_UNKNOWN)
        kind = creatable[fz_below(&st->r, FZ_N(creatable))];
    b.n = 0;
    fz_add_ulong(st, &b, CKA_CLASS, fz_class_of(kind));
    fz_common(st, &b);
    if (kind == K_DATA) {
        if (fz_chance(&st->r, 700))
            fz_add_typed(st, &b, CKA_VALUE, VK_BYTES);
        if (fz_chance(&st->r, 400))
            fz_add_typed(st, &b, CKA_APPLICATION, VK_TEXT);
        if (fz_chance(&st->r, 200))
            fz_add_typed(st, &b, CKA_OBJECT_ID, VK_BYTES);
    } else if (kind == K_CERT) {
        fz_add_ulong(st, &b, CKA_CERTIFICATE_TYPE, CKC_X_509);
        a = fz_add(&b, CKA_VALUE);
        fz_cert_value(st, a);
        if (fz_chance(&st->r, 300))
            fz_add_typed(st, &b, CKA_SUBJECT, VK_BYTES);
        if (fz_chance(&st->r, 200))
            fz_add_typed(st, &b, CKA_CERTIFICATE_CATEGORY, VK_ULONG);
    } else {
        fz_key_material(st, &b, kind);
        fz_usage(st, &b, kind);
    }
    return fz_finish(st, &b, 250);
}

/* A template for the key C_UnwrapKey / C_DeriveKey make: class and key type (required
   there) most of the time, usage flags, at times a length. */
fz_template fz_new_key_template(fz_state *st, int kind)
{
    fz_builder b;

    b.n = 0;
    if (fz_chance(&st->r, 900))
        fz_add_ulong(st, &b, CKA_CLASS, CKO_SECRET_KEY);
    if (fz_chance(&st->r, 900))
        fz_add_ulong(st, &b, CKA_KEY_TYPE, kind == K_AES ? CKK_AES : CKK_GENERIC_SECRET);
    if (fz_chance(&st->r, 300))
        fz_add_typed(st, &b, CKA_VALUE_LEN, VK_LEN);
    fz_common(st, &b);
    fz_usage(st, &b, kind);
    return fz_finish(st, &b, 100);
}

/* A C_SetAttributeValue template: mostly attributes an application may change. */
fz_template fz_set_template(fz_state *st)
{
    static const fz_attr_spec settable[] = {
        {CKA_LABEL, VK_TEXT}, {CKA_ID, VK_BYTES}, {CKA_APPLICATION, VK_TEXT},
        {CKA_SUBJECT, VK_BYTES}, {CKA_START_DATE, VK_DATE}, {CKA_END_DATE, VK_DATE},
        {CKA_ENCRYPT, VK_BOOL}, {CKA_DECRYPT, VK_BOOL}, {CKA_SIGN, VK_BOOL},
        {CKA_VERIFY, VK_BOOL}, {CKA_WRAP, VK_BOOL}, {CKA_UNWRAP, VK_BOOL},
        {CKA_DERIVE, VK_BOOL}, {CKA_SENSITIVE, VK_BOOL}, {CKA_EXTRACTABLE, VK_BOOL},
        {CKA_PRIVATE, VK_BOOL}, {CKA_MODIFIABLE, VK_BOOL}, {CKA_VALUE, VK_BYTES},
        {CKA_TRUSTED, VK_BOOL}, {CKA_ALLOWED_MECHANISMS, VK_MECHS},
    };
    fz_builder b;
    const fz_attr_spec *a;
    CK_ULONG i, n = 1 + fz_below(&st->r, 4);

    b.n = 0;
    for (i = 0; i < n; i++) {
        if (fz_chance(&st->r, 750)) {
            a = &settable[fz_below(&st->r, sizeof(settable) / sizeof(settable[0]))];
            fz_add_typed(st, &b, a->type, a->vk);
        } else {
            fz_add_random(st, &b);
        }
    }
    return fz_finish(st, &b, 0);
}

fz_template fz_key_template(fz_state *st, int kind, int public_half)
{
    fz_builder b;
    CK_ATTRIBUTE *a;
    CK_ULONG bits;

    b.n = 0;
    if (fz_chance(&st->r, 300))
        fz_add_ulong(st, &b, CKA_CLASS, fz_class_of(kind));
    fz_common(st, &b);
    switch (kind) {
    case K_AES:
    case K_SECRET:
        if (fz_chance(&st->r, 400))
            fz_add_ulong(st, &b, CKA_KEY_TYPE, kind == K_AES ? CKK_AES : CKK_GENERIC_SECRET);
        if (fz_chance(&st->r, 850))
            fz_add_typed(st, &b, CKA_VALUE_LEN, VK_LEN);
        break;
    case K_EC_PUB:
    case K_ED_PUB:
        if (public_half) {
            a = fz_add(&b, CKA_EC_PARAMS);
            fz_ec_params(st, a, kind == K_ED_PUB);
        }
        break;
    case K_RSA_PUB:
        if (public_half) {
            bits = fz_chance(&st->r, 900) ? 1024 : fz_bits_value(st);
            fz_add_ulong(st, &b, CKA_MODULUS_BITS, bits);
            if (fz_chance(&st->r, 600)) {
                a = fz_add(&b, CKA_PUBLIC_EXPONENT);
                if (fz_chance(&st->r, 850))
                    fz_set_bytes(st, a, fz_e65537, sizeof(fz_e65537));
                else
                    fz_bigint(st, a);
            }
        }
        break;
    default:
        break;
    }
    fz_usage(st, &b, kind);
    return fz_finish(st, &b, 120);
}

/* ---- C_GetAttributeValue templates ------------------------------------------------------ */

fz_template fz_get_template(fz_state *st)
{
    static const size_t sizes[] = {0, 1, 4, 8, 16, 32, 64, 128, 256, 512, 2048};
    fz_builder b;
    CK_ATTRIBUTE *a;
    CK_ULONG i, n = 1 + fz_below(&st->r, 8);
    size_t len;

    b.n = 0;
    for (i = 0; i < n; i++) {
        a = fz_add(&b, fz_chance(&st->r, 930) ? fz_attrs[fz_below(&st->r, FZ_NATTRS)].type
                                              : fz_next(&st->r));
        if (a == NULL)
            break;
        if (fz_chance(&st->r, 350)) {
            a->pValue = NULL;
            a->ulValueLen = fz_chance(&st->r, 500) ? 0 : fz_below(&st->r, 4096);
            continue;
        }
        len = sizes[fz_below(&st->r, sizeof(sizes) / sizeof(sizes[0]))];
        a->pValue = fz_out(st, len);
        a->ulValueLen = len;
    }
    return fz_finish(st, &b, 0);
}

/* After C_GetAttributeValue (s5.7): lengths within the buffers, no write past them. */
void fz_get_template_check(fz_state *st, fz_template t, const CK_ULONG *given, CK_RV rv)
{
    CK_ULONG i;
    int unavailable = 0;

    for (i = 0; i < t.count && t.attrs != NULL; i++) {
        if (t.attrs[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
            unavailable = 1;
            continue;
        }
        if (t.attrs[i].pValue != NULL) {
            if (t.attrs[i].ulValueLen > given[i])
                fz_anomaly(st, "C_GetAttributeValue: attribute 0x%lx got ulValueLen %lu for a "
                           "%lu-byte buffer", t.attrs[i].type, t.attrs[i].ulValueLen, given[i]);
            fz_out_check(st, t.attrs[i].pValue, given[i], "C_GetAttributeValue");
        }
    }
    if (rv == CKR_OK && unavailable)
        fz_anomaly(st, "C_GetAttributeValue: CKR_OK with an unavailable attribute");
    if (rv == CKR_BUFFER_TOO_SMALL && !unavailable)
        fz_anomaly(st, "C_GetAttributeValue: CKR_BUFFER_TOO_SMALL but every value fits");
}

void fz_describe_template(char *out, size_t size, fz_template t)
{
    size_t used;
    CK_ULONG i;

    used = (size_t)snprintf(out, size, "%s[%lu]{", t.attrs == NULL ? "NULL" : "", t.count);
    for (i = 0; i < t.count && t.attrs != NULL && used + 24 < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%lx:%s%lu", i ? "," : "",
                                 t.attrs[i].type, t.attrs[i].pValue == NULL ? "N" : "",
                                 t.attrs[i].ulValueLen);
    if (used + 2 < size)
        snprintf(out + used, size - used, "%s}", i < t.count ? ".." : "");
}
