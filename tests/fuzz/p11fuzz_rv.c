/* p11fuzz: the defined return values (PKCS #11 v2.40 s5.1 "Function return values") and the
 * CK_RV histogram of a run.
 *
 * The table is the CKR_* list of the v2.40 header (the one Debian ships with p11-kit,
 * /usr/include/p11-kit-1/p11-kit/pkcs11.h), CKR_VENDOR_DEFINED excluded: a soft token has
 * no vendor codes, so any value not listed here is flagged. tests/fuzz/test_fuzz.py checks
 * this table against that header (`p11fuzz --list-rv`).
 */
#include <stdio.h>
#include <stdlib.h>

#include "p11fuzz.h"

typedef struct {
    const char *name;
    CK_RV value;
} fz_rv_entry;

static const fz_rv_entry fz_rvs[] = {
    {"CKR_OK", 0UL},
    {"CKR_CANCEL", 1UL},
    {"CKR_HOST_MEMORY", 2UL},
    {"CKR_SLOT_ID_INVALID", 3UL},
    {"CKR_GENERAL_ERROR", 5UL},
    {"CKR_FUNCTION_FAILED", 6UL},
    {"CKR_ARGUMENTS_BAD", 7UL},
    {"CKR_NO_EVENT", 8UL},
    {"CKR_NEED_TO_CREATE_THREADS", 9UL},
    {"CKR_CANT_LOCK", 0xaUL},
    {"CKR_ATTRIBUTE_READ_ONLY", 0x10UL},
    {"CKR_ATTRIBUTE_SENSITIVE", 0x11UL},
    {"CKR_ATTRIBUTE_TYPE_INVALID", 0x12UL},
    {"CKR_ATTRIBUTE_VALUE_INVALID", 0x13UL},
    {"CKR_ACTION_PROHIBITED", 0x1BUL},
    {"CKR_DATA_INVALID", 0x20UL},
    {"CKR_DATA_LEN_RANGE", 0x21UL},
    {"CKR_DEVICE_ERROR", 0x30UL},
    {"CKR_DEVICE_MEMORY", 0x31UL},
    {"CKR_DEVICE_REMOVED", 0x32UL},
    {"CKR_ENCRYPTED_DATA_INVALID", 0x40UL},
    {"CKR_ENCRYPTED_DATA_LEN_RANGE", 0x41UL},
    {"CKR_FUNCTION_CANCELED", 0x50UL},
    {"CKR_FUNCTION_NOT_PARALLEL", 0x51UL},
    {"CKR_FUNCTION_NOT_SUPPORTED", 0x54UL},
    {"CKR_KEY_HANDLE_INVALID", 0x60UL},
    {"CKR_KEY_SIZE_RANGE", 0x62UL},
    {"CKR_KEY_TYPE_INCONSISTENT", 0x63UL},
    {"CKR_KEY_NOT_NEEDED", 0x64UL},
    {"CKR_KEY_CHANGED", 0x65UL},
    {"CKR_KEY_NEEDED", 0x66UL},
    {"CKR_KEY_INDIGESTIBLE", 0x67UL},
    {"CKR_KEY_FUNCTION_NOT_PERMITTED", 0x68UL},
    {"CKR_KEY_NOT_WRAPPABLE", 0x69UL},
    {"CKR_KEY_UNEXTRACTABLE", 0x6aUL},
    {"CKR_MECHANISM_INVALID", 0x70UL},
    {"CKR_MECHANISM_PARAM_INVALID", 0x71UL},
    {"CKR_OBJECT_HANDLE_INVALID", 0x82UL},
    {"CKR_OPERATION_ACTIVE", 0x90UL},
    {"CKR_OPERATION_NOT_INITIALIZED", 0x91UL},
    {"CKR_PIN_INCORRECT", 0xa0UL},
    {"CKR_PIN_INVALID", 0xa1UL},
    {"CKR_PIN_LEN_RANGE", 0xa2UL},
    {"CKR_PIN_EXPIRED", 0xa3UL},
    {"CKR_PIN_LOCKED", 0xa4UL},
    {"CKR_SESSION_CLOSED", 0xb0UL},
    {"CKR_SESSION_COUNT", 0xb1UL},
    {"CKR_SESSION_HANDLE_INVALID", 0xb3UL},
    {"CKR_SESSION_PARALLEL_NOT_SUPPORTED", 0xb4UL},
    {"CKR_SESSION_READ_ONLY", 0xb5UL},
    {"CKR_SESSION_EXISTS", 0xb6UL},
    {"CKR_SESSION_READ_ONLY_EXISTS", 0xb7UL},
    {"CKR_SESSION_READ_WRITE_SO_EXISTS", 0xb8UL},
    {"CKR_SIGNATURE_INVALID", 0xc0UL},
    {"CKR_SIGNATURE_LEN_RANGE", 0xc1UL},
    {"CKR_TEMPLATE_INCOMPLETE", 0xd0UL},
    {"CKR_TEMPLATE_INCONSISTENT", 0xd1UL},
    {"CKR_TOKEN_NOT_PRESENT", 0xe0UL},
    {"CKR_TOKEN_NOT_RECOGNIZED", 0xe1UL},
    {"CKR_TOKEN_WRITE_PROTECTED", 0xe2UL},
    {"CKR_UNWRAPPING_KEY_HANDLE_INVALID", 0xf0UL},
    {"CKR_UNWRAPPING_KEY_SIZE_RANGE", 0xf1UL},
    {"CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT", 0xf2UL},
    {"CKR_USER_ALREADY_LOGGED_IN", 0x100UL},
    {"CKR_USER_NOT_LOGGED_IN", 0x101UL},
    {"CKR_USER_PIN_NOT_INITIALIZED", 0x102UL},
    {"CKR_USER_TYPE_INVALID", 0x103UL},
    {"CKR_USER_ANOTHER_ALREADY_LOGGED_IN", 0x104UL},
    {"CKR_USER_TOO_MANY_TYPES", 0x105UL},
    {"CKR_WRAPPED_KEY_INVALID", 0x110UL},
    {"CKR_WRAPPED_KEY_LEN_RANGE", 0x112UL},
    {"CKR_WRAPPING_KEY_HANDLE_INVALID", 0x113UL},
    {"CKR_WRAPPING_KEY_SIZE_RANGE", 0x114UL},
    {"CKR_WRAPPING_KEY_TYPE_INCONSISTENT", 0x115UL},
    {"CKR_RANDOM_SEED_NOT_SUPPORTED", 0x120UL},
    {"CKR_RANDOM_NO_RNG", 0x121UL},
    {"CKR_DOMAIN_PARAMS_INVALID", 0x130UL},
    {"CKR_CURVE_NOT_SUPPORTED", 0x140UL},
    {"CKR_BUFFER_TOO_SMALL", 0x150UL},
    {"CKR_SAVED_STATE_INVALID", 0x160UL},
    {"CKR_INFORMATION_SENSITIVE", 0x170UL},
    {"CKR_STATE_UNSAVEABLE", 0x180UL},
    {"CKR_CRYPTOKI_NOT_INITIALIZED", 0x190UL},
    {"CKR_CRYPTOKI_ALREADY_INITIALIZED", 0x191UL},
    {"CKR_MUTEX_BAD", 0x1a0UL},
    {"CKR_MUTEX_NOT_LOCKED", 0x1a1UL},
    {"CKR_NEW_PIN_MODE", 0x1b0UL},
    {"CKR_NEXT_OTP", 0x1b1UL},
    {"CKR_EXCEEDED_MAX_ITERATIONS", 0x1c0UL},
    {"CKR_FIPS_SELF_TEST_FAILED", 0x1c1UL},
    {"CKR_LIBRARY_LOAD_FAILED", 0x1c2UL},
    {"CKR_PIN_TOO_WEAK", 0x1c3UL},
    {"CKR_PUBLIC_KEY_INVALID", 0x1c4UL},
    {"CKR_FUNCTION_REJECTED", 0x200UL},
};
#define FZ_NRVS (sizeof(fz_rvs) / sizeof(fz_rvs[0]))

static unsigned long fz_rv_hist[FZ_NRVS];

/* Undefined values seen (value, count): few by nature. */
#define FZ_MAX_UNDEFINED 64
static CK_RV fz_undef_value[FZ_MAX_UNDEFINED];
static unsigned long fz_undef_count[FZ_MAX_UNDEFINED];
static int fz_nundef;

static int fz_rv_index(CK_RV rv)
{
    size_t i;

    for (i = 0; i < FZ_NRVS; i++)
        if (fz_rvs[i].value == rv)
            return (int)i;
    return -1;
}

const char *fz_rv_name(CK_RV rv)
{
    int i = fz_rv_index(rv);
    return i < 0 ? NULL : fz_rvs[i].name;
}

void fz_rv_count(CK_RV rv)
{
    int i = fz_rv_index(rv);

    if (i >= 0) {
        fz_rv_hist[i]++;
        return;
    }
    for (i = 0; i < fz_nundef; i++)
        if (fz_undef_value[i] == rv) {
            fz_undef_count[i]++;
            return;
        }
    if (fz_nundef < FZ_MAX_UNDEFINED) {
        fz_undef_value[fz_nundef] = rv;
        fz_undef_count[fz_nundef++] = 1;
    }
}

void fz_rv_print(void)
{
    size_t i;
    int j;

    printf("rv histogram:\n");
    for (i = 0; i < FZ_NRVS; i++)
        if (fz_rv_hist[i])
            printf("  rv %-40s 0x%lx %lu\n", fz_rvs[i].name, fz_rvs[i].value, fz_rv_hist[i]);
    for (j = 0; j < fz_nundef; j++)
        printf("  rv %-40s 0x%lx %lu\n", "UNDEFINED", fz_undef_value[j], fz_undef_count[j]);
}

int fz_rv_table_print(void)
{
    size_t i;

    for (i = 0; i < FZ_NRVS; i++)
        printf("%s 0x%lx\n", fz_rvs[i].name, fz_rvs[i].value);
    return 0;
}
