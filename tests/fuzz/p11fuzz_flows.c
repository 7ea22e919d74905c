/* p11fuzz: library and token setup, and the flows: short call sequences that reach states
 * single random calls rarely reach (an operation initialized and then continued, sign then
 * verify, encrypt then decrypt, wrap then unwrap, generate then inspect, find, PIN changes,
 * C_Finalize + C_Initialize, token re-initialization).
 *
 * Two flows also check results (each failure is an "anomaly"): a signature C_Sign made
 * must verify with the same mechanism, key pair and data, and C_Decrypt must give back
 * what C_Encrypt was given (same mechanism and parameters).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11fuzz.h"

/* ---- C_Initialize ---------------------------------------------------------------------- */

static CK_RV fz_mutex_create(CK_VOID_PTR_PTR pp)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (pp == NULL || m == NULL)
        return 0x7UL; /* CKR_ARGUMENTS_BAD */
    pthread_mutex_init(m, NULL);
    *pp = m;
    return CKR_OK;
}

static CK_RV fz_mutex_destroy(CK_VOID_PTR p)
{
    pthread_mutex_destroy(p);
    free(p);
    return CKR_OK;
}

static CK_RV fz_mutex_lock(CK_VOID_PTR p)
{
    return pthread_mutex_lock(p) == 0 ? CKR_OK : 0x1a0UL;
}

static CK_RV fz_mutex_unlock(CK_VOID_PTR p)
{
    return pthread_mutex_unlock(p) == 0 ? CKR_OK : 0x1a1UL;
}

CK_RV fz_initialize(fz_state *st, int valid_args)
{
    CK_ULONG c = fz_below(&st->r, valid_args ? 80 : 100);
    CK_C_INITIALIZE_ARGS *a = NULL;
    const char *what = "NULL";
    CK_RV rv;

    if (c >= 30) {
        a = fz_buf(st, sizeof(*a));
        what = "OS_LOCKING_OK";
        a->flags = CKF_OS_LOCKING_OK;
        if (c >= 65 && c < 80) {
            what = "mutex callbacks";
            a->CreateMutex = fz_mutex_create;
            a->DestroyMutex = fz_mutex_destroy;
            a->LockMutex = fz_mutex_lock;
            a->UnlockMutex = fz_mutex_unlock;
            a->flags = fz_chance(&st->r, 500) ? CKF_OS_LOCKING_OK : 0;
        } else if (c >= 80 && c < 85) {
            what = "CANT_CREATE_OS_THREADS";
            a->flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS;
        } else if (c >= 85 && c < 90) {
            what = "some mutex callbacks";
            a->CreateMutex = fz_mutex_create;
            if (fz_chance(&st->r, 500))
                a->UnlockMutex = fz_mutex_unlock;
        } else if (c >= 90 && c < 95) {
            what = "pReserved set";
            a->pReserved = fz_buf(st, 8);
        } else if (c >= 95) {
            what = "random flags";
            a->flags = fz_next(&st->r);
        }
    }
    fz_note(st, "C_Initialize(%s)", what);
    rv = CALL(st, C_Initialize, a);
    if (rv == CKR_OK) {
        st->initialized = 1;
        fz_forget_all(st);
        fz_refresh_slots(st);
    } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        st->initialized = 1;
    }
    return rv;
}

/* Slots, mechanisms and the state of the tokens we track, from the module. */
void fz_refresh_slots(fz_state *st)
{
    CK_ULONG n = FZ_MAX_SLOTS, i;
    CK_SLOT_ID *list = (CK_SLOT_ID *)fz_out(st, FZ_MAX_SLOTS * sizeof(CK_SLOT_ID));
    CK_TOKEN_INFO *info;
    CK_MECHANISM_TYPE *mechs;
    int k;

    fz_note(st, "C_GetSlotList(0, list/%d)", FZ_MAX_SLOTS);
    if (CALL(st, C_GetSlotList, 0, list, &n) == CKR_OK) {
        st->nslots = 0;
        for (i = 0; i < n && i < FZ_MAX_SLOTS; i++)
            st->slots[st->nslots++] = list[i];
    }
    if (st->nmechs == 0 && st->nslots > 0) {
        n = FZ_MAX_MECHS;
        mechs = (CK_MECHANISM_TYPE *)fz_out(st, FZ_MAX_MECHS * sizeof(CK_MECHANISM_TYPE));
        fz_note(st, "C_GetMechanismList(slot=%lu, list/%d)", st->slots[0], FZ_MAX_MECHS);
        if (CALL(st, C_GetMechanismList, st->slots[0], mechs, &n) == CKR_OK) {
            for (i = 0; i < n && i < FZ_MAX_MECHS; i++)
                st->mechs[i] = mechs[i];
            st->nmechs = (int)i;
        }
    }
    for (k = 0; k < st->ntokens; k++) {
        fz_token *t = &st->tokens[k];
        info = (CK_TOKEN_INFO *)fz_out(st, sizeof(*info));
        fz_note(st, "C_GetTokenInfo(slot=%lu, info)", t->slot);
        if (CALL(st, C_GetTokenInfo, t->slot, info) != CKR_OK)
            continue;
        t->initialized = (info->flags & CKF_TOKEN_INITIALIZED) != 0;
        if (!t->initialized || !(info->flags & CKF_USER_PIN_INITIALIZED) ||
            (info->flags & CKF_USER_PIN_LOCKED))
            t->user_set = 0;
        if (info->flags & CKF_SO_PIN_LOCKED)
            t->so_len = 0;
    }
}

CK_SESSION_HANDLE fz_open(fz_state *st, CK_SLOT_ID slot, int rw)
{
    CK_SESSION_HANDLE *h = fz_buf(st, sizeof(*h));
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);

    if (st->nsessions >= FZ_MAX_SESSIONS - 1) {
        fz_note(st, "C_CloseSession(s=%lu)", st->sessions[0]);
        if (CALL(st, C_CloseSession, st->sessions[0]) == CKR_OK)
            fz_forget_session(st, st->sessions[0]);
    }
    fz_note(st, "C_OpenSession(slot=%lu, flags=0x%lx)", slot, flags);
    if (CALL(st, C_OpenSession, slot, flags, NULL, NULL, h) != CKR_OK)
        return 0;
    fz_add_session(st, *h, slot);
    return *h;
}

/* C_Login with the PIN we believe right; a PIN_INCORRECT means we lost track of it. */
int fz_login(fz_state *st, CK_SESSION_HANDLE s, CK_USER_TYPE who, fz_token *t)
{
    int so = who == CKU_SO;
    CK_ULONG len = so ? t->so_len : t->user_len;
    CK_RV rv;

    if (so ? t->so_len == 0 : !t->user_set)
        return 0;
    fz_note(st, "C_Login(s=%lu, user=%lu, pin=%lu)", s, who, len);
    rv = CALL(st, C_Login, s, who, fz_copy(st, so ? t->so_pin : t->user_pin, len), len);
    if (rv == CKR_OK && so)
        t->wrong_so = 0;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
        if (so)
            t->so_len = 0;
        else
            t->user_set = 0;
    }
    return rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
}

static void fz_close_slot(fz_state *st, CK_SLOT_ID slot)
{
    int i;

    fz_note(st, "C_CloseAllSessions(slot=%lu)", slot);
    if (CALL(st, C_CloseAllSessions, slot) != CKR_OK)
        return;
    for (i = st->nsessions - 1; i >= 0; i--)
        if (st->session_slots[i] == slot)
            fz_forget_session(st, st->sessions[i]);
}

/* Initialize the token if it is not, give it a user PIN, log the user in if asked. */
void fz_setup_token(fz_state *st, fz_token *t, int with_user)
{
    unsigned char label[32];
    CK_SESSION_HANDLE s;
    CK_ULONG len;
    unsigned char pin[FZ_MAX_PIN];
    CK_RV rv;

    if (!t->initialized) {
        if (t->so_len == 0)
            fz_new_pin(st, t->so_pin, &t->so_len);
        fz_close_slot(st, t->slot);
        memset(label, ' ', sizeof(label));
        snprintf((char *)label, sizeof(label), "p11fuzz-%lu",
                 (unsigned long)fz_below(&st->r, 1000));
        label[strlen((char *)label)] = ' ';
        fz_note(st, "C_InitToken(slot=%lu, pin=%lu, label)", t->slot, t->so_len);
        rv = CALL(st, C_InitToken, t->slot, fz_copy(st, t->so_pin, t->so_len), t->so_len,
                  fz_copy(st, label, 32));
        if (rv != CKR_OK)
            return;
        t->initialized = 1;
        t->user_set = 0;
        while (st->nobjects > 0) /* the token's objects are gone */
            fz_forget_object(st, st->objects[0].h);
    }
    if (t->so_len == 0)
        return;
    s = fz_open(st, t->slot, 1);
    if (s == 0)
        return;
    if (!t->user_set && fz_login(st, s, CKU_SO, t)) {
        fz_new_pin(st, pin, &len);
        fz_note(st, "C_InitPIN(s=%lu, pin=%lu)", s, len);
        if (CALL(st, C_InitPIN, s, fz_copy(st, pin, len), len) == CKR_OK) {
            memcpy(t->user_pin, pin, len);
            t->user_len = len;
            t->user_set = 1;
        }
        fz_note(st, "C_Logout(s=%lu)", s);
        CALL(st, C_Logout, s);
    }
    if (with_user)
        fz_login(st, s, CKU_USER, t);
}

/* 1 when the token in `slot` is not initialized (C_GetTokenInfo). */
static int fz_slot_is_free(fz_state *st, CK_SLOT_ID slot)
{
    CK_TOKEN_INFO *info = (CK_TOKEN_INFO *)fz_out(st, sizeof(*info));

    fz_note(st, "C_GetTokenInfo(slot=%lu, info)", slot);
    return CALL(st, C_GetTokenInfo, slot, info) == CKR_OK &&
           !(info->flags & CKF_TOKEN_INITIALIZED);
}

/* A token to work on: a tracked one in good order; else a tracked one that lost its
   initialization (the memory store forgets tokens at C_Finalize) set up again; else a new
   one on a free slot, in place of a token whose SO PIN we lost if need be. */
static fz_token *fz_good_token(fz_state *st)
{
    fz_token *t;
    int i, k;

    for (i = 0; i < st->ntokens; i++) {
        t = &st->tokens[(i + (int)fz_below(&st->r, (CK_ULONG)st->ntokens)) % st->ntokens];
        if (t->initialized && t->so_len > 0)
            return t;
    }
    if (strcmp(st->setup, "none") == 0)
        return NULL;
    for (i = 0; i < st->ntokens; i++) {
        t = &st->tokens[i];
        if (!t->initialized) {
            fz_setup_token(st, t, 1);
            return t->initialized ? t : NULL;
        }
    }
    for (i = 0; i < st->ntokens; i++) /* forget tokens we can no longer administer */
        if (st->tokens[i].so_len == 0)
            st->tokens[i--] = st->tokens[--st->ntokens];
    if (st->ntokens >= FZ_MAX_TOKENS)
        return NULL;
    for (i = st->nslots - 1; i >= 0; i--) {
        for (k = 0; k < st->ntokens && st->tokens[k].slot != st->slots[i]; k++)
            ;
        if (k < st->ntokens || !fz_slot_is_free(st, st->slots[i]))
            continue;
        t = &st->tokens[st->ntokens++];
        memset(t, 0, sizeof(*t));
        t->slot = st->slots[i];
        fz_setup_token(st, t, 1);
        return t->initialized ? t : NULL;
    }
    return NULL;
}

/* A session for a flow: from the pool, or opened on a token and logged in. */
static CK_SESSION_HANDLE fz_flow_session(fz_state *st)
{
    fz_token *t;
    CK_SESSION_HANDLE s;

    if (st->nsessions > 0 && fz_chance(&st->r, 750))
        return st->sessions[fz_below(&st->r, (CK_ULONG)st->nsessions)];
    t = fz_good_token(st);
    if (t == NULL)
        return fz_session(st);
    s = fz_open(st, t->slot, fz_chance(&st->r, 850));
    if (s != 0 && fz_chance(&st->r, 700)) {
        if (!t->user_set)
            fz_setup_token(st, t, 0);
        fz_login(st, s, CKU_USER, t);
    }
    return s;
}

/* A key of `kind` from the pool, generated on the spot at times when there is none. */
static fz_obj *fz_key(fz_state *st, CK_SESSION_HANDLE s, int kind)
{
    static const int pubs[] = {K_EC_PUB, K_ED_PUB, K_RSA_PUB};
    fz_obj *o = fz_pick_obj(st, &kind, 1), *made;
    int gen = kind;

    if (o != NULL || !fz_chance(&st->r, 600))
        return o;
    if (kind == K_EC_PRIV || kind == K_ED_PRIV || kind == K_RSA_PRIV)
        gen = pubs[kind == K_EC_PRIV ? 0 : kind == K_ED_PRIV ? 1 : 2];
    if (gen == K_RSA_PUB && !fz_chance(&st->r, 150))
        return NULL; /* RSA key generation is slow: rarely on demand */
    if (!fz_generate(st, s, gen, &made))
        return NULL;
    return fz_pick_obj(st, &kind, 1);
}

/* ---- flows ----------------------------------------------------------------------------- */

static const int fz_cont[][4] = {
    /* single, update, final, (unused) per operation kind */
    [OP_ENCRYPT] = {FN_C_Encrypt, FN_C_EncryptUpdate, FN_C_EncryptFinal, 0},
    [OP_DECRYPT] = {FN_C_Decrypt, FN_C_DecryptUpdate, FN_C_DecryptFinal, 0},
    [OP_SIGN] = {FN_C_Sign, FN_C_SignUpdate, FN_C_SignFinal, 0},
    [OP_VERIFY] = {FN_C_Verify, FN_C_VerifyUpdate, FN_C_VerifyFinal, 0},
    [OP_DIGEST] = {FN_C_Digest, FN_C_DigestUpdate, FN_C_DigestFinal, 0},
};

/* One operation: *Init, then a few calls continuing it (or disturbing it). */
static void fz_op_flow(fz_state *st)
{
    static const int ops[] = {OP_ENCRYPT, OP_DECRYPT, OP_SIGN, OP_VERIFY, OP_DIGEST};
    int op = ops[fz_below(&st->r, 5)];
    CK_SESSION_HANDLE s = fz_flow_session(st);
    int kind = op == OP_DIGEST ? K_UNKNOWN : fz_kind_for(st, op);
    fz_obj *key = op == OP_DIGEST ? NULL : fz_key(st, s, kind);
    CK_MECHANISM *m = fz_mechanism(st, op, kind);
    CK_ULONG i, n = 1 + fz_below(&st->r, 6), c, out_len;
    unsigned char *out;
    size_t len;
    void *in;

    if (fz_call_init(st, op, s, m, key != NULL ? key->h : fz_object(st, kind)) != CKR_OK &&
        fz_chance(&st->r, 800))
        return;
    for (i = 0; i < n; i++) {
        c = fz_below(&st->r, 100);
        len = op == OP_DECRYPT && fz_chance(&st->r, 600) ? 16 * fz_below(&st->r, 9)
                                                         : fz_data_len(st);
        in = fz_input(st, len);
        if (c < 30) {
            if (op == OP_VERIFY)
                fz_call_verify(st, FN_C_Verify, s, in, len, fz_bytes(st, 64), 64);
            else if (fz_chance(&st->r, 400))
                fz_call_exact(st, fz_cont[op][0], s, in, len, &out, &out_len);
            else
                fz_call_output(st, fz_cont[op][0], s, in, len, &out, &out_len);
        } else if (c < 70) {
            if (op == OP_ENCRYPT || op == OP_DECRYPT)
                fz_call_output(st, fz_cont[op][1], s, in, len, &out, &out_len);
            else
                fz_call_update(st, fz_cont[op][1], s, in, len);
        } else if (c < 88) {
            if (op == OP_VERIFY)
                fz_call_verify(st, FN_C_VerifyFinal, s, NULL, 0, in, len);
            else
                fz_call_output(st, fz_cont[op][2], s, NULL, 0, &out, &out_len);
        } else if (c < 92 && op == OP_DIGEST) {
            out_len = fz_object(st, K_AES);
            fz_note(st, "C_DigestKey(s=%lu, key=%lu)", s, out_len);
            CALL(st, C_DigestKey, s, out_len);
        } else if (c < 95) {
            fz_call_init(st, op, s, fz_mechanism(st, op, kind), fz_object(st, kind));
        } else {
            fz_random_call(st); /* something else on the way */
        }
    }
}

static const int fz_signers[] = {K_EC_PRIV, K_EC_PRIV, K_ED_PRIV, K_SECRET, K_AES, K_RSA_PRIV};

static void fz_sign_verify(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_flow_session(st);
    int kind = fz_signers[fz_below(&st->r, 6)], mutate = fz_chance(&st->r, 150), multi;
    fz_obj *key = NULL;
    CK_OBJECT_HANDLE vkey;
    CK_MECHANISM *m;
    size_t len = fz_data_len(st);
    unsigned char *data = fz_bytes(st, len), *sig = NULL;
    CK_ULONG sig_len = 0;
    CK_RV rv;

    if (kind != K_RSA_PRIV && fz_chance(&st->r, 400))
        key = fz_generate_for(st, s,
                              kind == K_EC_PRIV ? K_EC_PUB : kind == K_ED_PRIV ? K_ED_PUB : kind,
                              CKA_SIGN, CKA_VERIFY);
    if (key == NULL)
        key = fz_key(st, s, kind);
    if (key == NULL)
        return;
    vkey = kind == K_SECRET || kind == K_AES ? key->h : key->peer;
    m = fz_mechanism(st, OP_SIGN, kind);
    if (fz_call_init(st, OP_SIGN, s, m, key->h) != CKR_OK)
        return;
    multi = fz_chance(&st->r, 300);
    if (multi) {
        fz_call_update(st, FN_C_SignUpdate, s, data, len / 2);
        fz_call_update(st, FN_C_SignUpdate, s, data + len / 2, len - len / 2);
        rv = fz_call_exact(st, FN_C_SignFinal, s, NULL, 0, &sig, &sig_len);
    } else {
        rv = fz_call_exact(st, FN_C_Sign, s, data, len, &sig, &sig_len);
    }
    if (rv != CKR_OK || sig == NULL)
        return;
    sig = fz_copy(st, sig, sig_len);
    if (mutate && sig_len > 0)
        sig[fz_below(&st->r, sig_len)] ^= (unsigned char)(1u << fz_below(&st->r, 8));
    if (fz_call_init(st, OP_VERIFY, s, m, vkey) != CKR_OK)
        return;
    if (fz_chance(&st->r, 300)) {
        fz_call_update(st, FN_C_VerifyUpdate, s, data, len);
        rv = fz_call_verify(st, FN_C_VerifyFinal, s, NULL, 0, sig, sig_len);
    } else {
        rv = fz_call_verify(st, FN_C_Verify, s, data, len, sig, sig_len);
    }
    if (!mutate && rv == 0xc0UL) /* CKR_SIGNATURE_INVALID */
        fz_anomaly(st, "a signature C_Sign made (mechanism 0x%lx, %zu-byte data) does not "
                   "verify with the same mechanism and key", m->mechanism, len);
    if (mutate && rv == CKR_OK)
        fz_anomaly(st, "a changed signature verifies (mechanism 0x%lx)", m->mechanism);
}

static void fz_encrypt_decrypt(fz_state *st)
{
    static const int kinds[] = {K_AES, K_AES, K_AES, K_RSA_PUB};
    CK_SESSION_HANDLE s = fz_flow_session(st);
    int kind = kinds[fz_below(&st->r, 4)], mutate = fz_chance(&st->r, 120);
    fz_obj *key = kind == K_AES && fz_chance(&st->r, 400)
                      ? fz_generate_for(st, s, K_AES, CKA_ENCRYPT, CKA_DECRYPT)
                      : fz_key(st, s, kind);
    CK_MECHANISM *m = fz_mechanism(st, OP_ENCRYPT, kind);
    size_t len = fz_chance(&st->r, 600) ? 16 * fz_below(&st->r, 9) : fz_data_len(st);
    unsigned char *data = fz_bytes(st, len), *ct = NULL, *pt = NULL;
    CK_ULONG ct_len = 0, pt_len = 0;
    CK_OBJECT_HANDLE dkey;
    CK_RV rv;

    if (key == NULL)
        return;
    dkey = kind == K_AES ? key->h : key->peer;
    if (fz_call_init(st, OP_ENCRYPT, s, m, key->h) != CKR_OK)
        return;
    rv = fz_call_exact(st, FN_C_Encrypt, s, data, len, &ct, &ct_len);
    if (rv != CKR_OK || ct == NULL)
        return;
    ct = fz_copy(st, ct, ct_len);
    if (mutate && ct_len > 0)
        ct[fz_below(&st->r, ct_len)] ^= (unsigned char)(1u << fz_below(&st->r, 8));
    if (fz_call_init(st, OP_DECRYPT, s, m, dkey) != CKR_OK)
        return;
    rv = fz_call_exact(st, FN_C_Decrypt, s, ct, ct_len, &pt, &pt_len);
    if (mutate || rv != CKR_OK || pt == NULL)
        return;
    if (m->mechanism == CKM_RSA_X_509) { /* raw RSA: the plaintext comes back zero-padded */
        if (pt_len >= len && memcmp(pt + pt_len - len, data, len) == 0)
            return;
    } else if (pt_len == len && memcmp(pt, data, len) == 0) {
        return;
    }
    fz_anomaly(st, "C_Decrypt did not give back the %zu bytes C_Encrypt was given "
               "(mechanism 0x%lx, got %lu bytes)", len, m->mechanism, pt_len);
}

static void fz_wrap_unwrap(fz_state *st)
{
    static const int targets[] = {K_AES, K_SECRET, K_EC_PRIV, K_ED_PRIV};
    CK_SESSION_HANDLE s = fz_flow_session(st);
    int kind = fz_chance(&st->r, 850) ? K_AES : K_RSA_PUB;
    int purpose = kind == K_AES && fz_chance(&st->r, 450);
    fz_obj *wk = purpose ? fz_generate_for(st, s, K_AES, CKA_WRAP, CKA_UNWRAP)
                         : fz_key(st, s, kind);
    fz_obj *target = purpose ? fz_generate_for(st, s, fz_chance(&st->r, 700) ? K_AES : K_SECRET,
                                               CKA_ENCRYPT, CKA_SIGN)
                             : fz_key(st, s, targets[fz_below(&st->r, 4)]);
    CK_MECHANISM *m = fz_mechanism(st, OP_WRAP, kind);
    CK_ULONG len = 0, blob_len = 0;
    unsigned char *blob = NULL;
    CK_OBJECT_HANDLE *h = fz_buf(st, sizeof(*h));
    fz_template t;
    char mech[64], tmpl[160];
    CK_RV rv;

    if (wk == NULL || target == NULL)
        return;
    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_note(st, "C_WrapKey(s=%lu, %s, wrapping=%lu, key=%lu, NULL)", s, mech, wk->h, target->h);
    if (CALL(st, C_WrapKey, s, m, wk->h, target->h, NULL, &len) != CKR_OK || len > 65536)
        return;
    blob = fz_out(st, len);
    blob_len = len;
    fz_note(st, "C_WrapKey(s=%lu, %s, wrapping=%lu, key=%lu, out=%lu)", s, mech, wk->h,
            target->h, len);
    rv = CALL(st, C_WrapKey, s, m, wk->h, target->h, blob, &blob_len);
    fz_out_check(st, blob, len, "C_WrapKey");
    if (rv != CKR_OK)
        return;
    if (blob_len > len) {
        fz_anomaly(st, "C_WrapKey: CKR_OK and %lu bytes for a %lu-byte buffer", blob_len, len);
        return;
    }
    if (fz_chance(&st->r, 150) && blob_len > 0)
        blob[fz_below(&st->r, blob_len)] ^= 0x10;
    t = fz_new_key_template(st, target->kind == K_AES ? K_AES : K_SECRET);
    fz_describe_template(tmpl, sizeof(tmpl), t);
    fz_note(st, "C_UnwrapKey(s=%lu, %s, unwrapping=%lu, blob=%lu, %s)", s, mech,
            kind == K_AES ? wk->h : wk->peer, blob_len, tmpl);
    if (CALL(st, C_UnwrapKey, s, m, kind == K_AES ? wk->h : wk->peer, blob, blob_len, t.attrs,
             t.count, h) == CKR_OK)
        fz_add_object(st, *h, target->kind, -1, 0);
}

static void fz_inspect(fz_state *st, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    CK_ULONG i, n = 1 + fz_below(&st->r, 4);
    CK_OBJECT_HANDLE *h;
    fz_template t;
    char desc[160];

    for (i = 0; i < n; i++) {
        switch (fz_below(&st->r, 6)) {
        case 0:
        case 1:
            fz_get_attributes(st, s, obj);
            break;
        case 2:
            fz_set_attributes(st, s, obj);
            break;
        case 3:
            t = fz_random_template(st, (int)fz_below(&st->r, 3));
            h = fz_buf(st, sizeof(*h));
            fz_describe_template(desc, sizeof(desc), t);
            fz_note(st, "C_CopyObject(s=%lu, obj=%lu, %s)", s, obj, desc);
            if (CALL(st, C_CopyObject, s, obj, t.attrs, t.count, h) == CKR_OK)
                fz_add_object(st, *h, K_UNKNOWN, -1, 0);
            break;
        case 4:
            h = fz_buf(st, sizeof(*h));
            fz_note(st, "C_GetObjectSize(s=%lu, obj=%lu)", s, obj);
            CALL(st, C_GetObjectSize, s, obj, h);
            break;
        default:
            fz_note(st, "C_DestroyObject(s=%lu, obj=%lu)", s, obj);
            if (CALL(st, C_DestroyObject, s, obj) == CKR_OK) {
                fz_forget_object(st, obj);
                return;
            }
            break;
        }
    }
}

static void fz_gen_inspect(fz_state *st)
{
    static const int kinds[] = {K_AES, K_AES, K_SECRET, K_EC_PUB, K_EC_PUB, K_ED_PUB};
    CK_SESSION_HANDLE s = fz_flow_session(st);
    int kind = fz_chance(&st->r, 20) ? K_RSA_PUB : kinds[fz_below(&st->r, 6)];
    fz_obj *made;

    if (fz_generate(st, s, kind, &made) && made != NULL)
        fz_inspect(st, s, fz_chance(&st->r, 500) && made->peer ? made->peer : made->h);
}

static void fz_create_use(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_flow_session(st);
    fz_template t = fz_object_template(st, K_UNKNOWN);
    CK_OBJECT_HANDLE *h = fz_buf(st, sizeof(*h));
    char desc[200];

    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_CreateObject(s=%lu, %s)", s, desc);
    if (CALL(st, C_CreateObject, s, t.attrs, t.count, h) != CKR_OK)
        return;
    fz_add_object(st, *h, K_UNKNOWN, -1, 0);
    fz_inspect(st, s, *h);
}

static void fz_find_flow(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_flow_session(st);
    CK_ULONG i, n = 1 + fz_below(&st->r, 4);

    fz_find(st, s, FN_C_FindObjectsInit);
    for (i = 0; i < n; i++)
        fz_find(st, s, fz_chance(&st->r, 900) ? FN_C_FindObjects : FN_C_FindObjectsInit);
    if (fz_chance(&st->r, 850))
        fz_find(st, s, FN_C_FindObjectsFinal);
}

static void fz_derive_flow(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_flow_session(st);
    fz_obj *base = fz_chance(&st->r, 400) ? fz_generate_for(st, s, K_EC_PUB, CKA_DERIVE, CKA_SIGN)
                                          : fz_key(st, s, K_EC_PRIV);
    CK_MECHANISM *m = fz_mechanism(st, OP_DERIVE, K_EC_PRIV);
    fz_template t = fz_new_key_template(st, fz_chance(&st->r, 600) ? K_SECRET : K_AES);
    CK_OBJECT_HANDLE *h = fz_buf(st, sizeof(*h));
    char mech[64], desc[160];

    if (base == NULL)
        return;
    fz_describe_mechanism(mech, sizeof(mech), m);
    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_DeriveKey(s=%lu, %s, base=%lu, %s)", s, mech, base->h, desc);
    if (CALL(st, C_DeriveKey, s, m, base->h, t.attrs, t.count, h) == CKR_OK) {
        fz_add_object(st, *h, K_UNKNOWN, -1, 0);
        fz_inspect(st, s, *h);
    }
}

static void fz_pin_flow(fz_state *st)
{
    fz_token *t = fz_good_token(st);
    CK_SESSION_HANDLE s;
    unsigned char pin[FZ_MAX_PIN];
    CK_ULONG len, c = fz_below(&st->r, 100);
    unsigned char *out;
    fz_obj *key;

    if (t == NULL)
        return;
    s = fz_open(st, t->slot, 1);
    if (s == 0)
        return;
    if (c < 25) {
        if (fz_login(st, s, CKU_SO, t)) {
            fz_new_pin(st, pin, &len);
            fz_note(st, "C_InitPIN(s=%lu, pin=%lu)", s, len);
            if (CALL(st, C_InitPIN, s, fz_copy(st, pin, len), len) == CKR_OK) {
                memcpy(t->user_pin, pin, len);
                t->user_len = len;
                t->user_set = 1;
            }
        }
    } else if (c < 45) {
        if (fz_login(st, s, CKU_USER, t)) {
            fz_new_pin(st, pin, &len);
            fz_note(st, "C_SetPIN(s=%lu, old=%lu, new=%lu)", s, t->user_len, len);
            if (CALL(st, C_SetPIN, s, fz_copy(st, t->user_pin, t->user_len), t->user_len,
                     fz_copy(st, pin, len), len) == CKR_OK) {
                memcpy(t->user_pin, pin, len);
                t->user_len = len;
            }
        }
    } else if (c < 75) {
        /* sign with context-specific logins around it (s5.6 CKU_CONTEXT_SPECIFIC) */
        fz_login(st, s, CKU_USER, t);
        key = fz_key(st, s, K_EC_PRIV);
        if (key != NULL)
            fz_call_init(st, OP_SIGN, s, fz_mechanism(st, OP_SIGN, K_EC_PRIV), key->h);
        if (fz_chance(&st->r, 700))
            fz_login(st, s, CKU_CONTEXT_SPECIFIC, t);
        fz_call_output(st, FN_C_Sign, s, fz_bytes(st, 32), 32, &out, &len);
    } else {
        fz_login(st, s, CKU_USER, t);
        fz_note(st, "C_Logout(s=%lu)", s);
        CALL(st, C_Logout, s);
    }
    if (fz_chance(&st->r, 500)) {
        fz_note(st, "C_CloseSession(s=%lu)", s);
        if (CALL(st, C_CloseSession, s) == CKR_OK)
            fz_forget_session(st, s);
    }
}

static void fz_lifecycle(fz_state *st)
{
    CK_ULONG c = fz_below(&st->r, 100);
    fz_token *t;

    if (c < 45) {
        fz_note(st, "C_Finalize(NULL)");
        if (CALL(st, C_Finalize, NULL) == CKR_OK) {
            st->initialized = 0;
            fz_forget_all(st);
        }
        fz_initialize(st, 1);
    } else if (c < 75) {
        if (st->nslots > 0)
            fz_close_slot(st, st->slots[fz_below(&st->r, (CK_ULONG)st->nslots)]);
    } else {
        t = fz_good_token(st);
        if (t == NULL)
            return;
        t->initialized = 0; /* re-initialize with the same SO PIN */
        fz_setup_token(st, t, fz_chance(&st->r, 600));
    }
}

typedef void (*fz_flow_fn)(fz_state *st);

void fz_flow(fz_state *st)
{
    static const struct {
        fz_flow_fn fn;
        unsigned weight;
    } flows[] = {
        {fz_op_flow, 30}, {fz_sign_verify, 12}, {fz_encrypt_decrypt, 12},
        {fz_wrap_unwrap, 8}, {fz_gen_inspect, 10}, {fz_find_flow, 8}, {fz_pin_flow, 4},
        {fz_lifecycle, 1}, {fz_derive_flow, 5}, {fz_create_use, 10},
    };
    unsigned total = 0, x;
    size_t i, n = sizeof(flows) / sizeof(flows[0]);

    if (!st->initialized) {
        fz_initialize(st, 1);
        return;
    }
    for (i = 0; i < n; i++)
        total += flows[i].weight;
    x = (unsigned)fz_below(&st->r, total);
    for (i = 0; i < n; i++) {
        if (x < flows[i].weight) {
            flows[i].fn(st);
            return;
        }
        x -= flows[i].weight;
    }
}
