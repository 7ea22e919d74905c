/* p11fuzz: shared declarations of the PKCS #11 C ABI fuzzer (see p11fuzz.c).
 *
 * Types come from the header shipped with the package (pkcs11_v240.h, found with
 * tokenport.abi.header_path()); it declares types only, so the constants this program uses
 * are defined below with their PKCS #11 v2.40 values (s5.1 return values, s4 attributes,
 * Current Mechanisms). The return-value table the fuzzer checks every CK_RV against is in
 * p11fuzz_rv.c and is compared with the official header by tests/fuzz/test_fuzz.py.
 */
#ifndef P11FUZZ_H
#define P11FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "pkcs11_v240.h"

/* ---- constants (PKCS #11 v2.40; v3.0 where noted) ------------------------------------- */

#define CKR_OK 0x0UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_PIN_INCORRECT 0xa0UL
#define CKR_PIN_LOCKED 0xa4UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL

#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKF_LIBRARY_CANT_CREATE_OS_THREADS 0x1UL
#define CKF_DONT_BLOCK 0x1UL
#define CKF_TOKEN_INITIALIZED 0x400UL
#define CKF_USER_PIN_INITIALIZED 0x8UL
#define CKF_USER_PIN_LOCKED 0x40000UL
#define CKF_SO_PIN_LOCKED 0x400000UL
#define CKF_INTERFACE_FORK_SAFE 0x1UL /* v3.0 */

#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKU_CONTEXT_SPECIFIC 2UL
#define CKS_RW_SO_FUNCTIONS 4UL

#define CKO_DATA 0x0UL
#define CKO_CERTIFICATE 0x1UL
#define CKO_PUBLIC_KEY 0x2UL
#define CKO_PRIVATE_KEY 0x3UL
#define CKO_SECRET_KEY 0x4UL
#define CKO_HW_FEATURE 0x5UL
#define CKO_DOMAIN_PARAMETERS 0x6UL
#define CKO_MECHANISM 0x7UL
#define CKO_OTP_KEY 0x8UL

#define CKK_RSA 0x0UL
#define CKK_DSA 0x1UL
#define CKK_EC 0x3UL
#define CKK_GENERIC_SECRET 0x10UL
#define CKK_DES3 0x15UL
#define CKK_AES 0x1fUL
#define CKK_SHA_1_HMAC 0x28UL
#define CKK_SHA256_HMAC 0x2bUL
#define CKK_SHA384_HMAC 0x2cUL
#define CKK_SHA512_HMAC 0x2dUL
#define CKK_SHA224_HMAC 0x2eUL
#define CKK_EC_EDWARDS 0x40UL /* v3.0 */
#define CKK_EC_MONTGOMERY 0x41UL /* v3.0 */

#define CKC_X_509 0x0UL

#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_UNIQUE_ID 0x4UL /* v3.0 */
#define CKA_APPLICATION 0x10UL
#define CKA_VALUE 0x11UL
#define CKA_OBJECT_ID 0x12UL
#define CKA_CERTIFICATE_TYPE 0x80UL
#define CKA_ISSUER 0x81UL
#define CKA_SERIAL_NUMBER 0x82UL
#define CKA_TRUSTED 0x86UL
#define CKA_CERTIFICATE_CATEGORY 0x87UL
#define CKA_JAVA_MIDP_SECURITY_DOMAIN 0x88UL
#define CKA_URL 0x89UL
#define CKA_HASH_OF_SUBJECT_PUBLIC_KEY 0x8aUL
#define CKA_HASH_OF_ISSUER_PUBLIC_KEY 0x8bUL
#define CKA_NAME_HASH_ALGORITHM 0x8cUL
#define CKA_CHECK_VALUE 0x90UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SUBJECT 0x101UL
#define CKA_ID 0x102UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_WRAP 0x106UL
#define CKA_UNWRAP 0x107UL
#define CKA_SIGN 0x108UL
#define CKA_SIGN_RECOVER 0x109UL
#define CKA_VERIFY 0x10aUL
#define CKA_VERIFY_RECOVER 0x10bUL
#define CKA_DERIVE 0x10cUL
#define CKA_START_DATE 0x110UL
#define CKA_END_DATE 0x111UL
#define CKA_MODULUS 0x120UL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_PRIVATE_EXPONENT 0x123UL
#define CKA_PRIME_1 0x124UL
#define CKA_PRIME_2 0x125UL
#define CKA_EXPONENT_1 0x126UL
#define CKA_EXPONENT_2 0x127UL
#define CKA_COEFFICIENT 0x128UL
#define CKA_PUBLIC_KEY_INFO 0x129UL
#define CKA_VALUE_BITS 0x160UL
#define CKA_VALUE_LEN 0x161UL
#define CKA_EXTRACTABLE 0x162UL
#define CKA_LOCAL 0x163UL
#define CKA_NEVER_EXTRACTABLE 0x164UL
#define CKA_ALWAYS_SENSITIVE 0x165UL
#define CKA_KEY_GEN_MECHANISM 0x166UL
#define CKA_MODIFIABLE 0x170UL
#define CKA_COPYABLE 0x171UL
#define CKA_DESTROYABLE 0x172UL
#define CKA_EC_PARAMS 0x180UL
#define CKA_EC_POINT 0x181UL
#define CKA_ALWAYS_AUTHENTICATE 0x202UL
#define CKA_WRAP_WITH_TRUSTED 0x210UL
#define CKA_HW_FEATURE_TYPE 0x300UL
#define CKA_MECHANISM_TYPE 0x500UL
#define CKA_WRAP_TEMPLATE 0x40000211UL
#define CKA_UNWRAP_TEMPLATE 0x40000212UL
#define CKA_DERIVE_TEMPLATE 0x40000213UL
#define CKA_ALLOWED_MECHANISMS 0x40000600UL
#define CKA_VENDOR_DEFINED 0x80000000UL

#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x0UL
#define CKM_RSA_PKCS 0x1UL
#define CKM_RSA_X_509 0x3UL
#define CKM_SHA1_RSA_PKCS 0x6UL
#define CKM_RSA_PKCS_OAEP 0x9UL
#define CKM_RSA_PKCS_PSS 0xdUL
#define CKM_SHA1_RSA_PKCS_PSS 0xeUL
#define CKM_SHA256_RSA_PKCS 0x40UL
#define CKM_SHA384_RSA_PKCS 0x41UL
#define CKM_SHA512_RSA_PKCS 0x42UL
#define CKM_SHA256_RSA_PKCS_PSS 0x43UL
#define CKM_SHA384_RSA_PKCS_PSS 0x44UL
#define CKM_SHA512_RSA_PKCS_PSS 0x45UL
#define CKM_SHA224_RSA_PKCS 0x46UL
#define CKM_SHA224_RSA_PKCS_PSS 0x47UL
#define CKM_DES3_CBC 0x133UL
#define CKM_MD5 0x210UL
#define CKM_SHA_1 0x220UL
#define CKM_SHA_1_HMAC 0x221UL
#define CKM_SHA_1_HMAC_GENERAL 0x222UL
#define CKM_SHA256 0x250UL
#define CKM_SHA256_HMAC 0x251UL
#define CKM_SHA224 0x255UL
#define CKM_SHA224_HMAC 0x256UL
#define CKM_SHA384 0x260UL
#define CKM_SHA384_HMAC 0x261UL
#define CKM_SHA512 0x270UL
#define CKM_SHA512_HMAC 0x271UL
#define CKM_GENERIC_SECRET_KEY_GEN 0x350UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL
#define CKM_ECDSA_SHA1 0x1042UL
#define CKM_ECDSA_SHA224 0x1043UL
#define CKM_ECDSA_SHA256 0x1044UL
#define CKM_ECDSA_SHA384 0x1045UL
#define CKM_ECDSA_SHA512 0x1046UL
#define CKM_ECDH1_DERIVE 0x1050UL
#define CKM_ECDH1_COFACTOR_DERIVE 0x1051UL
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL /* v3.0 */
#define CKM_EDDSA 0x1057UL /* v3.0 */
#define CKM_AES_KEY_GEN 0x1080UL
#define CKM_AES_ECB 0x1081UL
#define CKM_AES_CBC 0x1082UL
#define CKM_AES_MAC 0x1083UL
#define CKM_AES_CBC_PAD 0x1085UL
#define CKM_AES_CTR 0x1086UL
#define CKM_AES_GCM 0x1087UL
#define CKM_AES_CCM 0x1088UL
#define CKM_AES_XTS 0x1071UL /* not offered by tokenport: an invalid mechanism */
#define CKM_CHACHA20_POLY1305 0x4021UL /* v3.0 */
#define CKM_AES_CMAC 0x108aUL
#define CKM_AES_KEY_WRAP 0x2109UL
#define CKM_AES_KEY_WRAP_PAD 0x210aUL
#define CKM_VENDOR_DEFINED 0x80000000UL

#define CKG_MGF1_SHA1 0x1UL
#define CKG_MGF1_SHA256 0x2UL
#define CKG_MGF1_SHA384 0x3UL
#define CKG_MGF1_SHA512 0x4UL
#define CKG_MGF1_SHA224 0x5UL
#define CKZ_DATA_SPECIFIED 0x1UL
#define CKD_NULL 0x1UL
#define CKD_SHA1_KDF 0x2UL
#define CKD_SHA256_KDF 0x6UL
#define CKD_SHA512_KDF 0x8UL

#define CK_UNAVAILABLE_INFORMATION (~0UL)

/* CK_GCM_PARAMS as in the v2.40 header before its errata (no ulIvBits); the module tells
   the two layouts apart by ulParameterLen. */
typedef struct {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} FZ_GCM_PARAMS_NO_IVBITS;

/* PKCS #11 v3.0 key derivation (not in the v2.40 header): CK_HKDF_PARAMS for CKM_HKDF_DERIVE
   and CKM_HKDF_DATA, CK_PKCS5_PBKD2_PARAMS2 for CKM_PKCS5_PBKD2. */
#define FZ_CKM_HKDF_DERIVE 0x402AUL
#define FZ_CKM_HKDF_DATA 0x402BUL
#define FZ_CKM_PKCS5_PBKD2 0x3B0UL
typedef struct {
    CK_BBOOL bExtract;
    CK_BBOOL bExpand;
    CK_MECHANISM_TYPE prfHashMechanism;
    CK_ULONG ulSaltType;
    CK_BYTE_PTR pSalt;
    CK_ULONG ulSaltLen;
    CK_OBJECT_HANDLE hSaltKey;
    CK_BYTE_PTR pInfo;
    CK_ULONG ulInfoLen;
} FZ_HKDF_PARAMS;
typedef struct {
    CK_ULONG saltSource;
    CK_VOID_PTR pSaltSourceData;
    CK_ULONG ulSaltSourceDataLen;
    CK_ULONG iterations;
    CK_ULONG prf;
    CK_VOID_PTR pPrfData;
    CK_ULONG ulPrfDataLen;
    CK_UTF8CHAR_PTR pPassword;
    CK_ULONG ulPasswordLen;
} FZ_PBKD2_PARAMS2;
/* v3.0 CK_CCM_PARAMS and CK_SALSA20_CHACHA20_POLY1305_PARAMS (the v2.40 header has neither). */
typedef struct {
    CK_ULONG ulDataLen;
    CK_BYTE_PTR pNonce;
    CK_ULONG ulNonceLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulMACLen;
} FZ_CCM_PARAMS;

typedef struct {
    CK_BYTE_PTR pNonce;
    CK_ULONG ulNonceLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
} FZ_CHACHA20_POLY1305_PARAMS;

/* ---- the functions the fuzzer calls --------------------------------------------------- */

/* One id per CK_FUNCTION_LIST entry in list order, then the v3.0 interface functions. */
#define FZ_FUNCTIONS(X)                                                                       \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList)          \
    X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo)            \
    X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession)                \
    X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState)   \
    X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject)               \
    X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit)     \
    X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)   \
    X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal)      \
    X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal)             \
    X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit)               \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal)           \
    X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate)                        \
    X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate)                  \
    X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey)          \
    X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction)            \
    X(C_WaitForSlotEvent) X(C_GetInterfaceList) X(C_GetInterface)

#define FZ_ENUM(name) FN_##name,
enum fz_function { FZ_FUNCTIONS(FZ_ENUM) FN_COUNT };
#undef FZ_ENUM
#define FZ_LIST_ENTRIES 68 /* CK_FUNCTION_LIST entries (FN_C_Initialize .. WaitForSlotEvent) */

typedef CK_RV (*fz_get_function_list_fn)(CK_FUNCTION_LIST_PTR_PTR);
typedef CK_RV (*fz_get_interface_list_fn)(CK_INTERFACE_PTR, CK_ULONG_PTR);
typedef CK_RV (*fz_get_interface_fn)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR,
                                     CK_FLAGS);

/* ---- random numbers: splitmix64, one stream per step (seed, step) ---------------------- */

typedef struct {
    uint64_t s;
} fz_rng;

uint64_t fz_next(fz_rng *r);
void fz_rng_seed(fz_rng *r, uint64_t seed, uint64_t step);
CK_ULONG fz_below(fz_rng *r, CK_ULONG n); /* uniform in [0, n), 0 when n == 0 */
int fz_chance(fz_rng *r, unsigned per_mille); /* 1 with probability per_mille / 1000 */
void fz_fill(fz_rng *r, void *buf, size_t len);

/* ---- fuzzer state --------------------------------------------------------------------- */

enum fz_kind {
    K_UNKNOWN, K_DATA, K_CERT, K_AES, K_SECRET, K_EC_PRIV, K_EC_PUB, K_ED_PRIV, K_ED_PUB,
    K_RSA_PRIV, K_RSA_PUB, K_KIND_COUNT
};

#define FZ_MAX_SESSIONS 24
#define FZ_MAX_OBJECTS 192
#define FZ_MAX_TOKENS 4
#define FZ_MAX_SLOTS 16
#define FZ_MAX_MECHS 128
#define FZ_MAX_PIN 64
#define FZ_RING 24

typedef struct {
    CK_OBJECT_HANDLE h;
    int kind;
    int curve;                  /* index into fz_curves for EC keys, -1 otherwise */
    CK_OBJECT_HANDLE peer;      /* the other half of a generated pair, 0 if none */
    unsigned char point[160];   /* CKA_EC_POINT of EC public keys (DER OCTET STRING) */
    CK_ULONG point_len;
} fz_obj;

typedef struct {
    CK_SLOT_ID slot;
    int initialized;
    unsigned char so_pin[FZ_MAX_PIN];
    CK_ULONG so_len;
    unsigned char user_pin[FZ_MAX_PIN];
    CK_ULONG user_len;
    int user_set;
    int wrong_so; /* wrong SO PINs given in a row (kept below the lock limit) */
} fz_token;

typedef struct {
    void *base;    /* what to free / munmap */
    size_t size;   /* mapping size (guarded) or 0 (malloc) */
} fz_alloc_rec;

typedef struct fz_state {
    CK_FUNCTION_LIST_PTR p11;
    fz_get_function_list_fn get_function_list;
    fz_get_interface_list_fn get_interface_list;
    fz_get_interface_fn get_interface;

    /* options */
    uint64_t seed;
    unsigned long target_calls;
    int trace;
    unsigned long trace_from;
    unsigned guard_rate;     /* per mille of buffers placed flush against a PROT_NONE page */
    unsigned null_rate;      /* per mille of NULL pointers given with a non-zero length */
    unsigned call_timeout;   /* seconds before a call counts as a hang */
    int allow_rsa_2048;
    const char *setup;       /* "none", "token", "user" */

    /* progress */
    unsigned long calls;
    unsigned long step;
    fz_rng r;

    /* what the module told us */
    int initialized;
    CK_SLOT_ID slots[FZ_MAX_SLOTS];
    int nslots;
    CK_MECHANISM_TYPE mechs[FZ_MAX_MECHS];
    int nmechs;
    fz_token tokens[FZ_MAX_TOKENS];
    int ntokens;
    CK_SESSION_HANDLE sessions[FZ_MAX_SESSIONS];
    CK_SLOT_ID session_slots[FZ_MAX_SESSIONS];
    int nsessions;
    CK_SESSION_HANDLE stale_sessions[8];
    fz_obj objects[FZ_MAX_OBJECTS];
    int nobjects;
    CK_OBJECT_HANDLE stale_objects[16];

    /* statistics */
    unsigned long fn_calls[FN_COUNT];
    unsigned long fn_ok[FN_COUNT];
    unsigned long general_errors;
    unsigned long undefined_rvs;
    unsigned long anomalies;
    unsigned long flagged_printed;

    /* the call in progress and the last ones (printed on a crash, hang or flag) */
    int current_fn;
    int last_fn;
    char ring[FZ_RING][320];
    unsigned long ring_call[FZ_RING];
    int ring_pos;

    /* buffers of the current step */
    fz_alloc_rec *allocs;
    size_t nallocs, cap_allocs;
} fz_state;

extern fz_state *fz_g;
extern const char *const fz_function_names[FN_COUNT];

/* ---- p11fuzz.c: calling and recording -------------------------------------------------- */

/* Every call goes through CALL: it records the description written by fz_note beforehand,
   arms the hang watchdog, counts the call and checks its CK_RV. */
void fz_begin(fz_state *st, int fn);
CK_RV fz_end(fz_state *st, int fn, CK_RV rv);
void fz_note(fz_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fz_anomaly(fz_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define CALL(st, name, ...)                                                                   \
    ({                                                                                        \
        fz_begin((st), FN_##name);                                                            \
        CK_RV rv__ = (st)->p11->name(__VA_ARGS__);                                            \
        fz_end((st), FN_##name, rv__);                                                        \
    })

/* ---- p11fuzz_rv.c --------------------------------------------------------------------- */

const char *fz_rv_name(CK_RV rv); /* NULL when rv is not a defined v2.40 CKR code */
void fz_rv_count(CK_RV rv);
void fz_rv_print(void);
int fz_rv_table_print(void); /* --list-rv: "name value" lines, for the header cross-check */

/* ---- p11fuzz_gen.c: buffers, handles, PINs, templates, mechanisms ---------------------- */

void *fz_buf(fz_state *st, size_t len);               /* input buffer, random guard */
void *fz_bytes(fz_state *st, size_t len);             /* input buffer with random bytes */
void *fz_copy(fz_state *st, const void *src, size_t len);
unsigned char *fz_out(fz_state *st, size_t len);      /* output buffer with a canary */
void fz_out_check(fz_state *st, const unsigned char *out, size_t len, const char *what);
void fz_free_step(fz_state *st);
size_t fz_data_len(fz_state *st);                     /* a random input length */
size_t fz_out_len(fz_state *st);                      /* a random output buffer size */
int fz_null_with_len(fz_state *st);                   /* 1: pass NULL with a non-zero length */

CK_SESSION_HANDLE fz_session(fz_state *st);
CK_OBJECT_HANDLE fz_object(fz_state *st, int want_kind);
fz_obj *fz_pick_obj(fz_state *st, const int *kinds, int nkinds);
CK_SLOT_ID fz_slot(fz_state *st);
fz_token *fz_token_for(fz_state *st, CK_SLOT_ID slot);
fz_token *fz_any_token(fz_state *st);
void fz_add_object(fz_state *st, CK_OBJECT_HANDLE h, int kind, int curve, CK_OBJECT_HANDLE peer);
void fz_forget_object(fz_state *st, CK_OBJECT_HANDLE h);
void fz_add_session(fz_state *st, CK_SESSION_HANDLE h, CK_SLOT_ID slot);
fz_token *fz_token_of_session(fz_state *st, CK_SESSION_HANDLE h);
void fz_forget_session(fz_state *st, CK_SESSION_HANDLE h);
void fz_forget_all(fz_state *st);
void fz_new_pin(fz_state *st, unsigned char *pin, CK_ULONG *len);

typedef struct {
    CK_ATTRIBUTE *attrs;
    CK_ULONG count;
} fz_template;

/* A template for creating an object of `kind` (K_UNKNOWN: any), mutated at random. */
fz_template fz_object_template(fz_state *st, int kind);
/* A template of random attributes (n of them, values right-sized for their types). */
fz_template fz_random_template(fz_state *st, int n);
/* Key generation / unwrap / derive templates for a key kind; `public_half` for pairs. */
fz_template fz_key_template(fz_state *st, int kind, int public_half);
fz_template fz_new_key_template(fz_state *st, int kind);
fz_template fz_set_template(fz_state *st);
/* A C_GetAttributeValue template: random types, NULL / small / large value buffers. */
fz_template fz_get_template(fz_state *st);
void fz_get_template_check(fz_state *st, fz_template t, const CK_ULONG *given, CK_RV rv);
void fz_describe_template(char *out, size_t size, fz_template t);

/* ---- p11fuzz_data.c: CKA_EC_PARAMS values (DER) and a certificate ----------------------- */

#define FZ_NCURVES 3 /* P-256, P-384, P-521: the supported curves */
extern const unsigned char *const fz_curve_params[FZ_NCURVES];
extern const size_t fz_curve_params_len[FZ_NCURVES];
extern const size_t fz_curve_point_len[FZ_NCURVES]; /* uncompressed point sizes */
extern const unsigned char fz_ed25519[5], fz_ed25519_name[14], fz_ed25519_opensc[11];
extern const unsigned char fz_ed448[5], fz_x25519[5], fz_secp256k1[7], fz_bad_der[3];
extern const unsigned char fz_cert[];
extern const size_t fz_cert_len;

/* Operation kinds for mechanism selection. */
enum fz_op { OP_ENCRYPT, OP_DECRYPT, OP_SIGN, OP_VERIFY, OP_DIGEST, OP_WRAP, OP_UNWRAP,
             OP_DERIVE, OP_GENKEY, OP_GENPAIR };

/* A mechanism for `op` on a key of kind `kind` (random kinds and invalid ones at times),
   with a parameter structure sized for it. */
CK_MECHANISM *fz_mechanism(fz_state *st, int op, int kind);
void fz_describe_mechanism(char *out, size_t size, const CK_MECHANISM *m);
int fz_kind_for(fz_state *st, int op);  /* a key kind that suits op */

/* ---- p11fuzz_calls.c and p11fuzz_flows.c ----------------------------------------------- */

void fz_random_call(fz_state *st);
void fz_get_attributes(fz_state *st, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj);
void fz_set_attributes(fz_state *st, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj);
void fz_find(fz_state *st, CK_SESSION_HANDLE s, int fn);
void fz_flow(fz_state *st);
CK_RV fz_initialize(fz_state *st, int valid_args);
void fz_setup_token(fz_state *st, fz_token *t, int with_user);
void fz_refresh_slots(fz_state *st);
int fz_login(fz_state *st, CK_SESSION_HANDLE s, CK_USER_TYPE who, fz_token *t);
CK_SESSION_HANDLE fz_open(fz_state *st, CK_SLOT_ID slot, int rw);

/* Calls shared by the random calls and the flows (p11fuzz_crypto.c). An output call
   chooses the output buffer (NULL, too small, large), checks the s5.2 length protocol and
   returns the output in *out / *out_len when there is one (else *out is NULL). */
void *fz_input(fz_state *st, size_t len);
CK_RV fz_call_output(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len,
                     unsigned char **out, CK_ULONG *out_len);
CK_RV fz_call_exact(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len,
                    unsigned char **out, CK_ULONG *out_len);
CK_RV fz_call_init(fz_state *st, int op, CK_SESSION_HANDLE s, CK_MECHANISM *m,
                   CK_OBJECT_HANDLE key);
CK_RV fz_call_update(fz_state *st, int fn, CK_SESSION_HANDLE s, void *in, size_t in_len);
CK_RV fz_call_verify(fz_state *st, int fn, CK_SESSION_HANDLE s, void *data, size_t len,
                     void *sig, size_t sig_len);
int fz_generate(fz_state *st, CK_SESSION_HANDLE s, int kind, fz_obj **made);
fz_obj *fz_generate_for(fz_state *st, CK_SESSION_HANDLE s, int kind, CK_ATTRIBUTE_TYPE use1,
                        CK_ATTRIBUTE_TYPE use2);
int fz_random_crypto_call(fz_state *st, int fn);
void fz_fetch_point(fz_state *st, CK_SESSION_HANDLE s, fz_obj *o);

#endif /* P11FUZZ_H */
