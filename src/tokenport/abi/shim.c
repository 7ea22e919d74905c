/* tokenport: the plain-C part of the PKCS #11 module (compiled into tokenport._pkcs11).
 *
 * build.py assembles the cffi set_source text as: the configuration macros (TP_*), the
 * PKCS #11 header, this file, then the generated C_* wrappers and the function list.
 * cffi has already included Python.h and its embedding support (cffi_start_python()).
 *
 * What lives here, and why it is C:
 *   - a constructor promoting libpython to global symbol visibility (hosts dlopen modules
 *     with RTLD_LOCAL; extension modules such as _cffi_backend need libpython's symbols);
 *   - starting the interpreter ourselves, once, so that the package is found when the host
 *     is not Python and when tokenport lives in a virtual environment;
 *   - pthread_atfork handlers around CPython's fork helpers (a child must never deadlock);
 *   - the call gate every C_* wrapper passes, which a fork closes to wait for the calls in
 *     flight (there is no lock around calls: calls on different sessions run in parallel);
 *   - the call bracket of every C_* wrapper: the GIL and a pause of the cyclic garbage
 *     collector, so that no host finalizer runs inside a call (a Python host shares this
 *     interpreter);
 *   - C_GetFunctionList, C_GetInterfaceList and C_GetInterface (PKCS #11 v2.40 s5.4 and
 *     v3.0 s5.4), which must work even when Python cannot start, and the C_GetInfo entry
 *     of the 3.x lists (it reports the list's version).
 * Everything else is in Python (tokenport.abi.entry).
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TP_EXPORT __attribute__((visibility("default")))

#define TP_CKR_OK 0x0UL
#define TP_CKR_GENERAL_ERROR 0x5UL
#define TP_CKR_ARGUMENTS_BAD 0x7UL
#define TP_CKR_BUFFER_TOO_SMALL 0x150UL

/* ---- libpython visibility ------------------------------------------------------------ */

__attribute__((constructor)) static void tp_promote_libpython(void)
{
    /* RTLD_NOLOAD: only re-open the libpython this module is linked with (already mapped
       as our dependency); RTLD_GLOBAL: make its symbols visible to later dlopens. The
       handle is deliberately never closed. */
    (void)dlopen(TP_LIBPYTHON_SONAME, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
}

/* ---- starting Python -------------------------------------------------------------------- */

static pthread_once_t tp_start_once = PTHREAD_ONCE_INIT;
static int tp_python_ready = 0;       /* 1 once Python runs and tokenport.abi.entry loaded */
static int tp_we_started_python = 0;  /* 1 if this module called Py_InitializeFromConfig */
static int tp_attached = 0;           /* 1 once Python attached every callback of this copy */
static char tp_site_dir[PATH_MAX];    /* the directory holding the tokenport package */

/* Drop the last path component of `path` in place; 0 on success. */
static int tp_dirname(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return -1;
    if (slash == path)
        slash[1] = '\0';
    else
        *slash = '\0';
    return 0;
}

/* The site dir is two levels up from this .so: <site>/tokenport/_pkcs11.so. */
static int tp_locate_site_dir(void)
{
    Dl_info info;
    char resolved[PATH_MAX];

    if (dladdr((void *)&tp_locate_site_dir, &info) == 0 || info.dli_fname == NULL)
        return -1;
    if (realpath(info.dli_fname, resolved) == NULL)
        return -1;
    if (tp_dirname(resolved) != 0 || tp_dirname(resolved) != 0)
        return -1;
    if (strlen(resolved) >= sizeof(tp_site_dir))
        return -1;
    strcpy(tp_site_dir, resolved);
    return 0;
}

/* The interpreter getpath should start from: the venv's bin/python3 when the site dir is
   <venv>/lib/pythonX.Y/site-packages and <venv>/pyvenv.cfg exists, else the base
   interpreter this module was built against. Empty string: let Python decide. */
static void tp_choose_program(char *program, size_t size)
{
    char venv[PATH_MAX];
    char cfg[PATH_MAX + 16];

    program[0] = '\0';
    strcpy(venv, tp_site_dir);
    if (tp_dirname(venv) == 0 && tp_dirname(venv) == 0 && tp_dirname(venv) == 0) {
        snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", venv);
        if (access(cfg, R_OK) == 0) {
            snprintf(program, size, "%s/bin/python3", venv);
            if (access(program, X_OK) == 0)
                return;
        }
    }
    snprintf(program, size, "%s", TP_BASE_PYTHON);
    if (access(program, X_OK) != 0)
        program[0] = '\0';
}

/* With the GIL held: put the site dir on sys.path. When we started Python, run
   site.addsitedir() (.pth files) and make sure the dir comes first if it was absent, so
   this .so imports its own copy of the package; in a Python host only append it. */
static int tp_add_site_dir(int we_started)
{
    PyObject *sys_path, *dir, *site = NULL, *r = NULL;
    int present, rc = -1;

    sys_path = PySys_GetObject("path"); /* borrowed */
    dir = PyUnicode_DecodeFSDefault(tp_site_dir);
    if (sys_path == NULL || dir == NULL || !PyList_Check(sys_path))
        goto done;
    present = PySequence_Contains(sys_path, dir);
    if (present < 0)
        goto done;
    if (present) {
        rc = 0;
        goto done;
    }
    if (!we_started) {
        rc = PyList_Append(sys_path, dir);
        goto done;
    }
    site = PyImport_ImportModule("site");
    if (site == NULL)
        goto done;
    r = PyObject_CallMethod(site, "addsitedir", "O", dir);
    if (r == NULL)
        goto done;
    Py_DECREF(r);
    r = PyObject_CallMethod(sys_path, "remove", "O", dir);
    if (r == NULL)
        PyErr_Clear(); /* addsitedir may have skipped it; insert below anyway */
    rc = PyList_Insert(sys_path, 0, dir);
done:
    if (rc != 0 && PyErr_Occurred())
        PyErr_Print();
    Py_XDECREF(r);
    Py_XDECREF(site);
    Py_XDECREF(dir);
    return rc;
}

/* ---- pausing the cyclic GC during calls ------------------------------------------------

   In a Python host, tokenport runs in the host's interpreter: a garbage collection started by
   an allocation inside a call would run host finalizers (__del__, weakref callbacks of
   garbage) in the middle of the call, and a finalizer that takes a lock the host holds
   around its call deadlocks (PyKCS11's PyKCS11Lib.__del__ with load()'s class lock). So the
   collector is paused from before cffi converts the arguments until the callback has
   returned, and around the first call's start-up (imports): collections that fall due run
   at the host's next allocation after the call.

   Only a Python host has finalizers to hold back: when this module started the interpreter
   (a C host), every Python allocation happens inside a call and a pause would stop the
   collector for good, so there is none.

   The collector is interpreter-wide, so the pause is a count of calls in flight, shared by
   every copy of this module in the interpreter (a capsule in the interpreter's dict), and
   changed only with the GIL held: the first call in disables the collector, the last one
   out re-enables it, and only if it was enabled when the pause began or the host enabled it
   during the pause (gc.enable() from another thread; a call entering then disables it
   again). A host that disabled the collector keeps it disabled. What cannot be seen: a
   gc.disable() from another host thread while calls are in flight (the collector is
   already off); the last call out enables it again. */

#define TP_GC_PAUSE_KEY "tokenport.gc_pause"

struct tp_gc_pause {
    int active;    /* 1 in a Python host (the interpreter was not started by a copy of us) */
    long depth;    /* calls in flight (threads inside a C_* wrapper) */
    int reenable;  /* 1: enable the collector when depth returns to 0 */
};

static struct tp_gc_pause *tp_gc_pause = NULL; /* this interpreter's, once bound */

/* With the GIL held: find or create the interpreter's pause record; 0 on success. */
static int tp_gc_pause_bind(void)
{
    PyObject *dict, *capsule;
    struct tp_gc_pause *pause;

    if (tp_gc_pause != NULL)
        return 0;
    dict = PyInterpreterState_GetDict(PyInterpreterState_Get()); /* borrowed */
    if (dict == NULL)
        return -1;
    capsule = PyDict_GetItemString(dict, TP_GC_PAUSE_KEY); /* borrowed */
    if (capsule != NULL) {
        pause = PyCapsule_GetPointer(capsule, TP_GC_PAUSE_KEY);
        if (pause == NULL) {
            PyErr_Clear();
            return -1;
        }
        tp_gc_pause = pause;
        return 0;
    }
    pause = calloc(1, sizeof(*pause)); /* lives as long as the process */
    if (pause == NULL)
        return -1;
    pause->active = !tp_we_started_python;
    capsule = PyCapsule_New(pause, TP_GC_PAUSE_KEY, NULL);
    if (capsule == NULL || PyDict_SetItemString(dict, TP_GC_PAUSE_KEY, capsule) != 0) {
        Py_XDECREF(capsule);
        free(pause);
        PyErr_Clear();
        return -1;
    }
    Py_DECREF(capsule);
    tp_gc_pause = pause;
    return 0;
}

/* With the GIL held: one more call in flight. */
static void tp_gc_pause_enter(void)
{
    int was_enabled;

    if (!tp_gc_pause->active)
        return;
    was_enabled = PyGC_Disable();
    if (tp_gc_pause->depth++ == 0)
        tp_gc_pause->reenable = was_enabled;
    else if (was_enabled)
        tp_gc_pause->reenable = 1; /* the host enabled it during the pause */
}

/* With the GIL held: one call fewer in flight. */
static void tp_gc_pause_leave(void)
{
    if (!tp_gc_pause->active)
        return;
    if (--tp_gc_pause->depth == 0 && tp_gc_pause->reenable) {
        tp_gc_pause->reenable = 0;
        PyGC_Enable();
    }
}

/* Called from Python (os.register_at_fork after_in_child): the child has only the forking
   thread, which is not inside a call, so no call is in flight any more. cffi releases the
   GIL around calls of C functions: take it back. */
static void tp_gc_pause_after_fork_child(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();

    if (tp_gc_pause != NULL && tp_gc_pause->depth != 0) {
        tp_gc_pause->depth = 0;
        if (tp_gc_pause->reenable) {
            tp_gc_pause->reenable = 0;
            PyGC_Enable();
        }
    }
    PyGILState_Release(gil);
}

/* The bracket of every Python-implemented C_* wrapper (after tp_ensure_python succeeded).
   In a Python host: take the GIL (cffi's callback then takes it again, cheaply) and pause
   the collector; returns 1. In a C host: nothing, returns 0 (cffi keeps a thread state per
   C thread alive between calls; a PyGILState_Ensure/Release pair around the callback would
   create and destroy one on every call of a thread other than the first). */
static int tp_call_enter(PyGILState_STATE *gil)
{
    if (!tp_gc_pause->active) /* fixed once bound: read without the GIL */
        return 0;
    *gil = PyGILState_Ensure();
    tp_gc_pause_enter();
    return 1;
}

static void tp_call_leave(int paused, PyGILState_STATE gil)
{
    if (!paused)
        return;
    tp_gc_pause_leave();
    PyGILState_Release(gil);
}

/* ---- the call gate: a fork waits for the calls in flight ------------------------------

   There is no lock around calls: calls on different sessions run in parallel (the core's
   own fine-grained locks guard shared state). What a fork needs is that no thread is inside
   a call when it happens: such a thread may hold a lock of a C library (sqlite, OpenSSL)
   with the GIL released, and the child would inherit it held. Every call therefore passes a
   gate: entering counts the call in, leaving counts it out. The fork hooks of
   tokenport.abi (os.register_at_fork, run by CPython's fork helpers in a Python host and by
   this module's pthread_atfork handlers in a C host) close the gate and wait until no call
   is in flight, then open it again in the parent; the child starts with an open gate and
   no calls. Closing is called through cffi, which releases the GIL while it waits, so the
   calls in flight can finish.

   A call that re-enters the library on the same thread (a host callback) is counted once:
   the depth is per thread, so it never waits for itself. A fork from inside a call (the
   forking thread is itself counted in) waits only for the others. C_WaitForSlotEvent may
   block and does not pass the gate. */

static pthread_mutex_t tp_gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tp_gate_cond = PTHREAD_COND_INITIALIZER;
static long tp_gate_calls = 0;      /* threads inside a call */
static int tp_gate_closed = 0;      /* forks waiting or in progress */
static __thread long tp_gate_depth = 0;

static void tp_gate_enter(void)
{
    if (tp_gate_depth++ > 0)
        return;
    pthread_mutex_lock(&tp_gate_mutex);
    while (tp_gate_closed)
        pthread_cond_wait(&tp_gate_cond, &tp_gate_mutex);
    tp_gate_calls++;
    pthread_mutex_unlock(&tp_gate_mutex);
}

static void tp_gate_leave(void)
{
    if (--tp_gate_depth > 0)
        return;
    pthread_mutex_lock(&tp_gate_mutex);
    if (--tp_gate_calls == 0 && tp_gate_closed)
        pthread_cond_broadcast(&tp_gate_cond);
    pthread_mutex_unlock(&tp_gate_mutex);
}

/* Before a fork (from Python, GIL released by cffi): close the gate, wait for the others. */
static void tp_gate_close(void)
{
    long own = tp_gate_depth > 0 ? 1 : 0;

    pthread_mutex_lock(&tp_gate_mutex);
    tp_gate_closed++;
    while (tp_gate_calls > own)
        pthread_cond_wait(&tp_gate_cond, &tp_gate_mutex);
    pthread_mutex_unlock(&tp_gate_mutex);
}

/* After a fork, in the parent: let calls in again. */
static void tp_gate_open(void)
{
    pthread_mutex_lock(&tp_gate_mutex);
    if (tp_gate_closed > 0)
        tp_gate_closed--;
    pthread_cond_broadcast(&tp_gate_cond);
    pthread_mutex_unlock(&tp_gate_mutex);
}

/* After a fork, in the child: only the forking thread exists; fresh mutex and condition. */
static void tp_gate_after_fork_child(void)
{
    pthread_mutex_init(&tp_gate_mutex, NULL);
    pthread_cond_init(&tp_gate_cond, NULL);
    tp_gate_closed = 0;
    tp_gate_calls = tp_gate_depth > 0 ? 1 : 0;
}

/* Fork handling (only when we started Python; a Python host's os.fork does this work).
   prepare takes the GIL and runs PyOS_BeforeFork, which also runs the os.register_at_fork
   hooks of tokenport.abi (they wait until no thread is inside a call: such a thread may
   hold a C library's lock with the GIL released); parent/child undo it with CPython's
   helpers. If the forking thread already holds the GIL, the fork comes from Python code,
   which runs CPython's fork helpers itself when they are needed: leave it alone. */
static __thread int tp_fork_held = 0;
static __thread PyGILState_STATE tp_fork_gil;

static void tp_atfork_prepare(void)
{
    tp_fork_held = 0;
    if (!tp_we_started_python || !Py_IsInitialized() || PyGILState_Check())
        return;
    tp_fork_gil = PyGILState_Ensure();
    PyOS_BeforeFork();
    tp_fork_held = 1;
}

static void tp_atfork_parent(void)
{
    if (!tp_fork_held)
        return;
    tp_fork_held = 0;
    PyOS_AfterFork_Parent();
    PyGILState_Release(tp_fork_gil);
}

static void tp_atfork_child(void)
{
    if (!tp_fork_held)
        return;
    tp_fork_held = 0;
    PyOS_AfterFork_Child();
    PyGILState_Release(tp_fork_gil);
}

static int tp_start_interpreter(void)
{
    PyStatus status;
    PyPreConfig preconfig;
    PyConfig config;
    char program[PATH_MAX + 16];
    int rc;

    PyPreConfig_InitPythonConfig(&preconfig);
    preconfig.configure_locale = 0; /* never change the host's locale or environment */
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
        return -1;

    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.configure_c_stdio = 0;
    tp_choose_program(program, sizeof(program));
    if (program[0] != '\0') {
        status = PyConfig_SetBytesString(&config, &config.program_name, program);
        if (PyStatus_Exception(status)) {
            PyConfig_Clear(&config);
            return -1;
        }
    }
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status) || !Py_IsInitialized())
        return -1;

    rc = tp_add_site_dir(1);
    PyEval_SaveThread(); /* release the GIL: every call takes it when it needs it */
    tp_we_started_python = 1;
    if (pthread_atfork(tp_atfork_prepare, tp_atfork_parent, tp_atfork_child) != 0)
        return -1;
    return rc;
}

static void tp_start_python_once(void)
{
    PyGILState_STATE gil;
    int rc = 0, started;

    if (tp_locate_site_dir() != 0) {
        fprintf(stderr, "tokenport: cannot locate the tokenport package directory\n");
        return;
    }
    if (!Py_IsInitialized() && tp_start_interpreter() != 0) {
        fprintf(stderr, "tokenport: the Python interpreter failed to start\n");
        return;
    }
    /* The first call imports the whole package: in a Python host, pause the collector
       (see tp_gc_pause) from here until the init code has run. */
    gil = PyGILState_Ensure();
    if (tp_gc_pause_bind() != 0) {
        PyGILState_Release(gil);
        fprintf(stderr, "tokenport: cannot set up the garbage collector pause\n");
        return;
    }
    tp_gc_pause_enter();
    if (!tp_we_started_python)
        rc = tp_add_site_dir(0);
    PyGILState_Release(gil);
    /* cffi imports _cffi_backend, builds this module and runs the init code, which imports
       tokenport.abi.entry and attaches every callback to this copy (or raises). Success
       also needs the attach to have reached this copy: a callback left unattached would
       return 0 (CKR_OK), e.g. for a second copy of the module in the same interpreter. */
    started = rc == 0 && cffi_start_python() == 0;
    gil = PyGILState_Ensure();
    tp_gc_pause_leave();
    PyGILState_Release(gil);
    if (rc != 0)
        return;
    tp_python_ready = started && tp_attached;
    if (!tp_python_ready)
        fprintf(stderr, "tokenport: the PKCS #11 module failed to load its Python code\n");
}

/* Called from Python (lib.tp_mark_attached) once every callback of this copy is attached. */
static void tp_mark_attached(void)
{
    tp_attached = 1;
}

/* 1 when Python is up and the package loaded; every C_* wrapper checks this first. */
static int tp_ensure_python(void)
{
    if (pthread_once(&tp_start_once, tp_start_python_once) != 0)
        return 0;
    return tp_python_ready;
}

/* ---- entry points that work without Python -------------------------------------------- */

/* The three function tables (defined by the generated code below, abi/functions.py
   INTERFACES): v2.40 (C_GetFunctionList), 3.0 and 3.2. */
static CK_FUNCTION_LIST tp_function_list;
static CK_FUNCTION_LIST_3_0 tp_function_list_3_0;
static CK_FUNCTION_LIST_3_2 tp_function_list_3_2;

TP_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo); /* generated below */

/* C_GetInfo as reached through a 3.x list: CK_INFO.cryptokiVersion is "the Cryptoki
   interface version number" (v3.0 s3.1), i.e. the version of the interface the caller uses;
   the exported C_GetInfo (and the v2.40 list) report 2.40. */
static CK_RV tp_C_GetInfo_versioned(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor)
{
    CK_RV rv = C_GetInfo(pInfo);

    if (rv == TP_CKR_OK) {
        pInfo->cryptokiVersion.major = major;
        pInfo->cryptokiVersion.minor = minor;
    }
    return rv;
}

static CK_RV tp_C_GetInfo_3_0(CK_INFO_PTR pInfo)
{
    return tp_C_GetInfo_versioned(pInfo, 3, 0);
}

static CK_RV tp_C_GetInfo_3_2(CK_INFO_PTR pInfo)
{
    return tp_C_GetInfo_versioned(pInfo, 3, 2);
}

/* C_GetInterfaceList's order: newest first; the first is the default interface of
   C_GetInterface (abi/functions.py INTERFACES says why). No interface offers
   CKF_INTERFACE_FORK_SAFE: a forked child must call C_Initialize again (v2.40 s6.7.1). */
#define TP_INTERFACE_COUNT 3UL
static CK_INTERFACE tp_interfaces[TP_INTERFACE_COUNT] = {
    {(CK_CHAR *)TP_INTERFACE_NAME, (CK_VOID_PTR)&tp_function_list_3_2, 0},
    {(CK_CHAR *)TP_INTERFACE_NAME, (CK_VOID_PTR)&tp_function_list_3_0, 0},
    {(CK_CHAR *)TP_INTERFACE_NAME, (CK_VOID_PTR)&tp_function_list, 0},
};

/* PKCS #11 v2.40 s5.4: C_GetFunctionList (the v2.40 list). */
TP_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return TP_CKR_ARGUMENTS_BAD;
    *ppFunctionList = &tp_function_list;
    return TP_CKR_OK;
}

/* PKCS #11 v3.0 s5.4: C_GetInterfaceList, with the counted-list convention (s5.2): NULL
   list -> the count; too short a list -> CKR_BUFFER_TOO_SMALL and the count. */
TP_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    CK_ULONG i;

    if (pulCount == NULL)
        return TP_CKR_ARGUMENTS_BAD;
    if (pInterfacesList == NULL) {
        *pulCount = TP_INTERFACE_COUNT;
        return TP_CKR_OK;
    }
    if (*pulCount < TP_INTERFACE_COUNT) {
        *pulCount = TP_INTERFACE_COUNT;
        return TP_CKR_BUFFER_TOO_SMALL;
    }
    for (i = 0; i < TP_INTERFACE_COUNT; i++)
        pInterfacesList[i] = tp_interfaces[i];
    *pulCount = TP_INTERFACE_COUNT;
    return TP_CKR_OK;
}

/* PKCS #11 v3.0 s5.4: C_GetInterface. The first interface of the list (in list order)
   whose name is pInterfaceName (any name when NULL: the default interface), whose version
   is *pVersion (any when NULL) and which has every flag in `flags`; none ->
   CKR_ARGUMENTS_BAD (an unknown name, version or flag). */
TP_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    CK_ULONG i;
    const CK_VERSION *version;

    if (ppInterface == NULL)
        return TP_CKR_ARGUMENTS_BAD;
    for (i = 0; i < TP_INTERFACE_COUNT; i++) {
        version = (const CK_VERSION *)tp_interfaces[i].pFunctionList; /* first member */
        if (pInterfaceName != NULL &&
            strcmp((const char *)pInterfaceName, (const char *)tp_interfaces[i].pInterfaceName) != 0)
            continue;
        if (pVersion != NULL &&
            (pVersion->major != version->major || pVersion->minor != version->minor))
            continue;
        if ((flags & tp_interfaces[i].flags) != flags)
            continue;
        *ppInterface = &tp_interfaces[i];
        return TP_CKR_OK;
    }
    return TP_CKR_ARGUMENTS_BAD;
}
