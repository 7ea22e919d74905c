/* A deliberately broken PKCS #11 module, to show that p11fuzz notices what it must notice
 * (tests/fuzz/test_fuzz.py). BADMODULE_MODE chooses the fault:
 *
 *   general    C_GetInfo returns CKR_GENERAL_ERROR
 *   undefined  C_GetSessionInfo returns 0x12345, which no PKCS #11 version defines
 *   overflow   C_GenerateRandom writes one byte more than ulRandomLen
 *   crash      C_GetInfo dereferences NULL (SIGSEGV)
 *   hang       C_GetInfo sleeps for 30 s
 *   (unset)    no fault
 *
 * C_Initialize, C_Finalize, C_GetInfo, C_GetSlotList, C_GetSessionInfo and
 * C_GenerateRandom are real (if minimal); every other entry returns
 * CKR_FUNCTION_NOT_SUPPORTED. The stub is called through pointers of the other entries'
 * types: on the Unix ABIs this builds for, a function that ignores its arguments may be
 * called with any (the caller owns the argument area).
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11_v240.h"

#define BAD_EXPORT __attribute__((visibility("default")))
#define CKR_OK 0x0UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_ARGUMENTS_BAD 0x7UL
#define CKR_FUNCTION_NOT_SUPPORTED 0x54UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL

static int bad_initialized;

static int bad_mode(const char *mode)
{
    const char *env = getenv("BADMODULE_MODE");
    return env != NULL && strcmp(env, mode) == 0;
}

static CK_RV bad_stub(void)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV bad_initialize(CK_VOID_PTR args)
{
    (void)args;
    if (bad_initialized)
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    bad_initialized = 1;
    return CKR_OK;
}

static CK_RV bad_finalize(CK_VOID_PTR reserved)
{
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if (!bad_initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    bad_initialized = 0;
    return CKR_OK;
}

static CK_RV bad_get_info(CK_INFO_PTR info)
{
    if (bad_mode("general"))
        return CKR_GENERAL_ERROR;
    if (bad_mode("crash")) {
        volatile CK_RV *nowhere = NULL;
        return *nowhere;
    }
    if (bad_mode("hang"))
        sleep(30);
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(info, ' ', sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    info->flags = 0;
    return CKR_OK;
}

static CK_RV bad_get_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    (void)present;
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    if (list != NULL && *count < 1) {
        *count = 1;
        return 0x150UL; /* CKR_BUFFER_TOO_SMALL */
    }
    if (list != NULL)
        list[0] = 0;
    *count = 1;
    return CKR_OK;
}

static CK_RV bad_get_session_info(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
    (void)s;
    (void)info;
    return bad_mode("undefined") ? 0x12345UL : 0xb3UL; /* CKR_SESSION_HANDLE_INVALID */
}

static CK_RV bad_generate_random(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG len)
{
    (void)s;
    if (out == NULL && len > 0)
        return CKR_ARGUMENTS_BAD;
    if (out != NULL)
        memset(out, 0x42, len + (bad_mode("overflow") ? 1 : 0));
    return CKR_OK;
}

static CK_FUNCTION_LIST bad_list;

BAD_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR pp)
{
    void (**slot)(void);
    size_t i, n;

    if (pp == NULL)
        return CKR_ARGUMENTS_BAD;
    if (bad_list.C_Initialize == NULL) {
        /* every entry after the version is a function pointer: fill them all with the stub */
        slot = (void (**)(void))(void *)&bad_list.C_Initialize;
        n = (sizeof(bad_list) - offsetof(CK_FUNCTION_LIST, C_Initialize)) / sizeof(*slot);
        for (i = 0; i < n; i++)
            slot[i] = (void (*)(void))bad_stub;
        bad_list.version.major = 2;
        bad_list.version.minor = 40;
        bad_list.C_Initialize = bad_initialize;
        bad_list.C_Finalize = bad_finalize;
        bad_list.C_GetInfo = bad_get_info;
        bad_list.C_GetFunctionList = C_GetFunctionList;
        bad_list.C_GetSlotList = bad_get_slot_list;
        bad_list.C_GetSessionInfo = bad_get_session_info;
        bad_list.C_GenerateRandom = bad_generate_random;
    }
    *pp = &bad_list;
    return CKR_OK;
}
