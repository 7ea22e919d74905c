/* p11fuzz: a random-call fuzzer for the PKCS #11 v2.40 C ABI of a module.
 *
 *   p11fuzz --module PATH [--seed S] [--calls N] [--setup none|token|user]
 *           [--guard-rate PM] [--null-rate PM] [--call-timeout SEC] [--rsa-2048]
 *           [--trace] [--trace-from CALL]
 *   p11fuzz --list-rv        the CK_RV table it checks return values against
 *
 * It loads the module the way hosts do (dlopen RTLD_LOCAL|RTLD_NOW, C_GetFunctionList),
 * initializes it, sets up a token (--setup: "none" leaves the slots alone, "token" runs
 * C_InitToken, "user" also C_InitPIN and a user login; default: chosen by the seed), then
 * makes at least N calls (default 10000) over every entry of the function list plus
 * C_GetInterfaceList / C_GetInterface: single random calls, and short flows that reach
 * deeper states (an operation initialized and then continued, sign then verify, encrypt
 * then decrypt, wrap then unwrap, generate then read attributes, find, PIN changes,
 * C_Finalize + C_Initialize, token re-initialization).
 *
 * Inputs: real and random session / object / slot handles (a pool keeps what successful
 * calls returned), templates of real attribute types with values sized for their type,
 * mechanisms of the module's list (and invalid ones) with parameter structures of the
 * right size, and lengths that always equal their buffers (see p11fuzz_gen.c for the guard
 * pages and canaries that catch a module reading or writing past a buffer).
 *
 * Determinism: step k of a run draws from a generator seeded with (seed, k), so one seed
 * gives one sequence of calls (as long as the module answers the same way).
 *
 * Output (stdout): "calls N", one "fn NAME calls ok" line per function, the CK_RV
 * histogram, then "general_errors", "undefined_rvs", "anomalies". Each finding is also
 * printed when it happens, as a "FLAG" line with the seed, call index and the last calls.
 * Exit status: 0 clean, 1 a finding (CKR_GENERAL_ERROR, an undefined CK_RV, an anomaly),
 * 2 setup failure, 3 a call that did not return within --call-timeout (a hang), 64 usage.
 * A crash kills the process with its signal after printing "CRASH" and the last calls.
 */
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11fuzz.h"

fz_state *fz_g;

#define FZ_NAME(name) #name,
const char *const fz_function_names[FN_COUNT] = {FZ_FUNCTIONS(FZ_NAME)};
#undef FZ_NAME

#define FZ_MAX_FLAG_PRINTS 40

/* ---- async-signal-safe reporting ------------------------------------------------------- */

static void fz_write(const char *s)
{
    ssize_t r = write(STDOUT_FILENO, s, strlen(s));
    (void)r;
}

static void fz_write_num(unsigned long v)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;

    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    fz_write(buf + i);
}

/* The last calls, oldest first (the one in progress last). */
static void fz_dump_ring(fz_state *st)
{
    int i, k;

    fz_write("last calls:\n");
    for (i = 1; i <= FZ_RING; i++) {
        k = (st->ring_pos + i) % FZ_RING;
        if (st->ring[k][0] == '\0')
            continue;
        fz_write("  ");
        fz_write(st->ring[k]);
        fz_write("\n");
    }
}

static void fz_where(fz_state *st)
{
    fz_write(st->current_fn >= 0 ? fz_function_names[st->current_fn] : "(between calls)");
    fz_write(" at call ");
    fz_write_num(st->calls);
    fz_write(" (seed ");
    fz_write_num((unsigned long)st->seed);
    fz_write(", step ");
    fz_write_num(st->step);
    fz_write(")\n");
}

static void fz_on_crash(int sig)
{
    fz_state *st = fz_g;

    fz_write("CRASH signal ");
    fz_write_num((unsigned long)sig);
    fz_write(" in ");
    if (st != NULL) {
        fz_where(st);
        fz_dump_ring(st);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void fz_on_alarm(int sig)
{
    fz_state *st = fz_g;

    (void)sig;
    fz_write("HANG: no return within the call timeout: ");
    if (st != NULL) {
        fz_where(st);
        fz_dump_ring(st);
    }
    _exit(3);
}

static void fz_install_handlers(void)
{
    static char altstack[65536];
    static const int crash[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    struct sigaction sa;
    stack_t ss;
    size_t i;

    ss.ss_sp = altstack;
    ss.ss_size = sizeof(altstack);
    ss.ss_flags = 0;
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fz_on_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
        sigaction(crash[i], &sa, NULL);
    sa.sa_handler = fz_on_alarm;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGALRM, &sa, NULL);
}

/* ---- recording calls ------------------------------------------------------------------ */

void fz_note(fz_state *st, const char *fmt, ...)
{
    va_list ap;
    char *slot = st->ring[st->ring_pos];
    int n;

    n = snprintf(slot, sizeof(st->ring[0]), "#%lu ", st->calls);
    va_start(ap, fmt);
    vsnprintf(slot + n, sizeof(st->ring[0]) - (size_t)n, fmt, ap);
    va_end(ap);
}

void fz_begin(fz_state *st, int fn)
{
    char *slot = st->ring[st->ring_pos];

    if (slot[0] == '\0')
        fz_note(st, "%s", fz_function_names[fn]); /* a call with no description */
    st->current_fn = fn;
    if (st->trace && st->calls >= st->trace_from) {
        printf("%s ...\n", slot);
        fflush(stdout);
    }
    alarm(st->call_timeout);
}

static void fz_flag(fz_state *st, const char *what, const char *detail)
{
    if (st->flagged_printed >= FZ_MAX_FLAG_PRINTS)
        return;
    st->flagged_printed++;
    if (st->current_fn >= 0) /* during the call */
        printf("FLAG %s: %s in %s at call %lu (seed %lu, step %lu)\n", what, detail,
               fz_function_names[st->current_fn], st->calls, (unsigned long)st->seed, st->step);
    else /* a check after the call */
        printf("FLAG %s: %s after %s at call %lu (seed %lu, step %lu)\n", what, detail,
               st->last_fn >= 0 ? fz_function_names[st->last_fn] : "-",
               st->calls ? st->calls - 1 : 0, (unsigned long)st->seed, st->step);
    fflush(stdout);
    fz_dump_ring(st);
}

void fz_anomaly(fz_state *st, const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    st->anomalies++;
    fz_flag(st, "ANOMALY", detail);
}

CK_RV fz_end(fz_state *st, int fn, CK_RV rv)
{
    char detail[64];
    const char *name;
    size_t used;
    char *slot = st->ring[st->ring_pos];

    alarm(0);
    name = fz_rv_name(rv);
    used = strlen(slot);
    snprintf(slot + used, sizeof(st->ring[0]) - used, " -> %s (0x%lx)", name ? name : "?", rv);
    if (st->trace && st->calls >= st->trace_from) {
        printf("%s\n", slot);
        fflush(stdout);
    }
    st->fn_calls[fn]++;
    if (rv == CKR_OK)
        st->fn_ok[fn]++;
    fz_rv_count(rv);
    if (rv == CKR_GENERAL_ERROR) {
        st->general_errors++;
        fz_flag(st, "GENERAL_ERROR", "CKR_GENERAL_ERROR");
    } else if (name == NULL) {
        st->undefined_rvs++;
        snprintf(detail, sizeof(detail), "undefined CK_RV 0x%lx", rv);
        fz_flag(st, "UNDEFINED_RV", detail);
    }
    st->calls++;
    st->last_fn = fn;
    st->current_fn = -1;
    st->ring_pos = (st->ring_pos + 1) % FZ_RING;
    st->ring[st->ring_pos][0] = '\0';
    return rv;
}

/* ---- setup ----------------------------------------------------------------------------- */

static int fz_usage(void)
{
    fprintf(stderr, "usage: p11fuzz --module PATH [--seed S] [--calls N] "
                    "[--setup none|token|user] [--guard-rate PM] [--null-rate PM] "
                    "[--call-timeout SEC] [--rsa-2048] [--trace] [--trace-from CALL]\n"
                    "       p11fuzz --list-rv\n");
    return 64;
}

/* A private store: never the user's tokens (C_InitToken erases). */
static int fz_private_home(void)
{
    static char dir[] = "/tmp/p11fuzz-home-XXXXXX";
    const char *home = getenv("TOKENPORT_HOME");

    if (home != NULL && home[0] != '\0')
        return 0;
    if (mkdtemp(dir) == NULL)
        return -1;
    setenv("TOKENPORT_HOME", dir, 1);
    fprintf(stderr, "p11fuzz: TOKENPORT_HOME=%s\n", dir);
    return 0;
}

static int fz_load(fz_state *st, const char *path)
{
    void *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    CK_RV rv;

    if (handle == NULL) {
        fprintf(stderr, "p11fuzz: dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    st->get_function_list = (fz_get_function_list_fn)dlsym(handle, "C_GetFunctionList");
    st->get_interface_list = (fz_get_interface_list_fn)dlsym(handle, "C_GetInterfaceList");
    st->get_interface = (fz_get_interface_fn)dlsym(handle, "C_GetInterface");
    if (st->get_function_list == NULL) {
        fprintf(stderr, "p11fuzz: no C_GetFunctionList in %s\n", path);
        return -1;
    }
    fz_note(st, "C_GetFunctionList(&list)");
    fz_begin(st, FN_C_GetFunctionList);
    rv = fz_end(st, FN_C_GetFunctionList, st->get_function_list(&st->p11));
    if (rv != CKR_OK || st->p11 == NULL) {
        fprintf(stderr, "p11fuzz: C_GetFunctionList gave 0x%lx\n", rv);
        return -1;
    }
    return 0;
}

static void fz_summary(fz_state *st)
{
    int i;

    printf("seed %lu\n", (unsigned long)st->seed);
    printf("calls %lu\n", st->calls);
    printf("steps %lu\n", st->step);
    for (i = 0; i < FN_COUNT; i++)
        printf("fn %-24s %lu %lu\n", fz_function_names[i], st->fn_calls[i], st->fn_ok[i]);
    fz_rv_print();
    printf("general_errors %lu\n", st->general_errors);
    printf("undefined_rvs %lu\n", st->undefined_rvs);
    printf("anomalies %lu\n", st->anomalies);
}

static int fz_parse(fz_state *st, int argc, char **argv, const char **module)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--trace") == 0) {
            st->trace = 1;
            continue;
        }
        if (strcmp(a, "--rsa-2048") == 0) {
            st->allow_rsa_2048 = 1;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--module") == 0)
            *module = v;
        else if (strcmp(a, "--seed") == 0)
            st->seed = strtoull(v, NULL, 0);
        else if (strcmp(a, "--calls") == 0)
            st->target_calls = strtoul(v, NULL, 0);
        else if (strcmp(a, "--setup") == 0)
            st->setup = v;
        else if (strcmp(a, "--guard-rate") == 0)
            st->guard_rate = (unsigned)strtoul(v, NULL, 0);
        else if (strcmp(a, "--null-rate") == 0)
            st->null_rate = (unsigned)strtoul(v, NULL, 0);
        else if (strcmp(a, "--call-timeout") == 0)
            st->call_timeout = (unsigned)strtoul(v, NULL, 0);
        else if (strcmp(a, "--trace-from") == 0) {
            st->trace = 1;
            st->trace_from = strtoul(v, NULL, 0);
        } else
            return -1;
    }
    if (*module == NULL)
        return -1;
    if (st->setup == NULL) {
        static const char *const setups[] = {"user", "user", "token", "none"};
        st->setup = setups[st->seed % 4];
    }
    if (strcmp(st->setup, "none") != 0 && strcmp(st->setup, "token") != 0 &&
        strcmp(st->setup, "user") != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    static fz_state state;
    fz_state *st = &state;
    const char *module = NULL;
    fz_token *t;

    if (argc == 2 && strcmp(argv[1], "--list-rv") == 0)
        return fz_rv_table_print();
    st->target_calls = 10000;
    st->guard_rate = 200;
    st->null_rate = 8;
    st->call_timeout = 120;
    st->current_fn = -1;
    st->last_fn = -1;
    if (fz_parse(st, argc, argv, &module) != 0)
        return fz_usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    fz_g = st;
    fz_install_handlers();
    if (fz_private_home() != 0)
        return 2;
    fz_rng_seed(&st->r, st->seed, 0);
    if (fz_load(st, module) != 0)
        return 2;
    if (fz_initialize(st, 1) != CKR_OK) {
        fprintf(stderr, "p11fuzz: C_Initialize failed\n");
        return 2;
    }
    printf("p11fuzz seed %lu calls %lu setup %s\n", (unsigned long)st->seed, st->target_calls,
           st->setup);
    if (strcmp(st->setup, "none") != 0 && st->nslots > 0) {
        if (st->ntokens == 0) {
            st->ntokens = 1;
            memset(&st->tokens[0], 0, sizeof(st->tokens[0]));
            st->tokens[0].slot = st->slots[0];
        }
        t = &st->tokens[0];
        fz_setup_token(st, t, strcmp(st->setup, "user") == 0);
    }
    fz_free_step(st);
    while (st->calls < st->target_calls) {
        st->step++;
        fz_rng_seed(&st->r, st->seed, st->step);
        if (!st->initialized && fz_chance(&st->r, 800))
            fz_initialize(st, 0);
        else if (fz_chance(&st->r, 330))
            fz_flow(st);
        else
            fz_random_call(st);
        fz_free_step(st);
    }
    if (st->initialized) {
        fz_note(st, "C_Finalize(NULL)");
        CALL(st, C_Finalize, NULL);
    }
    fz_summary(st);
    return st->general_errors || st->undefined_rvs || st->anomalies ? 1 : 0;
}
