/* p11bench_runs.c: the measurements of p11bench (p11bench.c) that are more than one
 * operation in a loop on one session: an operation on several threads at once, each on a
 * session of its own (PKCS #11 v2.40 s5.6: calls on different sessions may run at the same
 * time when the application asked for CKF_OS_LOCKING_OK); C_FindObjects over many matches
 * (s5.7); and C_Initialize / C_Finalize timed in a fresh process (s5.4).
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11bench.h"

/* ---- an operation on several threads ------------------------------------------------------ */

struct worker {
    void (*op)(SH);
    SH session;
    pthread_barrier_t *ready;
    double warmup, seconds;
    double timed_start, last; /* shared start of the timed part; when this thread's last op ended */
    unsigned long ops;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->ready);
    double start = now(), timed = start + w->warmup, end = timed + w->seconds, t;
    while (now() < timed)
        w->op(w->session);
    w->timed_start = now();
    do {
        w->op(w->session);
        w->ops++;
        t = now();
    } while (t < end);
    w->last = t;
    return NULL;
}

/* The op on `count` threads at once, each on a session of its own (opened for the
 * measurement, closed afterwards); total ops over the wall time of the timed part. */
void run_threads(const char *name, void (*op)(SH), unsigned long n, double seconds,
                 double warmup)
{
    struct worker *workers = calloc(n, sizeof *workers);
    pthread_t *ids = calloc(n, sizeof *ids);
    pthread_barrier_t ready;
    if (workers == NULL || ids == NULL || pthread_barrier_init(&ready, NULL, (unsigned)n) != 0)
        die("%s", "out of memory");
    for (unsigned long i = 0; i < n; i++) {
        workers[i].op = op;
        workers[i].ready = &ready;
        workers[i].warmup = warmup;
        workers[i].seconds = seconds;
        CK(p11->C_OpenSession,
           (slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &workers[i].session));
    }
    for (unsigned long i = 0; i < n; i++)
        if (pthread_create(&ids[i], NULL, worker_main, &workers[i]) != 0)
            die("%s", "pthread_create failed");
    unsigned long ops = 0;
    double first = 0, last = 0;
    for (unsigned long i = 0; i < n; i++) {
        pthread_join(ids[i], NULL);
        ops += workers[i].ops;
        if (i == 0 || workers[i].timed_start < first)
            first = workers[i].timed_start;
        if (workers[i].last > last)
            last = workers[i].last;
    }
    for (unsigned long i = 0; i < n; i++)
        CK(p11->C_CloseSession, (workers[i].session));
    pthread_barrier_destroy(&ready);
    double took = last - first;
    printf("result %s %lu %.4f %.2f\n", name, ops, took, ops / took);
    fflush(stdout);
    free(workers);
    free(ids);
}

/* ---- C_FindObjects over many matches ---------------------------------------------------------
 * N session data objects (CKA_TOKEN=FALSE, CKA_APPLICATION "p11bench-find-N") are made once
 * in a session of their own (closing it destroys them all, untimed). One pass is
 * C_FindObjectsInit (untimed) + C_FindObjects with room for 10 handles until it returns none
 * (timed, every call) + C_FindObjectsFinal (untimed); exactly N handles must come back. */

static SH find_session;
static int find_session_open;

static void find_app(CK_ULONG n, char *out, size_t size)
{
    snprintf(out, size, "p11bench-find-%lu", n);
}

static void make_find_objects(CK_ULONG n)
{
    if (!find_session_open) {
        CK(p11->C_OpenSession,
           (slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &find_session));
        find_session_open = 1;
    }
    char app[40];
    find_app(n, app, sizeof app);
    CK_OBJECT_CLASS data_class = CKO_DATA;
    double start = now();
    for (CK_ULONG i = 0; i < n; i++) {
        CK_BYTE value[8];
        for (size_t k = 0; k < sizeof value; k++)
            value[k] = (CK_BYTE)(i >> (8 * k));
        CK_ATTRIBUTE t[] = {
            {CKA_CLASS, &data_class, sizeof data_class},
            {CKA_TOKEN, &ck_false, 1},
            {CKA_PRIVATE, &ck_false, 1},
            {CKA_APPLICATION, app, strlen(app)},
            {CKA_VALUE, value, sizeof value},
        };
        OH h;
        CK(p11->C_CreateObject, (find_session, t, 5, &h));
    }
    double took = now() - start;
    printf("setup create-session-object %lu %.3f %.1f\n", n, took, n / took);
}

/* One pass over all N matches; adds the time spent inside C_FindObjects to *spent and
 * returns the number of C_FindObjects calls (the last one returns no handle). */
static unsigned long find_pass(CK_ULONG n, double *spent)
{
    char app[40];
    find_app(n, app, sizeof app);
    CK_OBJECT_CLASS data_class = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &data_class, sizeof data_class},
        {CKA_APPLICATION, app, strlen(app)},
    };
    OH handles[10];
    CK_ULONG got, total = 0;
    unsigned long calls = 0;
    CK(p11->C_FindObjectsInit, (session, t, 2));
    double start = now();
    do {
        CK(p11->C_FindObjects, (session, handles, 10, &got));
        total += got;
        calls++;
    } while (got > 0);
    *spent += now() - start;
    CK(p11->C_FindObjectsFinal, (session));
    if (total != n) {
        fprintf(stderr, "p11bench: C_FindObjects over %s found %lu objects, not %lu\n", app, total,
                n);
        exit(2);
    }
    return calls;
}

void run_find(const char *name, CK_ULONG n, double seconds, double warmup)
{
    make_find_objects(n);
    double spent = 0, start = now();
    do
        find_pass(n, &spent);
    while (now() < start + warmup);
    unsigned long calls = 0;
    spent = 0;
    start = now();
    do
        calls += find_pass(n, &spent);
    while (now() < start + seconds);
    printf("result %s %lu %.4f %.2f\n", name, calls, spent, calls / spent);
}

void close_find_session(void)
{
    if (find_session_open)
        CK(p11->C_CloseSession, (find_session));
    find_session_open = 0;
}

/* ---- C_Initialize in a fresh process ---------------------------------------------------------
 * p11bench --init-time: dlopen, then C_GetFunctionList + C_Initialize, then C_GetSlotList +
 * C_GetTokenInfo of every slot (what a host does first), then C_Finalize, each timed; prints
 * "initialize <dlopen_ms> <initialize_ms> <slots_ms> <finalize_ms>". */

void init_time(const char *path)
{
    double t0 = now();
    void *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (handle == NULL)
        die("dlopen failed: %s", dlerror());
    double t1 = now();
    get_function_list_fn get = (get_function_list_fn)(uintptr_t)dlsym(handle, "C_GetFunctionList");
    if (get == NULL)
        die("no C_GetFunctionList in %s", path);
    check(get(&p11), "C_GetFunctionList");
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof args);
    args.flags = CKF_OS_LOCKING_OK;
    CK(p11->C_Initialize, (&args));
    double t2 = now();
    CK_ULONG count;
    CK_SLOT_ID *slots = slot_list(&count);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        CK(p11->C_GetTokenInfo, (slots[i], &info));
    }
    free(slots);
    double t3 = now();
    CK(p11->C_Finalize, (NULL));
    double t4 = now();
    printf("initialize %.3f %.3f %.3f %.3f\n", (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
           (t4 - t3) * 1e3);
}
