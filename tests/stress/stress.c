/* stress: many threads on separate sessions of ONE loaded PKCS #11 module (a real C host).
 *
 *   stress MODULE init LABEL SO_PIN PIN
 *       C_InitToken on the first uninitialized slot, C_Login as SO, C_InitPIN (s5.6, s5.7).
 *
 *   stress MODULE run LABEL PIN TAG THREADS SECONDS
 *       THREADS threads, each with a R/W session of its own (s5.6 C_OpenSession) and an
 *       EC P-256 session key pair, for SECONDS seconds pick at random: ECDSA sign + verify
 *       (s5.11, s5.13; a corrupted signature must give CKR_SIGNATURE_INVALID), find one of
 *       the thread's own token objects by CKA_LABEL (exactly that handle, with its
 *       CKA_VALUE), find a destroyed one (nothing), find every stress object (all the
 *       thread's live ones among them), create a token CKO_DATA object (s5.7) with a unique
 *       label "stress-TAG-tN-K" (CKA_VALUE derived from the label, CKA_PRIVATE alternating;
 *       CKO_DATA has no CKA_ID, s4.5), destroy one of its own. Every CK_RV is checked against the one value
 *       it must have; a wrong one is printed and counted, and stops that thread.
 *       Prints "alive LABEL" / "destroyed LABEL" for every object made, then
 *       "ops sign=N verify=N find=N create=N destroy=N errors=N".
 *
 *   stress MODULE list LABEL PIN
 *       A fresh C_Initialize: every stress object of the token, "object LABEL" each, or
 *       "bad LABEL why" when its CKA_VALUE or CKA_APPLICATION is not what its creator wrote.
 *
 *   stress MODULE add LABEL PIN OBJECT_LABEL
 *       One more token object made as a worker makes it (the tests use it to show that the
 *       checks notice an object that is there twice).
 *
 * Built against the package's PKCS #11 header (tokenport.abi.header_path()). alarm() turns
 * a deadlock into SIGALRM. Exit 0 when no error was seen, 1 on errors, 2 on setup failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11_v240.h"

#define CKR_OK 0x0UL
#define CKR_SIGNATURE_INVALID 0xC0UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKF_TOKEN_INITIALIZED 0x400UL
#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKO_DATA 0x0UL
#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_APPLICATION 0x10UL
#define CKA_VALUE 0x11UL
#define CKA_SENSITIVE 0x103UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_EC_PARAMS 0x180UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL

#define MAX_THREADS 64
#define MAX_ALIVE 40    /* live objects per thread: beyond this a thread destroys */
#define MAX_OBJECTS 100000

typedef CK_RV (*get_function_list_fn)(CK_FUNCTION_LIST_PTR_PTR);

static CK_FUNCTION_LIST_PTR p11;
static CK_SLOT_ID slot;
static const char app[] = "tokenport-stress";
static const CK_BYTE p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static CK_BBOOL ck_true = 1, ck_false = 0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail_setup(const char *what, CK_RV rv)
{
    fprintf(stderr, "stress: %s returned 0x%lX\n", what, rv);
    exit(2);
}

#define SETUP(call, args)                                                                        \
    do {                                                                                         \
        CK_RV rv_ = p11->call args;                                                              \
        if (rv_ != CKR_OK)                                                                       \
            fail_setup(#call, rv_);                                                              \
    } while (0)

static void load(const char *path)
{
    void *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (handle == NULL) {
        fprintf(stderr, "stress: dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    get_function_list_fn get = (get_function_list_fn)(uintptr_t)dlsym(handle, "C_GetFunctionList");
    if (get == NULL || get(&p11) != CKR_OK || p11 == NULL) {
        fprintf(stderr, "stress: no usable C_GetFunctionList in %s\n", path);
        exit(2);
    }
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    SETUP(C_Initialize, (&args));
}

static void pad32(const char *text, CK_UTF8CHAR out[32])
{
    size_t len = strlen(text);
    memset(out, ' ', 32);
    memcpy(out, text, len > 32 ? 32 : len);
}

/* The slot of the token labelled `label` (want_init = 1) or of the first uninitialized
 * token (want_init = 0); exits when there is none. */
static CK_SLOT_ID pick_slot(const char *label, int want_init)
{
    CK_ULONG count = 0;
    SETUP(C_GetSlotList, (1, NULL, &count));
    CK_SLOT_ID *slots = calloc(count + 1, sizeof *slots);
    if (slots == NULL)
        exit(2);
    SETUP(C_GetSlotList, (1, slots, &count));
    CK_UTF8CHAR want[32];
    pad32(label, want);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        SETUP(C_GetTokenInfo, (slots[i], &info));
        int initialized = (info.flags & CKF_TOKEN_INITIALIZED) != 0;
        if (want_init ? (initialized && memcmp(info.label, want, 32) == 0) : !initialized) {
            CK_SLOT_ID found = slots[i];
            free(slots);
            return found;
        }
    }
    fprintf(stderr, "stress: no %s slot\n", want_init ? "token labelled so in a" : "free");
    exit(2);
}

/* CKA_VALUE of an object: 16 bytes derived from its label (FNV-1a, then xorshift). */
static void value_of(const char *label, CK_BYTE out[16])
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = label; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (int i = 0; i < 16; i++) {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        out[i] = (CK_BYTE)h;
    }
}

/* ---- one worker thread ------------------------------------------------------------------ */

struct object {
    char label[48];
    CK_OBJECT_HANDLE handle;
    int alive;
};

struct worker {
    int index;
    const char *tag;
    double deadline;
    uint64_t rng;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE pub, priv;
    struct object *objects;
    size_t n_objects, n_alive;
    unsigned long sign, verify, find, create, destroy, errors;
};

static uint64_t next(struct worker *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545F4914F6CDD1DULL;
}

/* 1 when rv is what the call must return; else prints, counts and returns 0. */
static int expect(struct worker *w, CK_RV rv, CK_RV want, const char *call, const char *what)
{
    if (rv == want)
        return 1;
    fprintf(stderr, "stress: thread %d: %s %s returned 0x%lX, expected 0x%lX\n", w->index, call,
            what, rv, want);
    w->errors++;
    return 0;
}

#define EXPECT(w, call, args, want, what) expect(w, p11->call args, want, #call, what)

static struct object *random_object(struct worker *w, int alive)
{
    size_t want = alive ? w->n_alive : w->n_objects - w->n_alive;
    if (want == 0)
        return NULL;
    size_t k = (size_t)(next(w) % want);
    for (size_t i = 0; i < w->n_objects; i++)
        if (w->objects[i].alive == alive && k-- == 0)
            return &w->objects[i];
    return NULL;
}

static int do_sign_verify(struct worker *w)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_BYTE hash[32], sig[64];
    CK_ULONG len = sizeof sig;
    for (size_t i = 0; i < sizeof hash; i++)
        hash[i] = (CK_BYTE)next(w);
    if (!EXPECT(w, C_SignInit, (w->session, &m, w->priv), CKR_OK, "ECDSA") ||
        !EXPECT(w, C_Sign, (w->session, hash, sizeof hash, sig, &len), CKR_OK, "ECDSA"))
        return 0;
    w->sign++;
    if (len != 64)
        return expect(w, len, 64, "C_Sign", "signature length");
    int corrupt = next(w) % 8 == 0;
    if (corrupt)
        sig[next(w) % 64] ^= 0x10;
    if (!EXPECT(w, C_VerifyInit, (w->session, &m, w->pub), CKR_OK, "ECDSA") ||
        !EXPECT(w, C_Verify, (w->session, hash, sizeof hash, sig, len),
                corrupt ? CKR_SIGNATURE_INVALID : CKR_OK, corrupt ? "corrupted" : "good"))
        return 0;
    w->verify++;
    return 1;
}

/* Find by label: `o` alive must give exactly its handle, with its CKA_VALUE;
 * destroyed, nothing. */
static int do_find_one(struct worker *w, struct object *o)
{
    CK_ATTRIBUTE t = {CKA_LABEL, o->label, strlen(o->label)};
    CK_OBJECT_HANDLE found[4];
    CK_ULONG count = 0;
    if (!EXPECT(w, C_FindObjectsInit, (w->session, &t, 1), CKR_OK, o->label) ||
        !EXPECT(w, C_FindObjects, (w->session, found, 4, &count), CKR_OK, o->label) ||
        !EXPECT(w, C_FindObjectsFinal, (w->session), CKR_OK, o->label))
        return 0;
    w->find++;
    if (count != (o->alive ? 1UL : 0UL) || (o->alive && found[0] != o->handle)) {
        fprintf(stderr, "stress: thread %d: find %s (%s) gave %lu objects\n", w->index, o->label,
                o->alive ? "alive" : "destroyed", count);
        w->errors++;
        return 0;
    }
    if (!o->alive)
        return 1;
    CK_BYTE value[32], want[16];
    CK_ATTRIBUTE a = {CKA_VALUE, value, sizeof value};
    if (!EXPECT(w, C_GetAttributeValue, (w->session, o->handle, &a, 1), CKR_OK, o->label))
        return 0;
    value_of(o->label, want);
    if (a.ulValueLen != 16 || memcmp(value, want, 16) != 0) {
        fprintf(stderr, "stress: thread %d: %s has a wrong CKA_VALUE\n", w->index, o->label);
        w->errors++;
        return 0;
    }
    return 1;
}

/* Every stress object of the token (all processes): this thread's live ones must be among
 * them (nobody else touches them). */
static int do_find_all(struct worker *w)
{
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &data, sizeof data}, {CKA_APPLICATION, (void *)app, strlen(app)}};
    size_t cap = 1024, n = 0;
    CK_OBJECT_HANDLE *all = malloc(cap * sizeof *all);
    CK_ULONG got = 0;
    int ok = all != NULL && EXPECT(w, C_FindObjectsInit, (w->session, t, 2), CKR_OK, "all");
    while (ok) {
        if (n + 64 > cap) {
            cap *= 2;
            CK_OBJECT_HANDLE *bigger = realloc(all, cap * sizeof *all);
            if (bigger == NULL)
                exit(2);
            all = bigger;
        }
        ok = EXPECT(w, C_FindObjects, (w->session, all + n, 64, &got), CKR_OK, "all");
        if (!ok || got == 0)
            break;
        n += got;
    }
    ok = ok && EXPECT(w, C_FindObjectsFinal, (w->session), CKR_OK, "all");
    for (size_t i = 0; ok && i < w->n_objects; i++) {
        if (!w->objects[i].alive)
            continue;
        int seen = 0;
        for (size_t k = 0; k < n; k++)
            seen += all[k] == w->objects[i].handle;
        if (seen != 1) {
            fprintf(stderr, "stress: thread %d: %s found %d times among all objects\n", w->index,
                    w->objects[i].label, seen);
            w->errors++;
            ok = 0;
        }
    }
    free(all);
    if (ok)
        w->find++;
    return ok;
}

/* C_CreateObject of a stress object: token CKO_DATA, the label, CKA_VALUE derived from it. */
static CK_RV create_object(CK_SESSION_HANDLE s, const char *label, CK_BBOOL private,
                           CK_OBJECT_HANDLE *handle)
{
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_BYTE value[16];
    value_of(label, value);
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &data, sizeof data},
        {CKA_TOKEN, &ck_true, 1},
        {CKA_PRIVATE, &private, 1},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_APPLICATION, (void *)app, strlen(app)},
        {CKA_VALUE, value, sizeof value},
    };
    return p11->C_CreateObject(s, t, 6, handle);
}

static int do_create(struct worker *w)
{
    if (w->n_objects >= MAX_OBJECTS)
        return 1;
    struct object *o = &w->objects[w->n_objects];
    snprintf(o->label, sizeof o->label, "stress-%s-t%d-%zu", w->tag, w->index, w->n_objects);
    CK_BBOOL private = (CK_BBOOL)(w->n_objects % 2);
    if (!expect(w, create_object(w->session, o->label, private, &o->handle), CKR_OK,
                "C_CreateObject", o->label))
        return 0;
    o->alive = 1;
    w->n_objects++;
    w->n_alive++;
    w->create++;
    return 1;
}

static int do_destroy(struct worker *w)
{
    struct object *o = random_object(w, 1);
    if (o == NULL)
        return 1;
    if (!EXPECT(w, C_DestroyObject, (w->session, o->handle), CKR_OK, o->label))
        return 0;
    o->alive = 0;
    w->n_alive--;
    w->destroy++;
    return 1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
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
    if (!EXPECT(w, C_OpenSession,
                (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &w->session), CKR_OK,
                "R/W"))
        return NULL;
    int ok = EXPECT(w, C_GenerateKeyPair, (w->session, &gen, pub_t, 3, priv_t, 4, &w->pub, &w->priv),
                    CKR_OK, "EC P-256");
    while (ok && now() < w->deadline) {
        unsigned r = (unsigned)(next(w) % 100);
        struct object *o;
        if (r < 25)
            ok = do_sign_verify(w);
        else if (r < 45)
            ok = (o = random_object(w, 1)) == NULL || do_find_one(w, o);
        else if (r < 50)
            ok = (o = random_object(w, 0)) == NULL || do_find_one(w, o);
        else if (r < 52)
            ok = do_find_all(w);
        else if (r < 80 && w->n_alive < MAX_ALIVE)
            ok = do_create(w);
        else
            ok = do_destroy(w);
    }
    /* closing the session destroys its session key pair (s5.6) */
    EXPECT(w, C_CloseSession, (w->session), CKR_OK, "");
    return NULL;
}

static int run(const char *label, const char *pin, const char *tag, int threads, double seconds)
{
    slot = pick_slot(label, 1);
    CK_SESSION_HANDLE main_session;
    SETUP(C_OpenSession, (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &main_session));
    SETUP(C_Login, (main_session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    pthread_t ids[MAX_THREADS];
    if (workers == NULL)
        exit(2);
    double deadline = now() + seconds;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    for (const char *p = tag; *p; p++)
        seed = (seed ^ (unsigned char)*p) * 1099511628211ULL;
    for (int i = 0; i < threads; i++) {
        workers[i].index = i;
        workers[i].tag = tag;
        workers[i].deadline = deadline;
        workers[i].rng = seed + 0x1000193ULL * (uint64_t)(i + 1);
        workers[i].objects = calloc(MAX_OBJECTS, sizeof(struct object));
        if (workers[i].objects == NULL)
            exit(2);
    }
    for (int i = 0; i < threads; i++)
        if (pthread_create(&ids[i], NULL, worker_main, &workers[i]) != 0)
            exit(2);
    unsigned long sign = 0, verify = 0, find = 0, create = 0, destroy = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        struct worker *w = &workers[i];
        for (size_t k = 0; k < w->n_objects; k++)
            printf("%s %s\n", w->objects[k].alive ? "alive" : "destroyed", w->objects[k].label);
        sign += w->sign, verify += w->verify, find += w->find;
        create += w->create, destroy += w->destroy, errors += w->errors;
        free(w->objects);
    }
    CK_RV rv = p11->C_Logout(main_session);
    if (rv != CKR_OK)
        fprintf(stderr, "stress: C_Logout returned 0x%lX\n", rv), errors++;
    rv = p11->C_CloseSession(main_session);
    if (rv != CKR_OK)
        fprintf(stderr, "stress: C_CloseSession returned 0x%lX\n", rv), errors++;
    rv = p11->C_Finalize(NULL);
    if (rv != CKR_OK)
        fprintf(stderr, "stress: C_Finalize returned 0x%lX\n", rv), errors++;
    printf("ops sign=%lu verify=%lu find=%lu create=%lu destroy=%lu errors=%lu\n", sign, verify,
           find, create, destroy, errors);
    free(workers);
    return errors == 0 ? 0 : 1;
}

static int list(const char *label, const char *pin)
{
    slot = pick_slot(label, 1);
    CK_SESSION_HANDLE s;
    SETUP(C_OpenSession, (slot, CKF_SERIAL_SESSION, NULL, NULL, &s));
    SETUP(C_Login, (s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &data, sizeof data}, {CKA_APPLICATION, (void *)app, strlen(app)}};
    SETUP(C_FindObjectsInit, (s, t, 2));
    int bad = 0;
    for (;;) {
        CK_OBJECT_HANDLE found[64];
        CK_ULONG got = 0;
        SETUP(C_FindObjects, (s, found, 64, &got));
        if (got == 0)
            break;
        for (CK_ULONG i = 0; i < got; i++) {
            char name[64], application[64];
            CK_BYTE value[32], want[16];
            CK_ATTRIBUTE a[] = {
                {CKA_LABEL, name, sizeof name - 1},
                {CKA_APPLICATION, application, sizeof application},
                {CKA_VALUE, value, sizeof value},
            };
            SETUP(C_GetAttributeValue, (s, found[i], a, 3));
            name[a[0].ulValueLen] = '\0';
            value_of(name, want);
            if (a[1].ulValueLen != strlen(app) || memcmp(application, app, strlen(app)) != 0)
                printf("bad %s CKA_APPLICATION\n", name), bad++;
            else if (a[2].ulValueLen != 16 || memcmp(value, want, 16) != 0)
                printf("bad %s CKA_VALUE\n", name), bad++;
            else
                printf("object %s\n", name);
        }
    }
    SETUP(C_FindObjectsFinal, (s));
    SETUP(C_Logout, (s));
    SETUP(C_CloseSession, (s));
    SETUP(C_Finalize, (NULL));
    return bad == 0 ? 0 : 1;
}

static int add(const char *label, const char *pin, const char *object)
{
    slot = pick_slot(label, 1);
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    SETUP(C_OpenSession, (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    SETUP(C_Login, (s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
    CK_RV rv = create_object(s, object, 0, &h);
    if (rv != CKR_OK)
        fail_setup("C_CreateObject", rv);
    SETUP(C_Logout, (s));
    SETUP(C_CloseSession, (s));
    SETUP(C_Finalize, (NULL));
    return 0;
}

static int init(const char *label, const char *so_pin, const char *pin)
{
    CK_SLOT_ID free_slot = pick_slot("", 0);
    CK_UTF8CHAR label32[32];
    pad32(label, label32);
    SETUP(C_InitToken, (free_slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), label32));
    slot = pick_slot(label, 1);
    CK_SESSION_HANDLE s;
    SETUP(C_OpenSession, (slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    SETUP(C_Login, (s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin)));
    SETUP(C_InitPIN, (s, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
    SETUP(C_Logout, (s));
    SETUP(C_CloseSession, (s));
    SETUP(C_Finalize, (NULL));
    printf("init %lu\n", slot);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: stress MODULE init LABEL SO_PIN PIN\n"
                    "       stress MODULE run LABEL PIN TAG THREADS SECONDS\n"
                    "       stress MODULE list LABEL PIN\n"
                    "       stress MODULE add LABEL PIN OBJECT_LABEL\n");
    exit(64);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    const char *mode = argv[2];
    if (strcmp(mode, "init") == 0 && argc == 6) {
        alarm(300);
        load(argv[1]);
        return init(argv[3], argv[4], argv[5]);
    }
    if (strcmp(mode, "run") == 0 && argc == 8) {
        int threads = atoi(argv[6]);
        double seconds = atof(argv[7]);
        if (threads < 1 || threads > MAX_THREADS || seconds <= 0)
            usage();
        alarm((unsigned)seconds + 300);
        load(argv[1]);
        return run(argv[3], argv[4], argv[5], threads, seconds);
    }
    if (strcmp(mode, "list") == 0 && argc == 5) {
        alarm(300);
        load(argv[1]);
        return list(argv[3], argv[4]);
    }
    if (strcmp(mode, "add") == 0 && argc == 6) {
        alarm(300);
        load(argv[1]);
        return add(argv[3], argv[4], argv[5]);
    }
    usage();
    return 64;
}
