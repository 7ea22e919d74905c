/* p11fuzz: single random calls of the general, slot, session and object functions
 * (PKCS #11 v2.40 s5.4-5.7, v3.0 s5.4 interfaces) and the weighted choice of a function.
 * The cryptographic functions are in p11fuzz_crypto.c.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "p11fuzz.h"

/* ---- general ------------------------------------------------------------------------- */

static void fz_finalize(fz_state *st)
{
    int bad = fz_chance(&st->r, 50);
    void *arg = bad ? fz_buf(st, 8) : NULL;

    fz_note(st, "C_Finalize(%s)", bad ? "non-NULL" : "NULL");
    if (CALL(st, C_Finalize, arg) == CKR_OK) {
        st->initialized = 0;
        fz_forget_all(st);
    }
}

static void fz_get_info(fz_state *st)
{
    CK_INFO *info = fz_chance(&st->r, 40) ? NULL : (CK_INFO *)fz_out(st, sizeof(CK_INFO));

    fz_note(st, "C_GetInfo(%s)", info == NULL ? "NULL" : "info");
    CALL(st, C_GetInfo, info);
    fz_out_check(st, (unsigned char *)info, sizeof(CK_INFO), "C_GetInfo");
}

static void fz_get_function_list(fz_state *st)
{
    CK_FUNCTION_LIST_PTR *pp = fz_chance(&st->r, 100) ? NULL : fz_buf(st, sizeof(*pp));
    CK_RV rv;

    fz_note(st, "C_GetFunctionList(%s)", pp == NULL ? "NULL" : "&list");
    rv = CALL(st, C_GetFunctionList, pp);
    if (rv == CKR_OK && pp != NULL && *pp == NULL)
        fz_anomaly(st, "C_GetFunctionList: CKR_OK and a NULL list");
}

static void fz_interfaces(fz_state *st)
{
    static const CK_VERSION versions[] = {{2, 40}, {3, 0}, {2, 20}, {3, 1}};
    CK_ULONG c = fz_below(&st->r, 100), given, count;
    CK_INTERFACE *list = NULL, **pp;
    CK_VERSION *v = NULL;
    const char *name = NULL;
    CK_FLAGS flags;
    CK_RV rv;

    if (st->get_interface_list == NULL || st->get_interface == NULL)
        return;
    if (c < 50) {
        given = fz_below(&st->r, 4);
        if (fz_chance(&st->r, 600))
            list = (CK_INTERFACE *)fz_out(st, given * sizeof(CK_INTERFACE));
        count = list != NULL ? given : fz_next(&st->r);
        fz_note(st, "C_GetInterfaceList(%s%lu)", list == NULL ? "NULL/" : "", given);
        fz_begin(st, FN_C_GetInterfaceList);
        rv = fz_end(st, FN_C_GetInterfaceList,
                    st->get_interface_list(list, fz_chance(&st->r, 50) ? NULL : &count));
        if (list != NULL) {
            fz_out_check(st, (unsigned char *)list, given * sizeof(CK_INTERFACE),
                         "C_GetInterfaceList");
            if (rv == CKR_OK && count > given)
                fz_anomaly(st, "C_GetInterfaceList: CKR_OK with %lu of %lu entries", count, given);
        }
        return;
    }
    c = fz_below(&st->r, 100);
    if (c < 50)
        name = "PKCS 11";
    else if (c < 70)
        name = fz_chance(&st->r, 500) ? "Vendor tokenport" : "";
    if (fz_chance(&st->r, 500))
        v = fz_copy(st, &versions[fz_below(&st->r, 4)], sizeof(CK_VERSION));
    flags = fz_chance(&st->r, 700) ? 0 : fz_chance(&st->r, 700) ? CKF_INTERFACE_FORK_SAFE
                                                              : fz_next(&st->r);
    pp = fz_chance(&st->r, 50) ? NULL : fz_buf(st, sizeof(*pp));
    fz_note(st, "C_GetInterface(%s, %s, flags=0x%lx)", name ? name : "NULL", v ? "version" : "NULL",
            flags);
    fz_begin(st, FN_C_GetInterface);
    rv = fz_end(st, FN_C_GetInterface,
                st->get_interface(name ? (CK_UTF8CHAR_PTR)fz_copy(st, name, strlen(name) + 1)
                                       : NULL,
                                  v, pp, flags));
    if (rv == CKR_OK && pp != NULL && (*pp == NULL || (*pp)->pFunctionList == NULL))
        fz_anomaly(st, "C_GetInterface: CKR_OK without an interface");
}

/* ---- slots and tokens ---------------------------------------------------------------- */

/* The counted-list convention (s5.5) for C_GetSlotList / C_GetMechanismList. */
static void fz_list(fz_state *st, int fn)
{
    CK_ULONG c = fz_below(&st->r, 100), given = 0, count, i;
    CK_ULONG *list = NULL, *pcount;
    CK_BBOOL present = (CK_BBOOL)(fz_chance(&st->r, 900) ? fz_below(&st->r, 2) : fz_next(&st->r));
    CK_SLOT_ID slot = fz_slot(st);
    CK_RV rv;

    if (c >= 35) {
        given = c < 50 ? fz_below(&st->r, 3) : 1 + fz_below(&st->r, 128);
        list = (CK_ULONG *)fz_out(st, given * sizeof(CK_ULONG));
    }
    count = list != NULL ? given : fz_next(&st->r);
    pcount = fz_chance(&st->r, 30) ? NULL : &count;
    if (fn == FN_C_GetSlotList) {
        fz_note(st, "C_GetSlotList(%u, %s%lu)", present, list == NULL ? "NULL/" : "", given);
        rv = CALL(st, C_GetSlotList, present, list, pcount);
    } else {
        fz_note(st, "C_GetMechanismList(slot=%lu, %s%lu)", slot, list == NULL ? "NULL/" : "",
                given);
        rv = CALL(st, C_GetMechanismList, slot, list, pcount);
    }
    if (pcount == NULL)
        return;
    if (list != NULL)
        fz_out_check(st, (unsigned char *)list, given * sizeof(CK_ULONG), fz_function_names[fn]);
    if (rv == CKR_OK && list != NULL && count > given)
        fz_anomaly(st, "%s: CKR_OK with %lu entries for %lu", fz_function_names[fn], count, given);
    if (rv == CKR_BUFFER_TOO_SMALL && (list == NULL || count <= given))
        fz_anomaly(st, "%s: CKR_BUFFER_TOO_SMALL but %lu entries fit in %lu",
                   fz_function_names[fn], count, given);
    if (fn == FN_C_GetSlotList && rv == CKR_OK && list != NULL && !present) {
        st->nslots = 0;
        for (i = 0; i < count && i < FZ_MAX_SLOTS; i++)
            st->slots[st->nslots++] = list[i];
    }
}

static void fz_slot_info(fz_state *st, int fn)
{
    CK_SLOT_ID slot = fz_slot(st);
    size_t size = fn == FN_C_GetSlotInfo ? sizeof(CK_SLOT_INFO) : sizeof(CK_TOKEN_INFO);
    unsigned char *info = fz_chance(&st->r, 40) ? NULL : fz_out(st, size);
    CK_RV rv;
    fz_token *t;

    fz_note(st, "%s(slot=%lu, %s)", fz_function_names[fn], slot, info ? "info" : "NULL");
    if (fn == FN_C_GetSlotInfo)
        rv = CALL(st, C_GetSlotInfo, slot, (CK_SLOT_INFO *)info);
    else
        rv = CALL(st, C_GetTokenInfo, slot, (CK_TOKEN_INFO *)info);
    fz_out_check(st, info, size, fz_function_names[fn]);
    t = fz_token_for(st, slot);
    if (fn == FN_C_GetTokenInfo && rv == CKR_OK && info != NULL && t != NULL) {
        CK_FLAGS flags = ((CK_TOKEN_INFO *)info)->flags;
        if (flags & CKF_USER_PIN_LOCKED)
            t->user_set = 0; /* the SO re-initializes it (fz_setup_token) */
    }
}

static void fz_mech_info(fz_state *st)
{
    CK_SLOT_ID slot = fz_slot(st);
    CK_MECHANISM_TYPE m = st->nmechs > 0 && fz_chance(&st->r, 800)
                              ? st->mechs[fz_below(&st->r, (CK_ULONG)st->nmechs)]
                              : fz_next(&st->r) % (fz_chance(&st->r, 500) ? 0x3000 : ~0UL);
    CK_MECHANISM_INFO *info =
        fz_chance(&st->r, 40) ? NULL : (CK_MECHANISM_INFO *)fz_out(st, sizeof(*info));

    fz_note(st, "C_GetMechanismInfo(slot=%lu, 0x%lx, %s)", slot, m, info ? "info" : "NULL");
    CALL(st, C_GetMechanismInfo, slot, m, info);
    fz_out_check(st, (unsigned char *)info, sizeof(*info), "C_GetMechanismInfo");
}

/* A PIN for `who` on token t: mostly the right one, at times wrong or of a bad length. */
static unsigned char *fz_pin_for(fz_state *st, fz_token *t, CK_USER_TYPE who, CK_ULONG *len)
{
    CK_ULONG c = fz_below(&st->r, 100);
    unsigned char pin[FZ_MAX_PIN];
    int so = who == CKU_SO;

    if (t != NULL && c < 82 && (so ? t->so_len > 0 : t->user_set)) {
        *len = so ? t->so_len : t->user_len;
        return fz_copy(st, so ? t->so_pin : t->user_pin, *len);
    }
    if (c < 92 && t != NULL && so && t->wrong_so >= 3 && t->so_len > 0) {
        *len = t->so_len; /* never lock the SO PIN: that would end the token's use */
        return fz_copy(st, t->so_pin, *len);
    }
    if (c < 94) {
        *len = fz_chance(&st->r, 500) ? fz_below(&st->r, 4) : 256 + fz_below(&st->r, 64);
        return fz_bytes(st, *len);
    }
    if (c < 96) {
        *len = fz_null_with_len(st) ? 1 + fz_below(&st->r, 8) : 0;
        return NULL;
    }
    fz_new_pin(st, pin, len);
    if (t != NULL && so)
        t->wrong_so++;
    return fz_copy(st, pin, *len);
}

static void fz_init_token(fz_state *st)
{
    fz_token *t = fz_any_token(st);
    CK_SLOT_ID slot = t != NULL && fz_chance(&st->r, 600) ? t->slot : fz_slot(st);
    unsigned char label[32], *pin;
    CK_ULONG len, i;
    CK_RV rv;

    t = fz_token_for(st, slot);
    for (i = 0; i < 32; i++)
        label[i] = (unsigned char)(fz_chance(&st->r, 950) ? ' ' + fz_below(&st->r, 95)
                                                          : fz_next(&st->r));
    if (t != NULL && t->initialized) {
        pin = fz_pin_for(st, t, CKU_SO, &len);
    } else {
        unsigned char fresh[FZ_MAX_PIN];
        fz_new_pin(st, fresh, &len);
        pin = fz_copy(st, fresh, len);
    }
    fz_note(st, "C_InitToken(slot=%lu, pin=%s%lu)", slot, pin == NULL ? "NULL/" : "", len);
    rv = CALL(st, C_InitToken, slot, pin, len,
              fz_chance(&st->r, 20) ? NULL : (CK_UTF8CHAR_PTR)fz_copy(st, label, 32));
    if (rv != CKR_OK)
        return;
    if (t == NULL && st->ntokens < FZ_MAX_TOKENS) {
        t = &st->tokens[st->ntokens++];
        memset(t, 0, sizeof(*t));
        t->slot = slot;
    }
    if (t != NULL) {
        if (!t->initialized || t->so_len == 0) {
            memcpy(t->so_pin, pin, len);
            t->so_len = len;
        }
        t->initialized = 1;
        t->user_set = 0;
        t->wrong_so = 0;
    }
    fz_refresh_slots(st);
}

static void fz_init_pin(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);
    fz_token *t = fz_token_of_session(st, s);
    unsigned char pin[FZ_MAX_PIN];
    CK_ULONG len;

    fz_new_pin(st, pin, &len);
    if (fz_chance(&st->r, 60))
        len = fz_chance(&st->r, 500) ? fz_below(&st->r, 4) : 256;
    fz_note(st, "C_InitPIN(s=%lu, pin=%lu)", s, len);
    if (CALL(st, C_InitPIN, s, len <= FZ_MAX_PIN ? fz_copy(st, pin, len) : fz_bytes(st, len),
             len) == CKR_OK && t != NULL && len <= FZ_MAX_PIN) {
        memcpy(t->user_pin, pin, len);
        t->user_len = len;
        t->user_set = 1;
    }
}

static void fz_set_pin(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);
    fz_token *t = fz_token_of_session(st, s);
    CK_SESSION_INFO *info = fz_buf(st, sizeof(*info));
    unsigned char pin[FZ_MAX_PIN], *old;
    CK_ULONG len, old_len;
    int so = 0;

    fz_note(st, "C_GetSessionInfo(s=%lu, info)", s);
    if (CALL(st, C_GetSessionInfo, s, info) == CKR_OK)
        so = info->state == CKS_RW_SO_FUNCTIONS;
    old = fz_pin_for(st, t, so ? CKU_SO : CKU_USER, &old_len);
    fz_new_pin(st, pin, &len);
    fz_note(st, "C_SetPIN(s=%lu, old=%lu, new=%lu)", s, old_len, len);
    if (CALL(st, C_SetPIN, s, old, old_len, fz_copy(st, pin, len), len) == CKR_OK && t != NULL) {
        if (so) {
            memcpy(t->so_pin, pin, len);
            t->so_len = len;
        } else {
            memcpy(t->user_pin, pin, len);
            t->user_len = len;
            t->user_set = 1;
        }
    }
}

/* ---- sessions -------------------------------------------------------------------------- */

static CK_RV fz_notify(CK_SESSION_HANDLE s, CK_NOTIFICATION event, CK_VOID_PTR app)
{
    (void)s;
    (void)event;
    (void)app;
    return CKR_OK;
}

static void fz_open_session(fz_state *st)
{
    static const CK_FLAGS flags[] = {CKF_SERIAL_SESSION | CKF_RW_SESSION, CKF_SERIAL_SESSION,
                                     CKF_SERIAL_SESSION | CKF_RW_SESSION, 0, CKF_RW_SESSION};
    CK_SLOT_ID slot = fz_slot(st);
    CK_FLAGS f = fz_chance(&st->r, 950) ? flags[fz_below(&st->r, 5)] : fz_next(&st->r);
    CK_SESSION_HANDLE *h = fz_chance(&st->r, 20) ? NULL : fz_buf(st, sizeof(*h));
    int notify = fz_chance(&st->r, 200);

    if (st->nsessions >= FZ_MAX_SESSIONS - 2) {
        fz_note(st, "C_CloseSession(s=%lu)", st->sessions[0]);
        if (CALL(st, C_CloseSession, st->sessions[0]) == CKR_OK)
            fz_forget_session(st, st->sessions[0]);
        return;
    }
    fz_note(st, "C_OpenSession(slot=%lu, flags=0x%lx, %s)", slot, f, notify ? "notify" : "NULL");
    if (CALL(st, C_OpenSession, slot, f, notify ? (void *)st : NULL, notify ? fz_notify : NULL,
             h) == CKR_OK && h != NULL)
        fz_add_session(st, *h, slot);
}

static void fz_close_session(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);

    fz_note(st, "C_CloseSession(s=%lu)", s);
    if (CALL(st, C_CloseSession, s) == CKR_OK)
        fz_forget_session(st, s);
}

static void fz_close_all(fz_state *st)
{
    CK_SLOT_ID slot = fz_slot(st);
    int i;

    fz_note(st, "C_CloseAllSessions(slot=%lu)", slot);
    if (CALL(st, C_CloseAllSessions, slot) != CKR_OK)
        return;
    for (i = st->nsessions - 1; i >= 0; i--)
        if (st->session_slots[i] == slot)
            fz_forget_session(st, st->sessions[i]);
}

static void fz_session_info(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);
    CK_SESSION_INFO *info =
        fz_chance(&st->r, 40) ? NULL : (CK_SESSION_INFO *)fz_out(st, sizeof(*info));

    fz_note(st, "C_GetSessionInfo(s=%lu, %s)", s, info ? "info" : "NULL");
    CALL(st, C_GetSessionInfo, s, info);
    fz_out_check(st, (unsigned char *)info, sizeof(*info), "C_GetSessionInfo");
}

static void fz_set_state(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);
    size_t len = fz_data_len(st);

    fz_note(st, "C_SetOperationState(s=%lu, state=%zu)", s, len);
    CALL(st, C_SetOperationState, s, fz_input(st, len), len, fz_object(st, K_AES),
         fz_object(st, K_UNKNOWN));
}

static void fz_random_login(fz_state *st)
{
    static const CK_USER_TYPE types[] = {CKU_USER, CKU_USER, CKU_USER, CKU_SO, CKU_SO,
                                         CKU_CONTEXT_SPECIFIC};
    CK_SESSION_HANDLE s = fz_session(st);
    fz_token *t = fz_token_of_session(st, s);
    CK_USER_TYPE who = fz_chance(&st->r, 970) ? types[fz_below(&st->r, 6)] : fz_next(&st->r) % 5;
    CK_ULONG len;
    unsigned char *pin = fz_pin_for(st, t, who == CKU_SO ? CKU_SO : CKU_USER, &len);

    fz_note(st, "C_Login(s=%lu, user=%lu, pin=%s%lu)", s, who, pin == NULL ? "NULL/" : "", len);
    if (CALL(st, C_Login, s, who, pin, len) == CKR_OK && t != NULL && who == CKU_SO)
        t->wrong_so = 0;
}

static void fz_logout(fz_state *st)
{
    CK_SESSION_HANDLE s = fz_session(st);

    fz_note(st, "C_Logout(s=%lu)", s);
    CALL(st, C_Logout, s);
}

/* ---- slot events ---------------------------------------------------------------------- */

static CK_RV fz_finalizer_rv;

static void *fz_finalizer(void *arg)
{
    fz_state *st = arg;
    usleep(20000);
    fz_finalizer_rv = st->p11->C_Finalize(NULL); /* counted once the thread is joined */
    return NULL;
}

static void fz_wait_event(fz_state *st)
{
    CK_SLOT_ID *slot = fz_chance(&st->r, 30) ? NULL : fz_buf(st, sizeof(*slot));
    void *reserved = fz_chance(&st->r, 30) ? fz_buf(st, 8) : NULL;
    pthread_t thread;
    CK_FLAGS flags = CKF_DONT_BLOCK;

    if (fz_chance(&st->r, 20) && st->initialized && slot != NULL && reserved == NULL) {
        /* s5.5: a blocking wait returns CKR_CRYPTOKI_NOT_INITIALIZED when another thread
           calls C_Finalize; a module that does not support blocking waits says so */
        fz_note(st, "C_WaitForSlotEvent(0, &slot, NULL) with C_Finalize from a thread");
        if (pthread_create(&thread, NULL, fz_finalizer, st) != 0)
            return;
        CALL(st, C_WaitForSlotEvent, 0, slot, NULL);
        pthread_join(thread, NULL);
        fz_note(st, "C_Finalize(NULL) from the thread");
        fz_begin(st, FN_C_Finalize);
        fz_end(st, FN_C_Finalize, fz_finalizer_rv);
        st->initialized = 0;
        fz_forget_all(st);
        return;
    }
    if (fz_chance(&st->r, 50))
        flags = fz_next(&st->r) | CKF_DONT_BLOCK;
    fz_note(st, "C_WaitForSlotEvent(0x%lx, %s, %s)", flags, slot ? "&slot" : "NULL",
            reserved ? "non-NULL" : "NULL");
    CALL(st, C_WaitForSlotEvent, flags, slot, reserved);
}

/* ---- objects --------------------------------------------------------------------------- */

static void fz_create(fz_state *st, CK_SESSION_HANDLE s)
{
    static const int kinds[] = {K_DATA, K_CERT, K_AES, K_SECRET, K_EC_PRIV, K_EC_PUB,
                                K_ED_PRIV, K_ED_PUB, K_RSA_PRIV, K_RSA_PUB};
    int kind = kinds[fz_below(&st->r, 10)];
    fz_template t = fz_chance(&st->r, 900) ? fz_object_template(st, kind)
                                           : fz_random_template(st, (int)fz_below(&st->r, 8));
    CK_OBJECT_HANDLE *h = fz_chance(&st->r, 15) ? NULL : fz_buf(st, sizeof(*h));
    char desc[200];

    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_CreateObject(s=%lu, %s)", s, desc);
    if (CALL(st, C_CreateObject, s, t.attrs, t.count, h) == CKR_OK && h != NULL)
        fz_add_object(st, *h, kind, -1, 0);
}

static void fz_copy_object(fz_state *st, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE obj = fz_object(st, K_UNKNOWN);
    fz_template t = fz_random_template(st, (int)fz_below(&st->r, 4));
    CK_OBJECT_HANDLE *h = fz_chance(&st->r, 15) ? NULL : fz_buf(st, sizeof(*h));
    char desc[200];
    int i, kind = K_UNKNOWN;

    for (i = 0; i < st->nobjects; i++)
        if (st->objects[i].h == obj)
            kind = st->objects[i].kind;
    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_CopyObject(s=%lu, obj=%lu, %s)", s, obj, desc);
    if (CALL(st, C_CopyObject, s, obj, t.attrs, t.count, h) == CKR_OK && h != NULL)
        fz_add_object(st, *h, kind, -1, 0);
}

static void fz_destroy(fz_state *st, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE obj = fz_object(st, K_UNKNOWN);

    fz_note(st, "C_DestroyObject(s=%lu, obj=%lu)", s, obj);
    if (CALL(st, C_DestroyObject, s, obj) == CKR_OK)
        fz_forget_object(st, obj);
}

static void fz_object_size(fz_state *st, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE obj = fz_object(st, K_UNKNOWN);
    CK_ULONG *size = fz_chance(&st->r, 30) ? NULL : fz_buf(st, sizeof(*size));

    fz_note(st, "C_GetObjectSize(s=%lu, obj=%lu)", s, obj);
    CALL(st, C_GetObjectSize, s, obj, size);
}

void fz_get_attributes(fz_state *st, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    fz_template t = fz_get_template(st);
    CK_ULONG given[48], i;
    char desc[200];
    CK_RV rv;

    for (i = 0; i < t.count && i < 48 && t.attrs != NULL; i++)
        given[i] = t.attrs[i].ulValueLen;
    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_GetAttributeValue(s=%lu, obj=%lu, %s)", s, obj, desc);
    rv = CALL(st, C_GetAttributeValue, s, obj, t.attrs, t.count);
    fz_get_template_check(st, t, given, rv);
}

void fz_set_attributes(fz_state *st, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    fz_template t = fz_set_template(st);
    char desc[200];

    fz_describe_template(desc, sizeof(desc), t);
    fz_note(st, "C_SetAttributeValue(s=%lu, obj=%lu, %s)", s, obj, desc);
    CALL(st, C_SetAttributeValue, s, obj, t.attrs, t.count);
}

void fz_find(fz_state *st, CK_SESSION_HANDLE s, int fn)
{
    fz_template t;
    CK_ULONG max, count, i;
    CK_OBJECT_HANDLE *found;
    char desc[200];
    CK_RV rv;

    if (fn == FN_C_FindObjectsInit) {
        t = fz_random_template(st, fz_chance(&st->r, 400) ? 0 : 1 + (int)fz_below(&st->r, 3));
        fz_describe_template(desc, sizeof(desc), t);
        fz_note(st, "C_FindObjectsInit(s=%lu, %s)", s, desc);
        CALL(st, C_FindObjectsInit, s, t.attrs, t.count);
    } else if (fn == FN_C_FindObjectsFinal) {
        fz_note(st, "C_FindObjectsFinal(s=%lu)", s);
        CALL(st, C_FindObjectsFinal, s);
    } else {
        max = fz_chance(&st->r, 100) ? 0 : 1 + fz_below(&st->r, 32);
        found = max == 0 && fz_chance(&st->r, 500)
                    ? NULL
                    : (CK_OBJECT_HANDLE *)fz_out(st, max * sizeof(CK_ULONG));
        count = fz_next(&st->r);
        fz_note(st, "C_FindObjects(s=%lu, max=%lu)", s, max);
        rv = CALL(st, C_FindObjects, s, found, max, fz_chance(&st->r, 20) ? NULL : &count);
        fz_out_check(st, (unsigned char *)found, max * sizeof(CK_ULONG), "C_FindObjects");
        if (rv != CKR_OK)
            return;
        if (count > max) {
            fz_anomaly(st, "C_FindObjects: %lu handles for at most %lu", count, max);
            return;
        }
        for (i = 0; i < count && found != NULL; i++)
            fz_add_object(st, found[i], K_UNKNOWN, -1, 0);
    }
}

/* ---- the choice of a function ------------------------------------------------------------ */

typedef struct {
    int fn;
    unsigned weight;
} fz_weight;

static const fz_weight fz_weights[] = {
    {FN_C_Initialize, 3}, {FN_C_Finalize, 2}, {FN_C_GetInfo, 5}, {FN_C_GetFunctionList, 3},
    {FN_C_GetSlotList, 8}, {FN_C_GetSlotInfo, 5}, {FN_C_GetTokenInfo, 8},
    {FN_C_GetMechanismList, 5}, {FN_C_GetMechanismInfo, 8}, {FN_C_InitToken, 2},
    {FN_C_InitPIN, 3}, {FN_C_SetPIN, 3}, {FN_C_OpenSession, 16}, {FN_C_CloseSession, 5},
    {FN_C_CloseAllSessions, 1}, {FN_C_GetSessionInfo, 8}, {FN_C_GetOperationState, 3},
    {FN_C_SetOperationState, 3}, {FN_C_Login, 12}, {FN_C_Logout, 5},
    {FN_C_CreateObject, 30}, {FN_C_CopyObject, 14}, {FN_C_DestroyObject, 10},
    {FN_C_GetObjectSize, 8}, {FN_C_GetAttributeValue, 36}, {FN_C_SetAttributeValue, 24},
    {FN_C_FindObjectsInit, 14}, {FN_C_FindObjects, 14}, {FN_C_FindObjectsFinal, 9},
    {FN_C_EncryptInit, 18}, {FN_C_Encrypt, 14}, {FN_C_EncryptUpdate, 12},
    {FN_C_EncryptFinal, 9}, {FN_C_DecryptInit, 18}, {FN_C_Decrypt, 14},
    {FN_C_DecryptUpdate, 12}, {FN_C_DecryptFinal, 9}, {FN_C_DigestInit, 12},
    {FN_C_Digest, 10}, {FN_C_DigestUpdate, 10}, {FN_C_DigestKey, 6}, {FN_C_DigestFinal, 8},
    {FN_C_SignInit, 18}, {FN_C_Sign, 14}, {FN_C_SignUpdate, 12}, {FN_C_SignFinal, 9},
    {FN_C_SignRecoverInit, 2}, {FN_C_SignRecover, 2}, {FN_C_VerifyInit, 18},
    {FN_C_Verify, 14}, {FN_C_VerifyUpdate, 12}, {FN_C_VerifyFinal, 9},
    {FN_C_VerifyRecoverInit, 2}, {FN_C_VerifyRecover, 2}, {FN_C_DigestEncryptUpdate, 2},
    {FN_C_DecryptDigestUpdate, 2}, {FN_C_SignEncryptUpdate, 2}, {FN_C_DecryptVerifyUpdate, 2},
    {FN_C_GenerateKey, 10}, {FN_C_GenerateKeyPair, 5}, {FN_C_WrapKey, 10},
    {FN_C_UnwrapKey, 10}, {FN_C_DeriveKey, 8}, {FN_C_SeedRandom, 4},
    {FN_C_GenerateRandom, 8}, {FN_C_GetFunctionStatus, 2}, {FN_C_CancelFunction, 2},
    {FN_C_WaitForSlotEvent, 3}, {FN_C_GetInterfaceList, 2}, {FN_C_GetInterface, 2},
};
#define FZ_NWEIGHTS (sizeof(fz_weights) / sizeof(fz_weights[0]))

static int fz_pick_function(fz_state *st)
{
    unsigned total = 0, x;
    size_t i;

    for (i = 0; i < FZ_NWEIGHTS; i++)
        total += fz_weights[i].weight;
    x = (unsigned)fz_below(&st->r, total);
    for (i = 0; i < FZ_NWEIGHTS; i++) {
        if (x < fz_weights[i].weight)
            return fz_weights[i].fn;
        x -= fz_weights[i].weight;
    }
    return FN_C_GetInfo;
}

void fz_random_call(fz_state *st)
{
    int fn = fz_pick_function(st);

    if (fz_random_crypto_call(st, fn))
        return;
    switch (fn) {
    case FN_C_Initialize: fz_initialize(st, 0); break;
    case FN_C_Finalize: fz_finalize(st); break;
    case FN_C_GetInfo: fz_get_info(st); break;
    case FN_C_GetFunctionList: fz_get_function_list(st); break;
    case FN_C_GetSlotList:
    case FN_C_GetMechanismList: fz_list(st, fn); break;
    case FN_C_GetSlotInfo:
    case FN_C_GetTokenInfo: fz_slot_info(st, fn); break;
    case FN_C_GetMechanismInfo: fz_mech_info(st); break;
    case FN_C_InitToken: fz_init_token(st); break;
    case FN_C_InitPIN: fz_init_pin(st); break;
    case FN_C_SetPIN: fz_set_pin(st); break;
    case FN_C_OpenSession: fz_open_session(st); break;
    case FN_C_CloseSession: fz_close_session(st); break;
    case FN_C_CloseAllSessions: fz_close_all(st); break;
    case FN_C_GetSessionInfo: fz_session_info(st); break;
    case FN_C_SetOperationState: fz_set_state(st); break;
    case FN_C_Login: fz_random_login(st); break;
    case FN_C_Logout: fz_logout(st); break;
    case FN_C_CreateObject: fz_create(st, fz_session(st)); break;
    case FN_C_CopyObject: fz_copy_object(st, fz_session(st)); break;
    case FN_C_DestroyObject: fz_destroy(st, fz_session(st)); break;
    case FN_C_GetObjectSize: fz_object_size(st, fz_session(st)); break;
    case FN_C_GetAttributeValue:
        fz_get_attributes(st, fz_session(st), fz_object(st, K_UNKNOWN));
        break;
    case FN_C_SetAttributeValue:
        fz_set_attributes(st, fz_session(st), fz_object(st, K_UNKNOWN));
        break;
    case FN_C_FindObjectsInit:
    case FN_C_FindObjects:
    case FN_C_FindObjectsFinal: fz_find(st, fz_session(st), fn); break;
    case FN_C_WaitForSlotEvent: fz_wait_event(st); break;
    case FN_C_GetInterfaceList:
    case FN_C_GetInterface: fz_interfaces(st); break;
    default: break;
    }
}
