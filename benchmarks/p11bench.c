/* p11bench: time PKCS #11 operations through the C ABI of any PKCS #11 v2.40 module.
 *
 * The module is loaded the way real hosts load it (dlopen RTLD_LOCAL|RTLD_NOW, then
 * C_GetFunctionList and C_Initialize with CKF_OS_LOCKING_OK). Self-contained: it declares
 * the few PKCS #11 types it needs itself (p11bench.h), so it builds with nothing but gcc,
 * libc and pthreads: gcc -O2 -pthread -o p11bench p11bench.c p11bench_runs.c -ldl
 *
 *   p11bench --module PATH --init-token --label L --so-pin S --pin P
 *       initialize the first slot whose token is not initialized (C_InitToken), then
 *       C_Login as SO and C_InitPIN; prints "init <slot> <label>".
 *
 *   p11bench --module PATH --label L --pin P [--seconds S] [--warmup S] [--objects N]
 *            [--public-objects] [--no-create] [--tests a,b,...]
 *       find the token labelled L, open a R/W session, log in as user, prepare (key pairs,
 *       N token data objects "bench-0000".., unless present), then run every measurement
 *       for S seconds (default 3) after a warm-up (default 0.5 s). The data objects are
 *       private (CKA_PRIVATE=TRUE) unless --public-objects is given. The "-2t" measurements
 *       run the operation on 2 threads at once, each on a session of its own (s5.6: calls on
 *       different sessions may run concurrently under CKF_OS_LOCKING_OK); find-objects-N
 *       times C_FindObjects (10 handles a call) over N matching session objects.
 *
 *   p11bench --module PATH --init-time
 *       time dlopen, C_GetFunctionList + C_Initialize, C_GetSlotList + C_GetTokenInfo and
 *       C_Finalize in this fresh process (bench.py runs it after the store is filled).
 *
 *   p11bench --list     the measurement names, one a line
 *
 * Output: one line per fact, space separated, machine readable:
 *   info library <cryptoki version> <library version> <manufacturer...>
 *   setup <what> <count> <seconds> <per_s>      untimed-loop setup facts (object creation)
 *   initialize <dlopen> <init> <slots> <finalize>   milliseconds (--init-time)
 *   check <what> <value>                        known-answer material (bench.py checks it)
 *   result <name> <ops> <seconds> <ops_per_s>   one per measurement
 *
 * Every CK_RV is checked: any unexpected one aborts with exit status 2 and a message on
 * stderr naming the call and the return value. Usage errors exit with status 64.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "p11bench.h"

/* ---- errors --------------------------------------------------------------------------- */

static const char *rv_name(CK_RV rv)
{
    switch (rv) {
    case 0x0: return "CKR_OK";
    case 0x1: return "CKR_CANCEL";
    case 0x2: return "CKR_HOST_MEMORY";
    case 0x3: return "CKR_SLOT_ID_INVALID";
    case 0x5: return "CKR_GENERAL_ERROR";
    case 0x6: return "CKR_FUNCTION_FAILED";
    case 0x7: return "CKR_ARGUMENTS_BAD";
    case 0x10: return "CKR_ATTRIBUTE_READ_ONLY";
    case 0x12: return "CKR_ATTRIBUTE_TYPE_INVALID";
    case 0x13: return "CKR_ATTRIBUTE_VALUE_INVALID";
    case 0x30: return "CKR_DEVICE_ERROR";
    case 0x31: return "CKR_DEVICE_MEMORY";
    case 0x54: return "CKR_FUNCTION_NOT_SUPPORTED";
    case 0x60: return "CKR_KEY_HANDLE_INVALID";
    case 0x68: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
    case 0x70: return "CKR_MECHANISM_INVALID";
    case 0x71: return "CKR_MECHANISM_PARAM_INVALID";
    case 0x82: return "CKR_OBJECT_HANDLE_INVALID";
    case 0x90: return "CKR_OPERATION_ACTIVE";
    case 0x91: return "CKR_OPERATION_NOT_INITIALIZED";
    case 0xA0: return "CKR_PIN_INCORRECT";
    case 0xA1: return "CKR_PIN_INVALID";
    case 0xA2: return "CKR_PIN_LEN_RANGE";
    case 0xA4: return "CKR_PIN_LOCKED";
    case 0xB3: return "CKR_SESSION_HANDLE_INVALID";
    case 0xB5: return "CKR_SESSION_READ_ONLY";
    case 0xB6: return "CKR_SESSION_EXISTS";
    case 0xC0: return "CKR_SIGNATURE_INVALID";
    case 0xC1: return "CKR_SIGNATURE_LEN_RANGE";
    case 0xD0: return "CKR_TEMPLATE_INCOMPLETE";
    case 0xD1: return "CKR_TEMPLATE_INCONSISTENT";
    case 0xE0: return "CKR_TOKEN_NOT_PRESENT";
    case 0xE1: return "CKR_TOKEN_NOT_RECOGNIZED";
    case 0x100: return "CKR_USER_ALREADY_LOGGED_IN";
    case 0x101: return "CKR_USER_NOT_LOGGED_IN";
    case 0x102: return "CKR_USER_PIN_NOT_INITIALIZED";
    case 0x103: return "CKR_USER_TYPE_INVALID";
    case 0x150: return "CKR_BUFFER_TOO_SMALL";
    case 0x190: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case 0x191: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
    default: return "?";
    }
}

void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "p11bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(2);
}

void check(CK_RV rv, const char *call)
{
    if (rv != CKR_OK) {
        if (strncmp(call, "p11->", 5) == 0)
            call += 5;
        fprintf(stderr, "p11bench: %s returned 0x%lX (%s)\n", call, rv, rv_name(rv));
        exit(2);
    }
}

/* ---- state ------------------------------------------------------------------------------ */

CK_FUNCTION_LIST *p11;
SH session;
CK_SLOT_ID slot_id;
static OH ec_priv, ec_pub, rsa_priv, rsa_pub;
static OH ec_token_priv, ec_token_pub; /* a token key pair: what a device key is */
static CK_BYTE ec_sig[128], rsa_sig[512];
static CK_ULONG ec_sig_len, rsa_sig_len;
static CK_BYTE hash32[32], data64[64], data1k[1024], *data64k;
static CK_ULONG n_objects = 1000;
static CK_BBOOL objects_private = 1;
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static OH *generated;
static size_t n_generated, cap_generated;

CK_BBOOL ck_true = 1, ck_false = 0;
static const CK_BYTE p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const CK_BYTE f4[] = {0x01, 0x00, 0x01};
static const char bench_app[] = "p11bench";

static uint64_t rng_next(void)
{
    /* xorshift64*: cheap, deterministic label choice */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void label_of(CK_ULONG i, char *out, size_t size)
{
    snprintf(out, size, "bench-%04lu", i);
}

/* ---- module, slot, session ---------------------------------------------------------------- */

static void load_module(const char *path)
{
    void *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (handle == NULL)
        die("dlopen failed: %s", dlerror());
    get_function_list_fn get = (get_function_list_fn)(uintptr_t)dlsym(handle, "C_GetFunctionList");
    if (get == NULL)
        die("no C_GetFunctionList in %s", path);
    check(get(&p11), "C_GetFunctionList");
    if (p11 == NULL || p11->version.major != 2)
        die("%s", "the module's function list is not a PKCS #11 v2.x list");
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    CK(p11->C_Initialize, (&args));
}

static void print_info(void)
{
    CK_INFO info;
    CK(p11->C_GetInfo, (&info));
    int len = 32;
    while (len > 0 && (info.manufacturerID[len - 1] == ' ' || info.manufacturerID[len - 1] == 0))
        len--;
    printf("info library %u.%u %u.%u %.*s\n", info.cryptokiVersion.major,
           info.cryptokiVersion.minor, info.libraryVersion.major, info.libraryVersion.minor, len,
           (const char *)info.manufacturerID);
}

static void pad32(const char *text, CK_UTF8CHAR out[32])
{
    size_t len = strlen(text);
    if (len > 32)
        die("label too long (32 bytes at most): %s", text);
    memset(out, ' ', 32);
    memcpy(out, text, len);
}

/* The slots with a token present (caller frees). */
CK_SLOT_ID *slot_list(CK_ULONG *count)
{
    CK(p11->C_GetSlotList, (1, NULL, count));
    CK_SLOT_ID *slots = calloc(*count + 1, sizeof *slots);
    if (slots == NULL)
        die("%s", "out of memory");
    CK(p11->C_GetSlotList, (1, slots, count));
    return slots;
}

/* The slot whose initialized token has this label; 0 and *found = 0 if none. */
static CK_SLOT_ID find_slot(const char *label, int *found)
{
    CK_UTF8CHAR want[32];
    pad32(label, want);
    CK_ULONG count;
    CK_SLOT_ID *slots = slot_list(&count), slot = 0;
    *found = 0;
    for (CK_ULONG i = 0; i < count && !*found; i++) {
        CK_TOKEN_INFO info;
        CK(p11->C_GetTokenInfo, (slots[i], &info));
        if ((info.flags & CKF_TOKEN_INITIALIZED) && memcmp(info.label, want, 32) == 0) {
            slot = slots[i];
            *found = 1;
        }
    }
    free(slots);
    return slot;
}

static void init_token(const char *label, const char *so_pin, const char *pin)
{
    int found;
    find_slot(label, &found);
    if (found)
        die("a token labelled \"%s\" already exists", label);
    CK_ULONG count;
    CK_SLOT_ID *slots = slot_list(&count), slot = 0;
    int free_slot = 0;
    for (CK_ULONG i = 0; i < count && !free_slot; i++) {
        CK_TOKEN_INFO info;
        CK(p11->C_GetTokenInfo, (slots[i], &info));
        if (!(info.flags & CKF_TOKEN_INITIALIZED)) {
            slot = slots[i];
            free_slot = 1;
        }
    }
    free(slots);
    if (!free_slot)
        die("%s", "no slot with an uninitialized token");
    CK_UTF8CHAR label32[32];
    pad32(label, label32);
    CK(p11->C_InitToken, (slot, (CK_UTF8CHAR *)so_pin, strlen(so_pin), label32));

    CK_SLOT_ID token_slot = find_slot(label, &found);
    if (!found) {
        /* some modules renumber slots: look again after a restart of the library */
        CK(p11->C_Finalize, (NULL));
        CK_C_INITIALIZE_ARGS args;
        memset(&args, 0, sizeof args);
        args.flags = CKF_OS_LOCKING_OK;
        CK(p11->C_Initialize, (&args));
        token_slot = find_slot(label, &found);
        if (!found)
            die("the token \"%s\" is not visible after C_InitToken", label);
    }
    SH s;
    CK(p11->C_OpenSession, (token_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    CK(p11->C_Login, (s, CKU_SO, (CK_UTF8CHAR *)so_pin, strlen(so_pin)));
    CK(p11->C_InitPIN, (s, (CK_UTF8CHAR *)pin, strlen(pin)));
    CK(p11->C_Logout, (s));
    CK(p11->C_CloseSession, (s));
    CK_TOKEN_INFO info;
    CK(p11->C_GetTokenInfo, (token_slot, &info));
    if (!(info.flags & CKF_USER_PIN_INITIALIZED))
        die("%s", "CKF_USER_PIN_INITIALIZED is not set after C_InitPIN");
    printf("init %lu %s\n", token_slot, label);
}

static void open_and_login(const char *label, const char *pin)
{
    int found;
    slot_id = find_slot(label, &found);
    if (!found)
        die("no token labelled \"%s\"", label);
    CK(p11->C_OpenSession, (slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session));
    CK_RV rv = p11->C_Login(session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv != CKR_USER_ALREADY_LOGGED_IN)
        check(rv, "p11->C_Login");
}

/* ---- setup ---------------------------------------------------------------------------------- */

static void make_keys(void)
{
    CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE ec_pub_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_VERIFY, &ck_true, 1},
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
    };
    CK_ATTRIBUTE ec_priv_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_PRIVATE, &ck_true, 1},
        {CKA_SENSITIVE, &ck_true, 1},
        {CKA_SIGN, &ck_true, 1},
    };
    CK(p11->C_GenerateKeyPair, (session, &ec_gen, ec_pub_t, 3, ec_priv_t, 4, &ec_pub, &ec_priv));
    ec_pub_t[0].pValue = &ck_true; /* the same pair as token objects (CKA_TOKEN=TRUE) */
    ec_priv_t[0].pValue = &ck_true;
    CK(p11->C_GenerateKeyPair,
       (session, &ec_gen, ec_pub_t, 3, ec_priv_t, 4, &ec_token_pub, &ec_token_priv));

    CK_ULONG bits = 2048;
    CK_MECHANISM rsa_gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE rsa_pub_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_VERIFY, &ck_true, 1},
        {CKA_MODULUS_BITS, &bits, sizeof bits},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof f4},
    };
    CK_ATTRIBUTE rsa_priv_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_PRIVATE, &ck_true, 1},
        {CKA_SENSITIVE, &ck_true, 1},
        {CKA_SIGN, &ck_true, 1},
    };
    CK(p11->C_GenerateKeyPair,
       (session, &rsa_gen, rsa_pub_t, 4, rsa_priv_t, 4, &rsa_pub, &rsa_priv));

    for (size_t i = 0; i < sizeof hash32; i++)
        hash32[i] = (CK_BYTE)(i * 7 + 1);
    for (size_t i = 0; i < sizeof data64; i++)
        data64[i] = (CK_BYTE)i;
    for (size_t i = 0; i < sizeof data1k; i++)
        data1k[i] = (CK_BYTE)(i * 13 + 5);
    data64k = malloc(65536);
    if (data64k == NULL)
        die("%s", "out of memory");
    for (size_t i = 0; i < 65536; i++)
        data64k[i] = (CK_BYTE)(i * 31 + (i >> 8));

    /* one signature of each kind for the verify loops, and a check that a wrong
       signature is refused (so a verify loop that passes really verifies) */
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, rsa = {CKM_SHA256_RSA_PKCS, NULL, 0};
    ec_sig_len = sizeof ec_sig;
    CK(p11->C_SignInit, (session, &ecdsa, ec_priv));
    CK(p11->C_Sign, (session, hash32, sizeof hash32, ec_sig, &ec_sig_len));
    if (ec_sig_len != 64)
        die("%s", "ECDSA P-256 signature is not 64 bytes");
    rsa_sig_len = sizeof rsa_sig;
    CK(p11->C_SignInit, (session, &rsa, rsa_priv));
    CK(p11->C_Sign, (session, data64, sizeof data64, rsa_sig, &rsa_sig_len));
    if (rsa_sig_len != 256)
        die("%s", "RSA-2048 signature is not 256 bytes");

    CK_BYTE bad[512];
    memcpy(bad, ec_sig, ec_sig_len);
    bad[10] ^= 0x01;
    CK(p11->C_VerifyInit, (session, &ecdsa, ec_pub));
    CK_RV rv = p11->C_Verify(session, hash32, sizeof hash32, bad, ec_sig_len);
    if (rv != CKR_SIGNATURE_INVALID)
        die("%s", "a corrupted ECDSA signature was not refused with CKR_SIGNATURE_INVALID");
    memcpy(bad, rsa_sig, rsa_sig_len);
    bad[100] ^= 0x01;
    CK(p11->C_VerifyInit, (session, &rsa, rsa_pub));
    rv = p11->C_Verify(session, data64, sizeof data64, bad, rsa_sig_len);
    if (rv != CKR_SIGNATURE_INVALID)
        die("%s", "a corrupted RSA signature was not refused with CKR_SIGNATURE_INVALID");
}

static void print_digest(const char *what, const CK_BYTE *data, CK_ULONG len)
{
    CK_MECHANISM sha = {CKM_SHA256, NULL, 0};
    CK_BYTE out[64];
    CK_ULONG out_len = sizeof out;
    CK(p11->C_DigestInit, (session, &sha));
    CK(p11->C_Digest, (session, (CK_BYTE *)data, len, out, &out_len));
    printf("check %s ", what);
    for (CK_ULONG i = 0; i < out_len; i++)
        printf("%02x", out[i]);
    printf("\n");
}

/* Make sure the token holds data objects "bench-0000".."bench-<N-1>" (CKA_TOKEN=TRUE,
 * CKA_APPLICATION "p11bench"): those already there are found by one search and kept,
 * the missing ones are created. Reports the creation rate as a setup line. */
static void ensure_objects(int create)
{
    CK_OBJECT_CLASS data_class = CKO_DATA;
    CK_ATTRIBUTE find_t[] = {
        {CKA_CLASS, &data_class, sizeof data_class},
        {CKA_APPLICATION, (void *)bench_app, sizeof bench_app - 1},
    };
    unsigned char *present = calloc(n_objects, 1);
    OH *handles = malloc(256 * sizeof *handles);
    if (present == NULL || handles == NULL)
        die("%s", "out of memory");
    CK_ULONG have = 0, got;
    CK(p11->C_FindObjectsInit, (session, find_t, 2));
    do {
        CK(p11->C_FindObjects, (session, handles, 256, &got));
        for (CK_ULONG i = 0; i < got; i++) {
            char label[64];
            CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof label - 1};
            CK(p11->C_GetAttributeValue, (session, handles[i], &a, 1));
            label[a.ulValueLen] = '\0';
            unsigned long idx;
            char tail;
            if (sscanf(label, "bench-%lu%c", &idx, &tail) == 1 && idx < n_objects &&
                !present[idx]) {
                present[idx] = 1;
                have++;
            }
        }
    } while (got > 0);
    CK(p11->C_FindObjectsFinal, (session));
    free(handles);

    if (have == n_objects || !create) {
        printf("setup objects-present %lu\n", have);
        if (have != n_objects)
            die("%s", "--no-create given but the token lacks some bench-NNNN objects");
        free(present);
        return;
    }
    CK_ULONG made = 0;
    double start = now();
    for (CK_ULONG i = 0; i < n_objects; i++) {
        if (present[i])
            continue;
        char label[32];
        label_of(i, label, sizeof label);
        CK_BYTE value[16];
        for (size_t k = 0; k < sizeof value; k++)
            value[k] = (CK_BYTE)(i + k);
        CK_ATTRIBUTE t[] = {
            {CKA_CLASS, &data_class, sizeof data_class},
            {CKA_TOKEN, &ck_true, 1},
            {CKA_PRIVATE, &objects_private, 1},
            {CKA_LABEL, label, strlen(label)},
            {CKA_APPLICATION, (void *)bench_app, sizeof bench_app - 1},
            {CKA_VALUE, value, sizeof value},
        };
        OH h;
        CK(p11->C_CreateObject, (session, t, 6, &h));
        made++;
    }
    double took = now() - start;
    printf("setup create-token-object %lu %.3f %.1f\n", made, took, made / took);
    free(present);
}

/* ---- the measured operations (one op each, on the session given) ------------------------- */

static void ecdsa_sign_with(SH s, OH key)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_BYTE sig[128];
    CK_ULONG len = sizeof sig;
    CK(p11->C_SignInit, (s, &m, key));
    CK(p11->C_Sign, (s, hash32, sizeof hash32, sig, &len));
}

static void op_ecdsa_sign(SH s) { ecdsa_sign_with(s, ec_priv); }

static void op_ecdsa_sign_token(SH s) { ecdsa_sign_with(s, ec_token_priv); }

static void op_ecdsa_verify(SH s)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK(p11->C_VerifyInit, (s, &m, ec_pub));
    CK(p11->C_Verify, (s, hash32, sizeof hash32, ec_sig, ec_sig_len));
}

static void op_rsa_sign(SH s)
{
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    CK_BYTE sig[512];
    CK_ULONG len = sizeof sig;
    CK(p11->C_SignInit, (s, &m, rsa_priv));
    CK(p11->C_Sign, (s, data64, sizeof data64, sig, &len));
}

static void op_rsa_verify(SH s)
{
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    CK(p11->C_VerifyInit, (s, &m, rsa_pub));
    CK(p11->C_Verify, (s, data64, sizeof data64, rsa_sig, rsa_sig_len));
}

static void digest(SH s, CK_BYTE *data, CK_ULONG len)
{
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    CK_BYTE out[32];
    CK_ULONG out_len = sizeof out;
    CK(p11->C_DigestInit, (s, &m));
    CK(p11->C_Digest, (s, data, len, out, &out_len));
}

static void op_sha256_64(SH s) { digest(s, data64, sizeof data64); }
static void op_sha256_1k(SH s) { digest(s, data1k, sizeof data1k); }
static void op_sha256_64k(SH s) { digest(s, data64k, 65536); }

static void op_find_label(SH s)
{
    char label[32];
    label_of((CK_ULONG)(rng_next() % n_objects), label, sizeof label);
    CK_ATTRIBUTE t = {CKA_LABEL, label, strlen(label)};
    OH found[2];
    CK_ULONG count = 0;
    CK(p11->C_FindObjectsInit, (s, &t, 1));
    CK(p11->C_FindObjects, (s, found, 2, &count));
    CK(p11->C_FindObjectsFinal, (s));
    if (count != 1) {
        fprintf(stderr, "p11bench: find by label %s found %lu objects, not 1\n", label, count);
        exit(2);
    }
}

static void op_random32(SH s)
{
    CK_BYTE out[32];
    CK(p11->C_GenerateRandom, (s, out, sizeof out));
}

static void op_session_info(SH s)
{
    CK_ULONG info[8]; /* CK_SESSION_INFO: slotID, state, flags, ulDeviceError */
    CK(p11->C_GetSessionInfo, (s, info));
}

static void op_ec_keygen(SH s)
{
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_VERIFY, &ck_true, 1},
        {CKA_EC_PARAMS, (void *)p256_oid, sizeof p256_oid},
    };
    CK_ATTRIBUTE priv_t[] = {
        {CKA_TOKEN, &ck_false, 1},
        {CKA_PRIVATE, &ck_true, 1},
        {CKA_SENSITIVE, &ck_true, 1},
        {CKA_SIGN, &ck_true, 1},
    };
    OH pub, priv;
    CK(p11->C_GenerateKeyPair, (s, &m, pub_t, 3, priv_t, 4, &pub, &priv));
    if (n_generated + 2 > cap_generated) {
        cap_generated = cap_generated ? cap_generated * 2 : 1024;
        generated = realloc(generated, cap_generated * sizeof *generated);
        if (generated == NULL)
            die("%s", "out of memory");
    }
    generated[n_generated++] = pub;
    generated[n_generated++] = priv;
}

static void after_keygen(void)
{
    /* destroyed after the timed loop, so the session holds no extra objects afterwards */
    for (size_t i = 0; i < n_generated; i++)
        CK(p11->C_DestroyObject, (session, generated[i]));
    n_generated = 0;
}

/* ---- the measurement table and the runners ------------------------------------------------ */

enum kind {
    LOOP,    /* op in a loop on the main session */
    THREADS, /* op in a loop on `threads` sessions, one thread each; total ops/s */
    FIND,    /* C_FindObjects over `count` matches, 10 handles per call; calls/s */
    OUTSIDE, /* measured by bench.py in fresh processes (p11bench --init-time); here only
                the N token objects are made sure of */
};

struct measurement {
    const char *name;
    enum kind kind;
    void (*op)(SH);
    void (*after)(void);
    unsigned long count; /* threads for THREADS, matches for FIND */
};

static const struct measurement measurements[] = {
    {"ecdsa-p256-sign", LOOP, op_ecdsa_sign, NULL, 0},
    {"ecdsa-p256-sign-2t", THREADS, op_ecdsa_sign, NULL, 2},
    {"ecdsa-p256-sign-token", LOOP, op_ecdsa_sign_token, NULL, 0},
    {"ecdsa-p256-verify", LOOP, op_ecdsa_verify, NULL, 0},
    {"ecdsa-p256-verify-2t", THREADS, op_ecdsa_verify, NULL, 2},
    {"rsa2048-sha256-sign", LOOP, op_rsa_sign, NULL, 0},
    {"rsa2048-sha256-sign-2t", THREADS, op_rsa_sign, NULL, 2},
    {"rsa2048-sha256-verify", LOOP, op_rsa_verify, NULL, 0},
    {"sha256-64B", LOOP, op_sha256_64, NULL, 0},
    {"sha256-1KiB", LOOP, op_sha256_1k, NULL, 0},
    {"sha256-64KiB", LOOP, op_sha256_64k, NULL, 0},
    {"find-by-label", LOOP, op_find_label, NULL, 0},
    {"random-32B", LOOP, op_random32, NULL, 0},
    {"get-session-info", LOOP, op_session_info, NULL, 0},
    {"ec-p256-keygen", LOOP, op_ec_keygen, after_keygen, 0},
    {"find-objects-1k", FIND, NULL, NULL, 1024},
    {"find-objects-16k", FIND, NULL, NULL, 16384},
    {"initialize", OUTSIDE, NULL, NULL, 0},
};
#define N_MEASUREMENTS (sizeof measurements / sizeof measurements[0])

static void run(const struct measurement *m, double seconds, double warmup)
{
    double start = now(), end = start + warmup;
    while (now() < end)
        m->op(session);
    if (m->after)
        m->after();
    unsigned long ops = 0;
    start = now();
    end = start + seconds;
    double t;
    do {
        m->op(session);
        ops++;
        t = now();
    } while (t < end);
    double took = t - start;
    if (m->after)
        m->after();
    printf("result %s %lu %.4f %.2f\n", m->name, ops, took, ops / took);
    fflush(stdout);
}

static int selected(const char *tests, const char *name)
{
    if (tests == NULL)
        return 1;
    size_t n = strlen(name);
    for (const char *p = tests; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: p11bench --module PATH --label LABEL --pin PIN [--seconds S] [--warmup S]\n"
            "                [--objects N] [--public-objects] [--no-create] [--tests NAME,...]\n"
            "       p11bench --module PATH --init-token --label LABEL --so-pin SO --pin PIN\n"
            "       p11bench --module PATH --init-time\n"
            "       p11bench --list\n");
    exit(64);
}

int main(int argc, char **argv)
{
    const char *module = NULL, *label = NULL, *pin = NULL, *so_pin = NULL, *tests = NULL;
    double seconds = 3.0, warmup = 0.5;
    int init = 0, create = 1, timing_init = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < N_MEASUREMENTS; k++)
                printf("%s\n", measurements[k].name);
            return 0;
        } else if (strcmp(a, "--init-token") == 0) {
            init = 1;
        } else if (strcmp(a, "--init-time") == 0) {
            timing_init = 1;
        } else if (strcmp(a, "--no-create") == 0) {
            create = 0;
        } else if (strcmp(a, "--public-objects") == 0) {
            objects_private = 0;
        } else if (v == NULL) {
            usage();
        } else if (strcmp(a, "--module") == 0) {
            module = v, i++;
        } else if (strcmp(a, "--label") == 0) {
            label = v, i++;
        } else if (strcmp(a, "--pin") == 0) {
            pin = v, i++;
        } else if (strcmp(a, "--so-pin") == 0) {
            so_pin = v, i++;
        } else if (strcmp(a, "--tests") == 0) {
            tests = v, i++;
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = atof(v), i++;
        } else if (strcmp(a, "--warmup") == 0) {
            warmup = atof(v), i++;
        } else if (strcmp(a, "--objects") == 0) {
            n_objects = strtoul(v, NULL, 10), i++;
        } else {
            usage();
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (timing_init) {
        if (module == NULL)
            usage();
        init_time(module);
        return 0;
    }
    if (module == NULL || label == NULL || pin == NULL || (init && so_pin == NULL))
        usage();
    if (seconds <= 0 || warmup < 0 || n_objects == 0)
        usage();
    if (tests != NULL) {
        for (const char *p = tests; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            int known = 0;
            for (size_t k = 0; k < N_MEASUREMENTS; k++)
                if (strlen(measurements[k].name) == len &&
                    strncmp(measurements[k].name, p, len) == 0)
                    known = 1;
            if (!known) {
                fprintf(stderr, "p11bench: unknown test %.*s (see --list)\n", (int)len, p);
                return 64;
            }
            if (!comma)
                break;
            p = comma + 1;
        }
    }

    load_module(module);
    print_info();
    if (init) {
        init_token(label, so_pin, pin);
        CK(p11->C_Finalize, (NULL));
        return 0;
    }
    open_and_login(label, pin);
    make_keys();
    print_digest("sha256-64B", data64, sizeof data64);
    print_digest("sha256-1KiB", data1k, sizeof data1k);
    print_digest("sha256-64KiB", data64k, 65536);
    if (selected(tests, "find-by-label") || selected(tests, "initialize"))
        ensure_objects(create);

    for (size_t k = 0; k < N_MEASUREMENTS; k++) {
        const struct measurement *m = &measurements[k];
        if (!selected(tests, m->name))
            continue;
        switch (m->kind) {
        case LOOP: run(m, seconds, warmup); break;
        case THREADS: run_threads(m->name, m->op, m->count, seconds, warmup); break;
        case FIND: run_find(m->name, m->count, seconds, warmup); break;
        case OUTSIDE: break;
        }
    }

    close_find_session();
    CK(p11->C_Logout, (session));
    CK(p11->C_CloseSession, (session));
    CK(p11->C_Finalize, (NULL));
    free(data64k);
    free(generated);
    return 0;
}
