/* A deliberately broken PKCS #11 module, to prove that the qualification suite can fail.
 *
 * It forwards every call to the real module named by QUALIFY_BROKEN_TARGET (its function
 * list is copied) and, depending on QUALIFY_BROKEN_MODE, corrupts exactly one thing:
 *
 *   getfunctionlist-null  C_GetFunctionList(NULL) returns CKR_OK instead of CKR_ARGUMENTS_BAD
 *   sign-bitflip          every signature or MAC C_Sign returns has one bit flipped
 *   digest-wrong          every digest C_Digest / C_DigestFinal returns has one bit flipped
 *   verify-always-ok      C_Verify turns CKR_SIGNATURE_INVALID into CKR_OK
 *   sensitive-ok          C_GetAttributeValue turns CKR_ATTRIBUTE_SENSITIVE into CKR_OK
 *   (anything else)       a faithful pass-through
 *
 * Only what the double needs of the PKCS #11 ABI is declared here (Unix conventions:
 * CK_ULONG is unsigned long, default packing; the function list is a CK_VERSION followed by
 * the 68 function pointers of v2.40).
 *
 * Build: gcc -shared -fPIC -o broken.so broken_module.c -ldl
 */

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef unsigned char CK_BYTE;

typedef struct {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;

#define FUNCTION_COUNT 68

typedef struct {
    CK_VERSION version;
    void *entry[FUNCTION_COUNT];
} FUNCTION_LIST;

/* Positions in the v2.40 function list. */
enum {
    AT_GET_FUNCTION_LIST = 3,
    AT_GET_ATTRIBUTE_VALUE = 24,
    AT_DIGEST = 38,
    AT_DIGEST_FINAL = 41,
    AT_SIGN = 43,
    AT_VERIFY = 49,
};

#define CKR_OK 0x000UL
#define CKR_GENERAL_ERROR 0x005UL
#define CKR_ARGUMENTS_BAD 0x007UL
#define CKR_ATTRIBUTE_SENSITIVE 0x011UL
#define CKR_SIGNATURE_INVALID 0x0C0UL

typedef CK_RV (*get_function_list_fn)(FUNCTION_LIST **);
typedef CK_RV (*output_fn)(CK_ULONG, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
typedef CK_RV (*final_fn)(CK_ULONG, CK_BYTE *, CK_ULONG *);
typedef CK_RV (*verify_fn)(CK_ULONG, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG);
typedef CK_RV (*get_attribute_fn)(CK_ULONG, CK_ULONG, void *, CK_ULONG);

static FUNCTION_LIST broken;
static FUNCTION_LIST *real;

static int mode_is(const char *name)
{
    const char *mode = getenv("QUALIFY_BROKEN_MODE");
    return mode != NULL && strcmp(mode, name) == 0;
}

static void flip(CK_RV rv, CK_BYTE *out, CK_ULONG *length)
{
    if (rv == CKR_OK && out != NULL && length != NULL && *length > 0)
        out[0] ^= 0x01;
}

static CK_RV sign_bitflip(CK_ULONG session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *sig,
                          CK_ULONG *sig_len)
{
    CK_RV rv = ((output_fn)real->entry[AT_SIGN])(session, data, data_len, sig, sig_len);
    flip(rv, sig, sig_len);
    return rv;
}

static CK_RV digest_wrong(CK_ULONG session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *digest,
                          CK_ULONG *digest_len)
{
    CK_RV rv = ((output_fn)real->entry[AT_DIGEST])(session, data, data_len, digest, digest_len);
    flip(rv, digest, digest_len);
    return rv;
}

static CK_RV digest_final_wrong(CK_ULONG session, CK_BYTE *digest, CK_ULONG *digest_len)
{
    CK_RV rv = ((final_fn)real->entry[AT_DIGEST_FINAL])(session, digest, digest_len);
    flip(rv, digest, digest_len);
    return rv;
}

static CK_RV verify_always_ok(CK_ULONG session, CK_BYTE *data, CK_ULONG data_len, CK_BYTE *sig,
                              CK_ULONG sig_len)
{
    CK_RV rv = ((verify_fn)real->entry[AT_VERIFY])(session, data, data_len, sig, sig_len);
    return rv == CKR_SIGNATURE_INVALID ? CKR_OK : rv;
}

static CK_RV sensitive_ok(CK_ULONG session, CK_ULONG object, void *template, CK_ULONG count)
{
    CK_RV rv = ((get_attribute_fn)real->entry[AT_GET_ATTRIBUTE_VALUE])(session, object, template,
                                                                        count);
    return rv == CKR_ATTRIBUTE_SENSITIVE ? CKR_OK : rv;
}

CK_RV C_GetFunctionList(FUNCTION_LIST **list);

static int load(void)
{
    const char *target;
    void *library;
    get_function_list_fn get;

    if (real != NULL)
        return 1;
    target = getenv("QUALIFY_BROKEN_TARGET");
    if (target == NULL)
        return 0;
    library = dlopen(target, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL)
        return 0;
    get = (get_function_list_fn)dlsym(library, "C_GetFunctionList");
    if (get == NULL || get(&real) != CKR_OK || real == NULL)
        return 0;
    memcpy(&broken, real, sizeof broken);
    broken.entry[AT_GET_FUNCTION_LIST] = (void *)C_GetFunctionList;
    if (mode_is("sign-bitflip"))
        broken.entry[AT_SIGN] = (void *)sign_bitflip;
    if (mode_is("digest-wrong")) {
        broken.entry[AT_DIGEST] = (void *)digest_wrong;
        broken.entry[AT_DIGEST_FINAL] = (void *)digest_final_wrong;
    }
    if (mode_is("verify-always-ok"))
        broken.entry[AT_VERIFY] = (void *)verify_always_ok;
    if (mode_is("sensitive-ok"))
        broken.entry[AT_GET_ATTRIBUTE_VALUE] = (void *)sensitive_ok;
    return 1;
}

CK_RV C_GetFunctionList(FUNCTION_LIST **list)
{
    if (!load())
        return CKR_GENERAL_ERROR;
    if (list == NULL)
        return mode_is("getfunctionlist-null") ? CKR_OK : CKR_ARGUMENTS_BAD;
    *list = &broken;
    return CKR_OK;
}
