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
 * With QUALIFY_BROKEN_LOG set to a file name, in any mode, the double also appends one line
 * per call of the functions that can lock a PIN, erase a token or destroy an object, with
 * the CK_RV the real module returned:
 *
 *   C_Login <user type> <rv>      C_DestroyObject <handle> <rv>
 *   C_InitToken <slot> <rv>       C_InitPIN <rv>       C_SetPIN <rv>
 *
 * (rv in hex, e.g. 0xa0 for CKR_PIN_INCORRECT), so a test can count what reached the module.
 *
 * Only what the double needs of the PKCS #11 ABI is declared here (Unix conventions:
 * CK_ULONG is unsigned long, default packing; the function list is a CK_VERSION followed by
 * the 68 function pointers of v2.40).
 *
 * Build: gcc -shared -fPIC -o broken.so broken_module.c -ldl
 */

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    AT_INIT_TOKEN = 9,
    AT_INIT_PIN = 10,
    AT_SET_PIN = 11,
    AT_LOGIN = 18,
    AT_DESTROY_OBJECT = 22,
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
typedef CK_RV (*login_fn)(CK_ULONG, CK_ULONG, CK_BYTE *, CK_ULONG);
typedef CK_RV (*destroy_fn)(CK_ULONG, CK_ULONG);
typedef CK_RV (*init_token_fn)(CK_ULONG, CK_BYTE *, CK_ULONG, CK_BYTE *);
typedef CK_RV (*init_pin_fn)(CK_ULONG, CK_BYTE *, CK_ULONG);
typedef CK_RV (*set_pin_fn)(CK_ULONG, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG);

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

/* One line appended to QUALIFY_BROKEN_LOG (a single write, so lines of threads never mix). */
static void log_call(const char *name, int with_argument, CK_ULONG argument, CK_RV rv)
{
    const char *path = getenv("QUALIFY_BROKEN_LOG");
    char line[128];
    int length;
    int fd;

    if (path == NULL)
        return;
    if (with_argument)
        length = snprintf(line, sizeof line, "%s %lu 0x%lx\n", name, argument, rv);
    else
        length = snprintf(line, sizeof line, "%s 0x%lx\n", name, rv);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)length) < 0) {
        /* nothing to do: the test that reads the log will see the line missing */
    }
    close(fd);
}

static CK_RV logged_login(CK_ULONG session, CK_ULONG user, CK_BYTE *pin, CK_ULONG pin_len)
{
    CK_RV rv = ((login_fn)real->entry[AT_LOGIN])(session, user, pin, pin_len);
    log_call("C_Login", 1, user, rv);
    return rv;
}

static CK_RV logged_destroy(CK_ULONG session, CK_ULONG object)
{
    CK_RV rv = ((destroy_fn)real->entry[AT_DESTROY_OBJECT])(session, object);
    log_call("C_DestroyObject", 1, object, rv);
    return rv;
}

static CK_RV logged_init_token(CK_ULONG slot, CK_BYTE *pin, CK_ULONG pin_len, CK_BYTE *label)
{
    CK_RV rv = ((init_token_fn)real->entry[AT_INIT_TOKEN])(slot, pin, pin_len, label);
    log_call("C_InitToken", 1, slot, rv);
    return rv;
}

static CK_RV logged_init_pin(CK_ULONG session, CK_BYTE *pin, CK_ULONG pin_len)
{
    CK_RV rv = ((init_pin_fn)real->entry[AT_INIT_PIN])(session, pin, pin_len);
    log_call("C_InitPIN", 0, 0, rv);
    return rv;
}

static CK_RV logged_set_pin(CK_ULONG session, CK_BYTE *old_pin, CK_ULONG old_len, CK_BYTE *new_pin,
                            CK_ULONG new_len)
{
    CK_RV rv = ((set_pin_fn)real->entry[AT_SET_PIN])(session, old_pin, old_len, new_pin, new_len);
    log_call("C_SetPIN", 0, 0, rv);
    return rv;
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
    if (getenv("QUALIFY_BROKEN_LOG") != NULL) {
        broken.entry[AT_LOGIN] = (void *)logged_login;
        broken.entry[AT_DESTROY_OBJECT] = (void *)logged_destroy;
        broken.entry[AT_INIT_TOKEN] = (void *)logged_init_token;
        broken.entry[AT_INIT_PIN] = (void *)logged_init_pin;
        broken.entry[AT_SET_PIN] = (void *)logged_set_pin;
    }
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
