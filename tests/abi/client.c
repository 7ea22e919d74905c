/* A minimal PKCS #11 host used by tests/abi: loads a module the way p11-kit does
 * (dlopen RTLD_LOCAL|RTLD_NOW) and prints "key=value" lines the tests assert on.
 *
 *   client MODULE basic     C_GetFunctionList .. C_Initialize .. C_GenerateRandom .. C_Finalize
 *   client MODULE fork      fork 20 times while a thread is inside the module
 *   client MODULE dlclose   initialize, finalize, dlclose, reopen, dlclose, exit
 *   client MODULE broken    the module cannot start Python: every call gives an error
 *   client MODULE iface     C_GetInterfaceList / C_GetInterface
 *   client MODULE two COPY  two copies of the module in one process, each its own library
 *   client MODULE threads   8 threads make the first calls at once, then call concurrently
 *
 * Every mode arms alarm(): a deadlock kills the process with SIGALRM.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11_v240.h"

#define CKR_OK 0x0UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_ARGUMENTS_BAD 0x7UL
#define CKR_BUFFER_TOO_SMALL 0x150UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKF_TOKEN_INITIALIZED 0x400UL

typedef CK_RV (*get_function_list_fn)(CK_FUNCTION_LIST_PTR_PTR);
typedef CK_RV (*get_interface_list_fn)(CK_INTERFACE_PTR, CK_ULONG_PTR);
typedef CK_RV (*get_interface_fn)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);

static CK_FUNCTION_LIST_PTR load(const char *path, void **handle)
{
    CK_FUNCTION_LIST_PTR list = NULL;
    get_function_list_fn get;
    CK_RV rv;

    *handle = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    if (*handle == NULL) {
        printf("dlopen=error %s\n", dlerror());
        exit(2);
    }
    get = (get_function_list_fn)dlsym(*handle, "C_GetFunctionList");
    if (get == NULL) {
        printf("dlsym=error\n");
        exit(2);
    }
    rv = get(&list);
    printf("C_GetFunctionList=0x%lx\n", rv);
    if (rv != CKR_OK || list == NULL)
        exit(2);
    printf("version=%d.%d\n", list->version.major, list->version.minor);
    return list;
}

static CK_RV initialize(CK_FUNCTION_LIST_PTR p11)
{
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    return p11->C_Initialize(&args);
}

/* Initialize the token in `slot` unless it already is (sessions need a recognized token). */
static int ensure_token(CK_FUNCTION_LIST_PTR p11, CK_SLOT_ID slot, const char *tag)
{
    CK_TOKEN_INFO info;
    CK_UTF8CHAR label[32];
    const char *pin = "abi-test-so-pin";
    CK_RV rv;

    rv = p11->C_GetTokenInfo(slot, &info);
    if (rv != CKR_OK) {
        printf("%sC_GetTokenInfo=0x%lx\n", tag, rv);
        return 1;
    }
    if (info.flags & CKF_TOKEN_INITIALIZED)
        return 0;
    memset(label, ' ', sizeof(label));
    memcpy(label, "abi-test", 8);
    rv = p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)pin, strlen(pin), label);
    printf("%sC_InitToken=0x%lx\n", tag, rv);
    return rv == CKR_OK ? 0 : 1;
}

/* Open a session on the first slot and draw random bytes; prints what it sees. */
static int exercise(CK_FUNCTION_LIST_PTR p11, const char *tag)
{
    CK_SLOT_ID slots[16];
    CK_ULONG count = 0;
    CK_SESSION_HANDLE session = 0;
    CK_BYTE random[16];
    CK_RV rv;
    int i;

    rv = p11->C_GetSlotList(0, NULL, &count);
    printf("%sC_GetSlotList=0x%lx slots=%lu\n", tag, rv, count);
    if (rv != CKR_OK || count == 0)
        return 1;
    if (count > 16)
        count = 16;
    rv = p11->C_GetSlotList(0, slots, &count);
    if (rv != CKR_OK)
        return 1;
    if (ensure_token(p11, slots[0], tag) != 0)
        return 1;
    rv = p11->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &session);
    printf("%sC_OpenSession=0x%lx\n", tag, rv);
    if (rv != CKR_OK)
        return 1;
    memset(random, 0, sizeof(random));
    rv = p11->C_GenerateRandom(session, random, sizeof(random));
    printf("%sC_GenerateRandom=0x%lx random=", tag, rv);
    for (i = 0; i < (int)sizeof(random); i++)
        printf("%02x", random[i]);
    printf("\n");
    rv = p11->C_CloseSession(session);
    printf("%sC_CloseSession=0x%lx\n", tag, rv);
    return rv == CKR_OK ? 0 : 1;
}

/* Which shared objects from a site-packages directory this process mapped (the embedded
   interpreter's extension modules show where it imported packages from). */
static void report_site_packages(void)
{
    char line[4096], last[4096] = "";
    FILE *maps = fopen("/proc/self/maps", "r");
    char *path;

    if (maps == NULL)
        return;
    while (fgets(line, sizeof(line), maps) != NULL) {
        path = strchr(line, '/');
        if (path == NULL || strstr(path, "site-packages") == NULL)
            continue;
        path[strcspn(path, "\n")] = '\0';
        if (strcmp(path, last) == 0)
            continue;
        snprintf(last, sizeof(last), "%s", path);
        if (strstr(path, "/_cffi_backend") != NULL)
            printf("cffi_backend=%s\n", path);
        printf("mapped=%s\n", path);
    }
    fclose(maps);
}

static int mode_basic(CK_FUNCTION_LIST_PTR p11)
{
    CK_INFO info;
    CK_RV rv;

    rv = initialize(p11);
    printf("C_Initialize=0x%lx\n", rv);
    rv = p11->C_GetInfo(&info);
    printf("C_GetInfo=0x%lx\n", rv);
    if (rv == CKR_OK) {
        printf("cryptoki=%d.%d\n", info.cryptokiVersion.major, info.cryptokiVersion.minor);
        printf("manufacturer=%.32s|\n", (const char *)info.manufacturerID);
        printf("description=%.32s|\n", (const char *)info.libraryDescription);
    }
    exercise(p11, "");
    report_site_packages();
    rv = p11->C_Finalize(NULL);
    printf("C_Finalize=0x%lx\n", rv);
    rv = p11->C_GetInfo(&info);
    printf("after_finalize=0x%lx\n", rv);
    return 0;
}

/* ---- fork while another thread is inside the module ---- */

static volatile int stop_worker = 0;
static volatile unsigned long worker_calls = 0;

static void *worker(void *arg)
{
    CK_FUNCTION_LIST_PTR p11 = (CK_FUNCTION_LIST_PTR)arg;
    CK_INFO info;
    CK_SLOT_ID slots[4];
    CK_ULONG count;
    while (!stop_worker) {
        count = 4;
        p11->C_GetInfo(&info);
        p11->C_GetSlotList(0, slots, &count);
        worker_calls++;
    }
    return NULL;
}

static int child_checks(CK_FUNCTION_LIST_PTR p11)
{
    CK_INFO info;
    CK_RV rv;

    alarm(20);
    rv = p11->C_GetInfo(&info);
    if (rv != CKR_CRYPTOKI_NOT_INITIALIZED) {
        printf("child: C_GetInfo before C_Initialize=0x%lx\n", rv);
        return 3;
    }
    rv = initialize(p11);
    if (rv != CKR_OK) {
        printf("child: C_Initialize=0x%lx\n", rv);
        return 4;
    }
    if (exercise(p11, "child: ") != 0)
        return 5;
    rv = p11->C_Finalize(NULL);
    if (rv != CKR_OK) {
        printf("child: C_Finalize=0x%lx\n", rv);
        return 6;
    }
    return 0;
}

static int mode_fork(CK_FUNCTION_LIST_PTR p11, int forks)
{
    pthread_t thread;
    int i, ok = 0, hung = 0, failed = 0, status;
    pid_t pid;
    CK_RV rv;

    rv = initialize(p11);
    printf("C_Initialize=0x%lx\n", rv);
    if (rv != CKR_OK)
        return 1;
    pthread_create(&thread, NULL, worker, p11);
    while (worker_calls < 5)
        usleep(1000);
    for (i = 0; i < forks; i++) {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            /* child: stdout lines only on failure, keep the parent's buffer out */
            _exit(child_checks(p11));
        }
        if (waitpid(pid, &status, 0) < 0) {
            failed++;
            continue;
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            hung++;
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else {
            failed++;
            printf("child_status=%d\n", status);
        }
        usleep(2000);
    }
    stop_worker = 1;
    pthread_join(thread, NULL);
    printf("forks=%d ok=%d hung=%d failed=%d worker_calls_nonzero=%d\n", forks, ok, hung, failed,
           worker_calls > 0);
    rv = exercise(p11, "parent: ");
    rv = p11->C_Finalize(NULL);
    printf("C_Finalize=0x%lx\n", rv);
    return 0;
}

static int mode_dlclose(const char *path)
{
    void *handle;
    CK_FUNCTION_LIST_PTR p11 = load(path, &handle);
    CK_RV rv;

    rv = initialize(p11);
    printf("C_Initialize=0x%lx\n", rv);
    rv = p11->C_Finalize(NULL);
    printf("C_Finalize=0x%lx\n", rv);
    printf("dlclose=%d\n", dlclose(handle));
    p11 = load(path, &handle);
    rv = initialize(p11);
    printf("reopen_C_Initialize=0x%lx\n", rv);
    rv = p11->C_Finalize(NULL);
    printf("reopen_C_Finalize=0x%lx\n", rv);
    printf("dlclose=%d\n", dlclose(handle));
    printf("exiting\n");
    fflush(stdout);
    return 0;
}

/* Every entry point of a module that cannot start Python must fail, never return 0. The
   wrappers return before reading their arguments, so each is called through a generic
   pointer type with zero arguments (x86-64 / AArch64 calling conventions pass them in
   registers; the callee ignores them). */
typedef CK_RV (*any_fn)(CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG, CK_ULONG,
                        CK_ULONG);

static int mode_broken(CK_FUNCTION_LIST_PTR p11)
{
    void **entries = (void **)((char *)p11 + offsetof(CK_FUNCTION_LIST, C_Initialize));
    CK_FUNCTION_LIST_PTR again = NULL;
    int i, zero = 0, general = 0, other = 0;
    CK_RV rv;

    rv = p11->C_Initialize(NULL);
    printf("C_Initialize=0x%lx\n", rv);
    for (i = 0; i < 68; i++) {
        if ((void *)entries[i] == (void *)p11->C_GetFunctionList)
            continue;
        rv = ((any_fn)entries[i])(0, 0, 0, 0, 0, 0, 0, 0);
        if (rv == CKR_OK)
            zero++;
        else if (rv == CKR_GENERAL_ERROR)
            general++;
        else
            other++;
    }
    printf("entries_ok=%d entries_general_error=%d entries_other=%d\n", zero, general, other);
    rv = p11->C_GetFunctionList(&again);
    printf("C_GetFunctionList_again=0x%lx same=%d\n", rv, again == p11);
    return 0;
}

static int mode_iface(void *handle, CK_FUNCTION_LIST_PTR p11)
{
    get_interface_list_fn list_fn = (get_interface_list_fn)dlsym(handle, "C_GetInterfaceList");
    get_interface_fn get_fn = (get_interface_fn)dlsym(handle, "C_GetInterface");
    CK_INTERFACE ifaces[4];
    CK_INTERFACE_PTR iface = NULL;
    CK_VERSION v240 = {2, 40}, v30 = {3, 0}, v32 = {3, 2}, v31 = {3, 1};
    CK_ULONG count = 0, i;
    CK_RV rv;

    if (list_fn == NULL || get_fn == NULL) {
        printf("iface_symbols=missing\n");
        return 1;
    }
    rv = list_fn(NULL, &count);
    printf("list_count=0x%lx %lu\n", rv, count);
    count = 2;
    rv = list_fn(ifaces, &count);
    printf("list_short=0x%lx %lu\n", rv, count);
    count = 4;
    rv = list_fn(ifaces, &count);
    printf("list=0x%lx %lu\n", rv, count);
    for (i = 0; rv == CKR_OK && i < count; i++)
        printf("iface%lu name=%s version=%u.%u flags=0x%lx same240=%d\n", i,
               (char *)ifaces[i].pInterfaceName,
               ((CK_VERSION *)ifaces[i].pFunctionList)->major,
               ((CK_VERSION *)ifaces[i].pFunctionList)->minor, ifaces[i].flags,
               ifaces[i].pFunctionList == (void *)p11);
    printf("list_null_count=0x%lx\n", list_fn(ifaces, NULL));
    rv = get_fn((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &iface, 0);
    printf("get_240=0x%lx same=%d\n", rv, iface != NULL && iface->pFunctionList == (void *)p11);
    iface = NULL;
    rv = get_fn(NULL, NULL, &iface, 0);
    printf("get_default=0x%lx same=%d list0=%d\n", rv,
           iface != NULL && iface->pFunctionList == (void *)p11,
           iface != NULL && iface->pFunctionList == ifaces[0].pFunctionList);
    iface = NULL;
    rv = get_fn((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0);
    printf("get_30=0x%lx list1=%d\n", rv, iface != NULL && iface->pFunctionList == ifaces[1].pFunctionList);
    iface = NULL;
    rv = get_fn(NULL, &v32, &iface, 0);
    printf("get_32=0x%lx list0=%d\n", rv, iface != NULL && iface->pFunctionList == ifaces[0].pFunctionList);
    printf("get_31=0x%lx\n", get_fn((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &iface, 0));
    printf("get_unknown=0x%lx\n", get_fn((CK_UTF8CHAR_PTR) "Vendor X", NULL, &iface, 0));
    printf("get_flags=0x%lx\n", get_fn(NULL, NULL, &iface, 1));
    printf("get_null=0x%lx\n", get_fn(NULL, NULL, NULL, 0));
    return 0;
}

#define RACERS 8
static CK_FUNCTION_LIST_PTR racer_list;
static pthread_barrier_t racer_start, racer_initialized;
static volatile int racer_first[RACERS];
static int racer_ok[RACERS];

static void *racer(void *arg)
{
    int id = (int)(long)arg, i;
    CK_INFO info;
    CK_SLOT_ID slots[8];
    CK_ULONG count;

    pthread_barrier_wait(&racer_start);
    racer_first[id] = (int)racer_list->C_GetInfo(&info); /* starts Python, concurrently */
    pthread_barrier_wait(&racer_initialized);
    for (i = 0; i < 200; i++) {
        count = 8;
        if (racer_list->C_GetSlotList(0, slots, &count) == CKR_OK &&
            racer_list->C_GetInfo(&info) == CKR_OK)
            racer_ok[id]++;
    }
    return NULL;
}

static int mode_threads(CK_FUNCTION_LIST_PTR p11)
{
    pthread_t threads[RACERS];
    int i, first_not_initialized = 0, ok = 0;

    racer_list = p11;
    pthread_barrier_init(&racer_start, NULL, RACERS);
    pthread_barrier_init(&racer_initialized, NULL, RACERS + 1);
    for (i = 0; i < RACERS; i++)
        pthread_create(&threads[i], NULL, racer, (void *)(long)i);
    /* the racers' first calls find the library not initialized; then main initializes */
    for (i = 0; i < 100 && first_not_initialized < RACERS; i++) {
        int j, n = 0;
        usleep(50000);
        for (j = 0; j < RACERS; j++)
            n += racer_first[j] != 0;
        first_not_initialized = n;
    }
    printf("C_Initialize=0x%lx\n", initialize(p11));
    pthread_barrier_wait(&racer_initialized);
    for (i = 0; i < RACERS; i++)
        pthread_join(threads[i], NULL);
    first_not_initialized = 0;
    for (i = 0; i < RACERS; i++) {
        first_not_initialized += racer_first[i] == (int)CKR_CRYPTOKI_NOT_INITIALIZED;
        ok += racer_ok[i];
    }
    printf("first_not_initialized=%d calls_ok=%d\n", first_not_initialized, ok);
    printf("C_Finalize=0x%lx\n", p11->C_Finalize(NULL));
    return 0;
}

static int mode_two(CK_FUNCTION_LIST_PTR first, const char *second_path)
{
    void *handle;
    CK_FUNCTION_LIST_PTR second = load(second_path, &handle);
    CK_INFO info;

    printf("first_C_Initialize=0x%lx\n", initialize(first));
    printf("second_C_GetInfo=0x%lx\n", second->C_GetInfo(&info));
    printf("second_C_Initialize=0x%lx\n", initialize(second));
    printf("second_C_GetInfo_after=0x%lx\n", second->C_GetInfo(&info));
    printf("second_exercise=%d\n", exercise(second, "second: "));
    printf("first_C_Finalize=0x%lx\n", first->C_Finalize(NULL));
    printf("second_still=0x%lx\n", second->C_GetInfo(&info));
    printf("second_C_Finalize=0x%lx\n", second->C_Finalize(NULL));
    return 0;
}

int main(int argc, char **argv)
{
    void *handle;
    CK_FUNCTION_LIST_PTR p11;
    const char *mode;
    int rc;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MODULE MODE\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mode = argv[2];
    alarm(120);
    if (strcmp(mode, "dlclose") == 0)
        return mode_dlclose(argv[1]);
    p11 = load(argv[1], &handle);
    if (strcmp(mode, "basic") == 0)
        rc = mode_basic(p11);
    else if (strcmp(mode, "fork") == 0)
        rc = mode_fork(p11, argc > 3 ? atoi(argv[3]) : 20);
    else if (strcmp(mode, "broken") == 0)
        rc = mode_broken(p11);
    else if (strcmp(mode, "threads") == 0)
        rc = mode_threads(p11);
    else if (strcmp(mode, "two") == 0 && argc > 3)
        rc = mode_two(p11, argv[3]);
    else if (strcmp(mode, "iface") == 0)
        rc = mode_iface(handle, p11);
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        rc = 2;
    }
    fflush(stdout);
    return rc;
}
