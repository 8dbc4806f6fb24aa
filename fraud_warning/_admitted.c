/* The event ids admission has taken within the lateness window, as 128-bit fingerprints
 * (see fraud_warning/admitted.py, whose PyAdmittedIds is this type's twin).
 *
 * A dict of id strings cost three objects an id (the string, its time as a float, an
 * entry) and kept every string alive for the window; here an id is 16 bytes in an
 * open-addressing table (linear probing, at most half full) and 24 in a ring that holds
 * the admission order with each id's event time, so the oldest are forgotten from the
 * front without a search. Deletion shifts the probe run back: no tombstones.
 *
 * Fingerprint: MurmurHash3_x64_128 (Austin Appleby, public domain), seed 0, of the id's
 * UTF-8 bytes, read little-endian on every host so snapshots travel between machines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MIN_CAPACITY 1024 /* table slots; the ring starts at half */

typedef struct {
    uint64_t a, b; /* (0, 0) is the empty slot: a fingerprint of (0, 0) is kept as (0, 1) */
} Key;

typedef struct {
    Key key;
    double ts;
} Entry;

typedef struct {
    PyObject_HEAD
    Key *table;
    size_t mask; /* table capacity - 1, a power of two */
    Entry *ring; /* admission order: ring[(head + i) & ring_mask] for i < used */
    size_t ring_mask;
    size_t head;
    size_t used;
} Admitted;

/* --- MurmurHash3_x64_128 ------------------------------------------------------------- */

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t
load64le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static Key
murmur3_128(const uint8_t *data, size_t len)
{
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    const size_t nblocks = len / 16;
    uint64_t h1 = 0, h2 = 0, k1, k2;
    for (size_t i = 0; i < nblocks; i++) {
        k1 = load64le(data + 16 * i);
        k2 = load64le(data + 16 * i + 8);
        k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
        h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
        k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
        h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
    }
    const uint8_t *tail = data + 16 * nblocks;
    k1 = k2 = 0;
    switch (len & 15) {
    case 15: k2 ^= (uint64_t)tail[14] << 48; /* fall through */
    case 14: k2 ^= (uint64_t)tail[13] << 40; /* fall through */
    case 13: k2 ^= (uint64_t)tail[12] << 32; /* fall through */
    case 12: k2 ^= (uint64_t)tail[11] << 24; /* fall through */
    case 11: k2 ^= (uint64_t)tail[10] << 16; /* fall through */
    case 10: k2 ^= (uint64_t)tail[9] << 8; /* fall through */
    case 9:
        k2 ^= (uint64_t)tail[8];
        k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
        /* fall through */
    case 8: k1 ^= (uint64_t)tail[7] << 56; /* fall through */
    case 7: k1 ^= (uint64_t)tail[6] << 48; /* fall through */
    case 6: k1 ^= (uint64_t)tail[5] << 40; /* fall through */
    case 5: k1 ^= (uint64_t)tail[4] << 32; /* fall through */
    case 4: k1 ^= (uint64_t)tail[3] << 24; /* fall through */
    case 3: k1 ^= (uint64_t)tail[2] << 16; /* fall through */
    case 2: k1 ^= (uint64_t)tail[1] << 8; /* fall through */
    case 1:
        k1 ^= (uint64_t)tail[0];
        k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
    }
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 += h2;
    h2 += h1;
    Key key = {h1, h2};
    return key;
}

static int
fingerprint_of(PyObject *event_id, Key *key)
{
    if (!PyUnicode_Check(event_id)) {
        PyErr_Format(PyExc_TypeError, "an event id is a str, not %.100s",
                     Py_TYPE(event_id)->tp_name);
        return -1;
    }
    Py_ssize_t len;
    /* an ASCII id's own bytes, no copy; otherwise the UTF-8 form, cached on the string */
    const char *utf8 = PyUnicode_AsUTF8AndSize(event_id, &len);
    if (utf8 == NULL)
        return -1;
    *key = murmur3_128((const uint8_t *)utf8, (size_t)len);
    return 0;
}

/* --- the table ------------------------------------------------------------------------ */

static inline int
is_empty(Key k)
{
    return (k.a | k.b) == 0;
}

static inline Key
stored(Key k)
{
    if (is_empty(k))
        k.b = 1;
    return k;
}

/* The slot holding `key`, or the empty slot ending its probe run. */
static inline size_t
probe(const Admitted *s, Key key)
{
    size_t i = (size_t)key.a & s->mask;
    for (;;) {
        Key here = s->table[i];
        if (is_empty(here) || (here.a == key.a && here.b == key.b))
            return i;
        i = (i + 1) & s->mask;
    }
}

/* Empty slot `i`, moving later entries of its probe run back so every key stays
 * reachable from its home slot (deletion without tombstones). */
static void
table_delete(Admitted *s, size_t i)
{
    size_t mask = s->mask, j = i;
    for (;;) {
        j = (j + 1) & mask;
        Key k = s->table[j];
        if (is_empty(k))
            break;
        size_t home = (size_t)k.a & mask;
        /* the entry at j may stay when its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            s->table[i] = k;
            i = j;
        }
    }
    s->table[i].a = 0;
    s->table[i].b = 0;
}

/* Rebuild the table at `capacity` slots (a power of two) and the ring at half that,
 * from the ring: how the table grows, shrinks and is first made. */
static int
rebuild(Admitted *s, size_t capacity)
{
    size_t ring_capacity = capacity / 2; /* the table is then at most half full */
    Key *table = PyMem_Calloc(capacity, sizeof(Key));
    Entry *ring = PyMem_Malloc(ring_capacity * sizeof(Entry));
    if (table == NULL || ring == NULL) {
        PyMem_Free(table);
        PyMem_Free(ring);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t n = 0; n < s->used; n++)
        ring[n] = s->ring[(s->head + n) & s->ring_mask];
    PyMem_Free(s->table);
    PyMem_Free(s->ring);
    s->table = table;
    s->mask = capacity - 1;
    s->ring = ring;
    s->ring_mask = ring_capacity - 1;
    s->head = 0;
    for (size_t n = 0; n < s->used; n++)
        s->table[probe(s, ring[n].key)] = ring[n].key;
    return 0;
}

/* Take `key` at `ts` unless held: 1 taken, 0 already held, -1 error. */
static int
take(Admitted *s, Key key, double ts)
{
    key = stored(key);
    size_t i = probe(s, key);
    if (!is_empty(s->table[i]))
        return 0;
    if (2 * (s->used + 1) > s->mask + 1) { /* keep the table at most half full */
        if (rebuild(s, 2 * (s->mask + 1)) < 0)
            return -1;
        i = probe(s, key);
    }
    s->table[i] = key;
    s->ring[(s->head + s->used) & s->ring_mask] = (Entry){key, ts};
    s->used++;
    return 1;
}

/* --- the type ------------------------------------------------------------------------- */

static PyObject *
Admitted_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "AdmittedIds() takes no arguments");
        return NULL;
    }
    Admitted *s = (Admitted *)type->tp_alloc(type, 0);
    if (s == NULL)
        return NULL;
    if (rebuild(s, MIN_CAPACITY) < 0) { /* empty: tp_alloc zeroed the fields */
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}

static void
Admitted_dealloc(Admitted *s)
{
    PyMem_Free(s->table);
    PyMem_Free(s->ring);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* take() with the time given as a Python number: True taken, False already held. */
static PyObject *
take_at(Admitted *s, Key key, PyObject *when)
{
    double ts = PyFloat_AsDouble(when);
    if (ts == -1.0 && PyErr_Occurred())
        return NULL;
    int taken = take(s, key, ts);
    if (taken < 0)
        return NULL;
    return PyBool_FromLong(taken);
}

static PyObject *
Admitted_add(Admitted *s, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(event_id, ts) takes two arguments");
        return NULL;
    }
    Key key;
    if (fingerprint_of(args[0], &key) < 0)
        return NULL;
    return take_at(s, key, args[1]);
}

static PyObject *
Admitted_forget_before(Admitted *s, PyObject *arg)
{
    double cutoff = PyFloat_AsDouble(arg);
    if (cutoff == -1.0 && PyErr_Occurred())
        return NULL;
    size_t forgotten = 0;
    /* ids arrive roughly in time order: from the front while they are too old */
    while (s->used > 0) {
        Entry *oldest = &s->ring[s->head];
        if (!(oldest->ts < cutoff))
            break;
        table_delete(s, probe(s, oldest->key));
        s->head = (s->head + 1) & s->ring_mask;
        s->used--;
        forgotten++;
    }
    /* give a burst's memory back: halved while under an eighth full, so the table is
     * left between an eighth and a quarter full (it grows again at half) */
    size_t capacity = s->mask + 1;
    while (capacity > MIN_CAPACITY && 8 * s->used < capacity)
        capacity /= 2;
    if (capacity != s->mask + 1 && rebuild(s, capacity) < 0)
        return NULL;
    return PyLong_FromSize_t(forgotten);
}

static PyObject *
Admitted_restore(Admitted *s, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "restore(a, b, ts) takes three arguments");
        return NULL;
    }
    Key key;
    key.a = PyLong_AsUnsignedLongLong(args[0]);
    if (key.a == (uint64_t)-1 && PyErr_Occurred())
        return NULL;
    key.b = PyLong_AsUnsignedLongLong(args[1]);
    if (key.b == (uint64_t)-1 && PyErr_Occurred())
        return NULL;
    return take_at(s, key, args[2]);
}

static PyObject *
Admitted_dump(Admitted *s, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = PyList_New((Py_ssize_t)s->used);
    if (out == NULL)
        return NULL;
    for (size_t n = 0; n < s->used; n++) {
        Entry *e = &s->ring[(s->head + n) & s->ring_mask];
        PyObject *item = Py_BuildValue("(KKd)", (unsigned long long)e->key.a,
                                       (unsigned long long)e->key.b, e->ts);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)n, item);
    }
    return out;
}

static PyObject *
Admitted_capacity(Admitted *s, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(s->mask + 1);
}

static Py_ssize_t
Admitted_len(Admitted *s)
{
    return (Py_ssize_t)s->used;
}

static int
Admitted_contains(Admitted *s, PyObject *event_id)
{
    Key key;
    if (fingerprint_of(event_id, &key) < 0)
        return -1;
    return !is_empty(s->table[probe(s, stored(key))]);
}

static PyMethodDef Admitted_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Admitted_add, METH_FASTCALL,
     "add(event_id, ts): True when the id is new (and now held), False when held."},
    {"forget_before", (PyCFunction)Admitted_forget_before, METH_O,
     "Forget, oldest admitted first, the ids whose time is before `cutoff`; how many."},
    {"restore", (PyCFunction)(void (*)(void))Admitted_restore, METH_FASTCALL,
     "restore(a, b, ts): hold a fingerprint (from dump) unless held; True when new."},
    {"dump", (PyCFunction)Admitted_dump, METH_NOARGS,
     "[(a, b, ts), ...]: the fingerprints held and their times, oldest admitted first."},
    {"capacity", (PyCFunction)Admitted_capacity, METH_NOARGS,
     "The table's slots (twice the ids it can hold before it grows)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Admitted_as_sequence = {
    .sq_length = (lenfunc)Admitted_len,
    .sq_contains = (objobjproc)Admitted_contains,
};

static PyTypeObject AdmittedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fraud_warning._admitted.AdmittedIds",
    .tp_basicsize = sizeof(Admitted),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Event ids taken within the lateness window, as 128-bit fingerprints.",
    .tp_new = Admitted_new,
    .tp_dealloc = (destructor)Admitted_dealloc,
    .tp_methods = Admitted_methods,
    .tp_as_sequence = &Admitted_as_sequence,
};

/* --- the module ----------------------------------------------------------------------- */

static PyObject *
fingerprint(PyObject *module, PyObject *event_id)
{
    Key key;
    if (fingerprint_of(event_id, &key) < 0)
        return NULL;
    return Py_BuildValue("(KK)", (unsigned long long)key.a, (unsigned long long)key.b);
}

static PyMethodDef methods[] = {
    {"fingerprint", fingerprint, METH_O,
     "(a, b): MurmurHash3_x64_128 of the id's UTF-8 bytes, seed 0, as two 64-bit halves."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_admitted", "Admitted event ids as fingerprints.", -1, methods,
};

PyMODINIT_FUNC
PyInit__admitted(void)
{
    if (PyType_Ready(&AdmittedType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AdmittedType);
    if (PyModule_AddObject(m, "AdmittedIds", (PyObject *)&AdmittedType) < 0) {
        Py_DECREF(&AdmittedType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
