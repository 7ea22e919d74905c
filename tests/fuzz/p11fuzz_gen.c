/* p11fuzz: random numbers, buffers, handles and PINs.
 *
 * Buffers: every input and output buffer is allocated with exactly the length the call is
 * told (lengths never exceed their buffers). A share of them (--guard-rate) ends flush
 * against a PROT_NONE page, so a module that reads or writes one byte past what it was
 * given dies with SIGSEGV; the other output buffers carry a canary after their end that is
 * checked after the call. Everything a step allocated is released when the step ends.
 */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "p11fuzz.h"

#define FZ_CANARY 16
#define FZ_CANARY_BYTE 0xa5

/* ---- random numbers ------------------------------------------------------------------- */

uint64_t fz_next(fz_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fz_rng_seed(fz_rng *r, uint64_t seed, uint64_t step)
{
    r->s = seed;
    r->s = fz_next(r) ^ (step * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    (void)fz_next(r);
}

CK_ULONG fz_below(fz_rng *r, CK_ULONG n)
{
    return n == 0 ? 0 : (CK_ULONG)(fz_next(r) % n);
}

int fz_chance(fz_rng *r, unsigned per_mille)
{
    return fz_below(r, 1000) < per_mille;
}

void fz_fill(fz_rng *r, void *buf, size_t len)
{
    unsigned char *p = buf;
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (i % 8 == 0)
            v = fz_next(r);
        p[i] = (unsigned char)(v >> (8 * (i % 8)));
    }
}

/* ---- buffers -------------------------------------------------------------------------- */

typedef struct {
    void *base;
    size_t map_size;        /* > 0: an mmap'ed region with a guard page */
    unsigned char *user;
    size_t len;
    int canary;
} fz_rec;

static fz_rec *fz_recs;
static size_t fz_nrecs, fz_cap_recs;
static size_t fz_page;

static void fz_track(void *base, size_t map_size, unsigned char *user, size_t len, int canary)
{
    if (fz_nrecs == fz_cap_recs) {
        fz_cap_recs = fz_cap_recs ? 2 * fz_cap_recs : 256;
        fz_recs = realloc(fz_recs, fz_cap_recs * sizeof(*fz_recs));
        if (fz_recs == NULL)
            abort();
    }
    fz_recs[fz_nrecs].base = base;
    fz_recs[fz_nrecs].map_size = map_size;
    fz_recs[fz_nrecs].user = user;
    fz_recs[fz_nrecs].len = len;
    fz_recs[fz_nrecs].canary = canary;
    fz_nrecs++;
}

/* `len` bytes ending exactly at a PROT_NONE page (alignment: the page end minus len). */
static unsigned char *fz_guarded(size_t len)
{
    size_t body, total;
    unsigned char *base;

    if (fz_page == 0)
        fz_page = (size_t)sysconf(_SC_PAGESIZE);
    body = (len + fz_page - 1) / fz_page * fz_page;
    total = body + fz_page;
    base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        abort();
    if (mprotect(base + body, fz_page, PROT_NONE) != 0)
        abort();
    fz_track(base, total, base + body - len, len, 0);
    return base + body - len;
}

static unsigned char *fz_alloc(fz_state *st, size_t len, int canary)
{
    unsigned char *p;

    if (fz_chance(&st->r, st->guard_rate))
        return fz_guarded(len);
    p = malloc(len + (canary ? FZ_CANARY : 1));
    if (p == NULL)
        abort();
    if (canary)
        memset(p + len, FZ_CANARY_BYTE, FZ_CANARY);
    fz_track(p, 0, p, len, canary);
    return p;
}

void *fz_buf(fz_state *st, size_t len)
{
    unsigned char *p = fz_alloc(st, len, 0);
    memset(p, 0, len);
    return p;
}

void *fz_bytes(fz_state *st, size_t len)
{
    unsigned char *p = fz_alloc(st, len, 0);
    fz_fill(&st->r, p, len);
    return p;
}

void *fz_copy(fz_state *st, const void *src, size_t len)
{
    unsigned char *p = fz_alloc(st, len, 0);
    if (len)
        memcpy(p, src, len);
    return p;
}

unsigned char *fz_out(fz_state *st, size_t len)
{
    unsigned char *p = fz_alloc(st, len, 1);
    memset(p, 0xcc, len);
    return p;
}

void fz_out_check(fz_state *st, const unsigned char *out, size_t len, const char *what)
{
    size_t i, j;

    if (out == NULL)
        return;
    for (i = fz_nrecs; i-- > 0;) {
        if (fz_recs[i].user != out)
            continue;
        if (!fz_recs[i].canary)
            return;
        for (j = 0; j < FZ_CANARY; j++)
            if (fz_recs[i].user[fz_recs[i].len + j] != FZ_CANARY_BYTE) {
                fz_anomaly(st, "%s: the module wrote past the end of a %zu-byte buffer", what,
                           len);
                memset(fz_recs[i].user + fz_recs[i].len, FZ_CANARY_BYTE, FZ_CANARY);
                return;
            }
        return;
    }
}

void fz_free_step(fz_state *st)
{
    size_t i;

    (void)st;
    for (i = 0; i < fz_nrecs; i++) {
        if (fz_recs[i].map_size)
            munmap(fz_recs[i].base, fz_recs[i].map_size);
        else
            free(fz_recs[i].base);
    }
    fz_nrecs = 0;
}

size_t fz_data_len(fz_state *st)
{
    CK_ULONG c = fz_below(&st->r, 100);

    if (c < 10)
        return 0;
    if (c < 40)
        return 1 + fz_below(&st->r, 16);
    if (c < 65)
        return 17 + fz_below(&st->r, 48);
    if (c < 80)
        return 16 * (1 + fz_below(&st->r, 16));
    if (c < 92)
        return 65 + fz_below(&st->r, 448);
    if (c < 98)
        return 513 + fz_below(&st->r, 3584);
    return 4097 + fz_below(&st->r, 61440);
}

size_t fz_out_len(fz_state *st)
{
    static const size_t sizes[] = {32, 48, 64, 128, 256, 384, 512, 1024};
    CK_ULONG c = fz_below(&st->r, 100);

    if (c < 8)
        return 0;
    if (c < 25)
        return 1 + fz_below(&st->r, 16);
    if (c < 75)
        return sizes[fz_below(&st->r, sizeof(sizes) / sizeof(sizes[0]))];
    if (c < 95)
        return 4096;
    return 1 + fz_below(&st->r, 8192);
}

int fz_null_with_len(fz_state *st)
{
    return fz_chance(&st->r, st->null_rate);
}

/* ---- handles -------------------------------------------------------------------------- */

static CK_ULONG fz_random_handle(fz_state *st)
{
    switch (fz_below(&st->r, 8)) {
    case 0:
        return 0;
    case 1:
        return CK_UNAVAILABLE_INFORMATION;
    case 2:
        return 0x80000000UL + fz_below(&st->r, 4);
    case 3:
        return fz_next(&st->r);
    case 4:
        return 1 + fz_below(&st->r, 400);
    default:
        return 1 + fz_below(&st->r, 40);
    }
}

CK_SESSION_HANDLE fz_session(fz_state *st)
{
    CK_ULONG c = fz_below(&st->r, 100);

    if (c < 84 && st->nsessions > 0)
        return st->sessions[fz_below(&st->r, (CK_ULONG)st->nsessions)];
    if (c < 90)
        return st->stale_sessions[fz_below(&st->r, 8)];
    return fz_random_handle(st);
}

fz_obj *fz_pick_obj(fz_state *st, const int *kinds, int nkinds)
{
    int idx[FZ_MAX_OBJECTS];
    int n = 0, i, k;

    for (i = 0; i < st->nobjects; i++)
        for (k = 0; k < nkinds; k++)
            if (st->objects[i].kind == kinds[k]) {
                idx[n++] = i;
                break;
            }
    if (n == 0)
        return NULL;
    return &st->objects[idx[fz_below(&st->r, (CK_ULONG)n)]];
}

CK_OBJECT_HANDLE fz_object(fz_state *st, int want_kind)
{
    CK_ULONG c = fz_below(&st->r, 100);
    fz_obj *o;

    if (want_kind != K_UNKNOWN && c < 60) {
        o = fz_pick_obj(st, &want_kind, 1);
        if (o != NULL)
            return o->h;
    }
    if (c < 80 && st->nobjects > 0)
        return st->objects[fz_below(&st->r, (CK_ULONG)st->nobjects)].h;
    if (c < 86)
        return st->stale_objects[fz_below(&st->r, 16)];
    if (c < 88 && st->nsessions > 0)
        return st->sessions[0]; /* a session handle where an object handle belongs */
    return fz_random_handle(st);
}

CK_SLOT_ID fz_slot(fz_state *st)
{
    CK_ULONG c = fz_below(&st->r, 100);

    if (c < 85 && st->nslots > 0)
        return st->slots[fz_below(&st->r, (CK_ULONG)st->nslots)];
    if (c < 90)
        return (CK_SLOT_ID)st->nslots + fz_below(&st->r, 3);
    return fz_random_handle(st);
}

fz_token *fz_token_for(fz_state *st, CK_SLOT_ID slot)
{
    int i;

    for (i = 0; i < st->ntokens; i++)
        if (st->tokens[i].slot == slot)
            return &st->tokens[i];
    return NULL;
}

fz_token *fz_any_token(fz_state *st)
{
    if (st->ntokens == 0)
        return NULL;
    return &st->tokens[fz_below(&st->r, (CK_ULONG)st->ntokens)];
}

void fz_add_object(fz_state *st, CK_OBJECT_HANDLE h, int kind, int curve, CK_OBJECT_HANDLE peer)
{
    fz_obj *o;
    int i;

    for (i = 0; i < st->nobjects; i++)
        if (st->objects[i].h == h) {
            if (kind != K_UNKNOWN)
                st->objects[i].kind = kind;
            return;
        }
    if (st->nobjects == FZ_MAX_OBJECTS) {
        i = (int)fz_below(&st->r, FZ_MAX_OBJECTS);
        st->stale_objects[fz_below(&st->r, 16)] = st->objects[i].h;
        st->objects[i] = st->objects[--st->nobjects];
    }
    o = &st->objects[st->nobjects++];
    memset(o, 0, sizeof(*o));
    o->h = h;
    o->kind = kind;
    o->curve = curve;
    o->peer = peer;
}

void fz_forget_object(fz_state *st, CK_OBJECT_HANDLE h)
{
    int i;

    for (i = 0; i < st->nobjects; i++)
        if (st->objects[i].h == h) {
            st->stale_objects[fz_below(&st->r, 16)] = h;
            st->objects[i] = st->objects[--st->nobjects];
            return;
        }
}

void fz_add_session(fz_state *st, CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    int i;

    for (i = 0; i < st->nsessions; i++)
        if (st->sessions[i] == h) {
            st->session_slots[i] = slot;
            return;
        }
    if (st->nsessions < FZ_MAX_SESSIONS) {
        st->session_slots[st->nsessions] = slot;
        st->sessions[st->nsessions++] = h;
    }
}

fz_token *fz_token_of_session(fz_state *st, CK_SESSION_HANDLE h)
{
    int i;

    for (i = 0; i < st->nsessions; i++)
        if (st->sessions[i] == h)
            return fz_token_for(st, st->session_slots[i]);
    return NULL;
}

void fz_forget_session(fz_state *st, CK_SESSION_HANDLE h)
{
    int i;

    for (i = 0; i < st->nsessions; i++)
        if (st->sessions[i] == h) {
            st->stale_sessions[fz_below(&st->r, 8)] = h;
            st->nsessions--;
            st->sessions[i] = st->sessions[st->nsessions];
            st->session_slots[i] = st->session_slots[st->nsessions];
            return;
        }
}

/* After C_Finalize or C_CloseAllSessions on every slot: handles become stale values. */
void fz_forget_all(fz_state *st)
{
    while (st->nsessions > 0)
        fz_forget_session(st, st->sessions[0]);
    while (st->nobjects > 0)
        fz_forget_object(st, st->objects[0].h);
}

void fz_new_pin(fz_state *st, unsigned char *pin, CK_ULONG *len)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!";
    CK_ULONG i, n = 4 + fz_below(&st->r, 17);

    if (fz_chance(&st->r, 100)) {
        fz_fill(&st->r, pin, n); /* not UTF-8 at times: PINs are byte strings here */
    } else {
        for (i = 0; i < n; i++)
            pin[i] = (unsigned char)alphabet[fz_below(&st->r, sizeof(alphabet) - 1)];
    }
    *len = n;
}
