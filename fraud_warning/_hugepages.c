/* pymalloc's arenas on transparent huge pages (see fraud_warning/hugepages.py).
 *
 * CPython's small-object allocator takes memory in 1 MiB arenas, each its own mmap:
 * never 2 MiB aligned, so Linux backs them with 4 KiB pages. The engine's state is
 * millions of small objects over most of a gigabyte, read in no particular order, and
 * nearly every cold read also missed the TLB. This arena allocator carves arenas out of
 * 64 MiB regions aligned to 2 MiB and marked MADV_HUGEPAGE, so the kernel backs them
 * with 2 MiB pages when first touched (thp "madvise" or "always").
 *
 * Every other size (the interpreter's frame stack takes 16 KiB chunks or more through
 * the same hook) goes to the allocator that was installed before.
 *
 * Called only with the GIL held (pymalloc needs it), so no lock: this would need one
 * for sub-interpreters with their own GIL, which the engine never starts.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <sys/mman.h>

#define ARENA ((size_t)1 << 20)  /* pymalloc's arena size (CPython 3.10+, 64-bit) */
#define HUGE ((size_t)2 << 20)   /* one huge page: two arenas, "buddies" */
#define SLOTS 64                 /* arenas per region: one bit each in a uint64_t */
#define REGION (SLOTS * ARENA)
#define MAX_REGIONS 4096         /* 256 GiB; past it arenas come from the old allocator */
#define EVEN UINT64_C(0x5555555555555555)
#define ODD UINT64_C(0xAAAAAAAAAAAAAAAA)

static char *regions[MAX_REGIONS];
static uint64_t used[MAX_REGIONS]; /* bit i: the region's arena i is handed out */
static int n_regions;
static int installed;
static PyObjectArenaAllocator previous;

#ifdef MADV_HUGEPAGE

/* A new region, 2 MiB aligned (mapped with a huge page of slack, the slack unmapped). */
static int
new_region(void)
{
    if (n_regions == MAX_REGIONS) {
        return -1;
    }
    size_t span = REGION + HUGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        return -1;
    }
    char *base = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    char *end = base + REGION;
    if (base > raw) {
        munmap(raw, (size_t)(base - raw));
    }
    if (raw + span > end) {
        munmap(end, (size_t)(raw + span - end));
    }
    /* refused (a kernel without THP): the region still serves, on small pages */
    (void)madvise(base, REGION, MADV_HUGEPAGE);
    regions[n_regions] = base;
    used[n_regions] = 0;
    return n_regions++;
}

/* The used bits of each slot's buddy (the other arena of its huge page), in its place. */
static uint64_t
buddies_used(uint64_t bits)
{
    return ((bits >> 1) & EVEN) | ((bits << 1) & ODD);
}

static void *
arena_alloc(void *ctx, size_t size)
{
    if (size != ARENA) {
        return previous.alloc(previous.ctx, size);
    }
    /* a free slot whose buddy is in use first: it fills a huge page already backed */
    int pick = -1;
    for (int r = 0; r < n_regions; r++) {
        uint64_t vacant = ~used[r];
        if (vacant & buddies_used(used[r])) {
            pick = r;
            break;
        }
        if (vacant && pick < 0) {
            pick = r;
        }
    }
    if (pick < 0 && (pick = new_region()) < 0) {
        return previous.alloc(previous.ctx, size);
    }
    uint64_t vacant = ~used[pick];
    uint64_t half = vacant & buddies_used(used[pick]);
    int slot = __builtin_ctzll(half ? half : vacant);
    used[pick] |= UINT64_C(1) << slot;
    return regions[pick] + (size_t)slot * ARENA;
}

static void
arena_free(void *ctx, void *ptr, size_t size)
{
    char *p = (char *)ptr;
    for (int r = 0; size == ARENA && r < n_regions; r++) {
        if (p < regions[r] || p >= regions[r] + REGION) {
            continue;
        }
        int slot = (int)((size_t)(p - regions[r]) / ARENA);
        used[r] &= ~(UINT64_C(1) << slot);
        /* memory goes back to the system a whole huge page at a time, once both its
         * arenas are free: returning half would split the page for good */
        if (!(used[r] & (UINT64_C(1) << (slot ^ 1)))) {
            (void)madvise(regions[r] + (size_t)(slot & ~1) * ARENA, HUGE, MADV_DONTNEED);
        }
        return;
    }
    previous.free(previous.ctx, ptr, size);
}

#endif /* MADV_HUGEPAGE */

static PyObject *
install(PyObject *self, PyObject *unused)
{
#ifdef MADV_HUGEPAGE
    if (!installed) {
        PyObjectArenaAllocator mine = {NULL, arena_alloc, arena_free};
        PyObject_GetArenaAllocator(&previous);
        PyObject_SetArenaAllocator(&mine);
        installed = 1;
    }
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

static PyObject *
stats(PyObject *self, PyObject *unused)
{
    long long arenas = 0;
    for (int r = 0; r < n_regions; r++) {
        arenas += __builtin_popcountll(used[r]);
    }
    return Py_BuildValue(
        "{s:O,s:i,s:L,s:n,s:n}",
        "installed", installed ? Py_True : Py_False,
        "regions", n_regions,
        "arenas", arenas,
        "arena_bytes", (Py_ssize_t)ARENA,
        "region_bytes", (Py_ssize_t)REGION);
}

static PyObject *
region_bounds(PyObject *self, PyObject *unused)
{
    PyObject *out = PyList_New(n_regions);
    if (out == NULL) {
        return NULL;
    }
    for (int r = 0; r < n_regions; r++) {
        PyObject *pair = Py_BuildValue(
            "(KK)", (unsigned long long)(uintptr_t)regions[r],
            (unsigned long long)(uintptr_t)(regions[r] + REGION));
        if (pair == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, r, pair);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"install", install, METH_NOARGS,
     "Take pymalloc's arenas from huge-page regions from now on; False where the "
     "platform has no MADV_HUGEPAGE. Idempotent."},
    {"stats", stats, METH_NOARGS,
     "Regions mapped and arenas handed out from them."},
    {"region_bounds", region_bounds, METH_NOARGS,
     "Each region's (start, end) address, for tests."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hugepages", "pymalloc's arenas on transparent huge pages.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__hugepages(void)
{
    return PyModule_Create(&module);
}
