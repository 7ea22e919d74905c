/* p11bench.h: what p11bench.c and p11bench_runs.c share. Self-contained: the few PKCS #11
 * v2.40 types and constants p11bench uses are declared here, so it builds with nothing but
 * gcc, libc and pthreads.
 */
#ifndef P11BENCH_H
#define P11BENCH_H

#include <stddef.h>

/* ---- the PKCS #11 v2.40 types used here (Linux/Unix conventions: no packing) ------------ */

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV, CK_FLAGS, CK_SLOT_ID, CK_SESSION_HANDLE, CK_OBJECT_HANDLE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_USER_TYPE, CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef unsigned char CK_BYTE, CK_BBOOL, CK_UTF8CHAR;

typedef struct { CK_BYTE major, minor; } CK_VERSION;

typedef struct {
    CK_VERSION cryptokiVersion;
    CK_UTF8CHAR manufacturerID[32];
    CK_FLAGS flags;
    CK_UTF8CHAR libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;

typedef struct {
    CK_UTF8CHAR label[32];
    CK_UTF8CHAR manufacturerID[32];
    CK_UTF8CHAR model[16];
    CK_BYTE serialNumber[16];
    CK_FLAGS flags;
    CK_ULONG ulMaxSessionCount, ulSessionCount, ulMaxRwSessionCount, ulRwSessionCount;
    CK_ULONG ulMaxPinLen, ulMinPinLen;
    CK_ULONG ulTotalPublicMemory, ulFreePublicMemory, ulTotalPrivateMemory, ulFreePrivateMemory;
    CK_VERSION hardwareVersion, firmwareVersion;
    CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct {
    CK_ATTRIBUTE_TYPE type;
    void *pValue;
    CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

typedef struct {
    CK_MECHANISM_TYPE mechanism;
    void *pParameter;
    CK_ULONG ulParameterLen;
} CK_MECHANISM;

typedef struct {
    void *CreateMutex, *DestroyMutex, *LockMutex, *UnlockMutex;
    CK_FLAGS flags;
    void *pReserved;
} CK_C_INITIALIZE_ARGS;

typedef CK_SESSION_HANDLE SH;
typedef CK_OBJECT_HANDLE OH;

/* The function list in v2.40 order (68 entries); entries this program never calls are
 * plain pointers (same size and position). */
typedef struct {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *);
    CK_RV (*C_Finalize)(void *);
    CK_RV (*C_GetInfo)(CK_INFO *);
    void *C_GetFunctionList;
    CK_RV (*C_GetSlotList)(CK_BBOOL, CK_SLOT_ID *, CK_ULONG *);
    void *C_GetSlotInfo;
    CK_RV (*C_GetTokenInfo)(CK_SLOT_ID, CK_TOKEN_INFO *);
    void *C_GetMechanismList, *C_GetMechanismInfo;
    CK_RV (*C_InitToken)(CK_SLOT_ID, CK_UTF8CHAR *, CK_ULONG, CK_UTF8CHAR *);
    CK_RV (*C_InitPIN)(SH, CK_UTF8CHAR *, CK_ULONG);
    void *C_SetPIN;
    CK_RV (*C_OpenSession)(CK_SLOT_ID, CK_FLAGS, void *, void *, SH *);
    CK_RV (*C_CloseSession)(SH);
    void *C_CloseAllSessions;
    CK_RV (*C_GetSessionInfo)(SH, void *);
    void *C_GetOperationState, *C_SetOperationState;
    CK_RV (*C_Login)(SH, CK_USER_TYPE, CK_UTF8CHAR *, CK_ULONG);
    CK_RV (*C_Logout)(SH);
    CK_RV (*C_CreateObject)(SH, CK_ATTRIBUTE *, CK_ULONG, OH *);
    void *C_CopyObject;
    CK_RV (*C_DestroyObject)(SH, OH);
    void *C_GetObjectSize;
    CK_RV (*C_GetAttributeValue)(SH, OH, CK_ATTRIBUTE *, CK_ULONG);
    void *C_SetAttributeValue;
    CK_RV (*C_FindObjectsInit)(SH, CK_ATTRIBUTE *, CK_ULONG);
    CK_RV (*C_FindObjects)(SH, OH *, CK_ULONG, CK_ULONG *);
    CK_RV (*C_FindObjectsFinal)(SH);
    void *C_EncryptInit, *C_Encrypt, *C_EncryptUpdate, *C_EncryptFinal;
    void *C_DecryptInit, *C_Decrypt, *C_DecryptUpdate, *C_DecryptFinal;
    CK_RV (*C_DigestInit)(SH, CK_MECHANISM *);
    CK_RV (*C_Digest)(SH, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_DigestUpdate, *C_DigestKey, *C_DigestFinal;
    CK_RV (*C_SignInit)(SH, CK_MECHANISM *, OH);
    CK_RV (*C_Sign)(SH, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
    void *C_SignUpdate, *C_SignFinal, *C_SignRecoverInit, *C_SignRecover;
    CK_RV (*C_VerifyInit)(SH, CK_MECHANISM *, OH);
    CK_RV (*C_Verify)(SH, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG);
    void *C_VerifyUpdate, *C_VerifyFinal, *C_VerifyRecoverInit, *C_VerifyRecover;
    void *C_DigestEncryptUpdate, *C_DecryptDigestUpdate;
    void *C_SignEncryptUpdate, *C_DecryptVerifyUpdate;
    void *C_GenerateKey;
    CK_RV (*C_GenerateKeyPair)(SH, CK_MECHANISM *, CK_ATTRIBUTE *, CK_ULONG, CK_ATTRIBUTE *,
                               CK_ULONG, OH *, OH *);
    void *C_WrapKey, *C_UnwrapKey, *C_DeriveKey, *C_SeedRandom;
    CK_RV (*C_GenerateRandom)(SH, CK_BYTE *, CK_ULONG);
    void *C_GetFunctionStatus, *C_CancelFunction, *C_WaitForSlotEvent;
} CK_FUNCTION_LIST;

_Static_assert(offsetof(CK_FUNCTION_LIST, C_WaitForSlotEvent) ==
                   offsetof(CK_FUNCTION_LIST, C_Initialize) + 67 * sizeof(void *),
               "CK_FUNCTION_LIST must have 68 entries");

typedef CK_RV (*get_function_list_fn)(CK_FUNCTION_LIST **);

#define CKR_OK 0x0UL
#define CKR_SIGNATURE_INVALID 0xC0UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKF_USER_PIN_INITIALIZED 0x8UL
#define CKF_TOKEN_INITIALIZED 0x400UL
#define CKU_SO 0UL
#define CKU_USER 1UL
#define CKO_DATA 0UL
#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_APPLICATION 0x10UL
#define CKA_VALUE 0x11UL
#define CKA_SENSITIVE 0x103UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_EC_PARAMS 0x180UL
#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x0UL
#define CKM_SHA256_RSA_PKCS 0x40UL
#define CKM_SHA256 0x250UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_ECDSA 0x1041UL

/* ---- shared by the two files (defined in p11bench.c) ------------------------------------- */

extern CK_FUNCTION_LIST *p11;
extern SH session;          /* the main session, logged in as user */
extern CK_SLOT_ID slot_id;  /* the slot of the benchmarked token */
extern CK_BBOOL ck_true, ck_false;

void die(const char *fmt, const char *arg);
void check(CK_RV rv, const char *call);
double now(void);
CK_SLOT_ID *slot_list(CK_ULONG *count); /* the slots with a token present (caller frees) */

/* CK(f->C_Sign, (args)) calls the function and aborts with its name on any CK_RV but OK. */
#define CK(fn, args) check(fn args, #fn)

/* ---- p11bench_runs.c ----------------------------------------------------------------------- */

/* `op` on `threads` threads at once, each on a session of its own; prints a result line. */
void run_threads(const char *name, void (*op)(SH), unsigned long threads, double seconds,
                 double warmup);
/* C_FindObjects (10 handles a call) over n matching session objects; prints a result line. */
void run_find(const char *name, CK_ULONG n, double seconds, double warmup);
/* Closes the session holding the objects run_find made (which destroys them). */
void close_find_session(void);
/* p11bench --init-time: dlopen, C_Initialize, slot list, C_Finalize timed in this process. */
void init_time(const char *path);

#endif
