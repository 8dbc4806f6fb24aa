/* The decoder's per-event checks on text, without allocating (see fraud_warning/textcheck.py).
 *
 * msgspec parses an event in C, but three checks are ours: each phone number is E.164,
 * the record is UTF-8 throughout (msgspec checks only the strings it keeps), and the
 * event time's year is plausible. In Python, compiled by mypyc, they cost about 4,000
 * instructions an event (a slice per number, a str built from every non-ASCII record
 * just to see that it decodes, a generic attribute lookup for the year): a tenth of the
 * engine's whole cost per event. Here each is one call and a scan.
 *
 * Each function must answer exactly as its Python twin in textcheck.py does; the tests
 * compare them on generated and hand-picked inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

#include <stdint.h>
#include <string.h>

/* "+", a digit 1-9, then 5 to 15 ASCII digits (wire.E164_PATTERN) */
static PyObject *
e164(PyObject *module, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "e164() takes a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    /* a non-ASCII str (full-width or other scripts' digits included) is never E.164 */
    if (!PyUnicode_IS_ASCII(arg))
        Py_RETURN_FALSE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    const unsigned char *s = PyUnicode_1BYTE_DATA(arg);
    if (n < 7 || n > 17 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        Py_RETURN_FALSE;
    for (Py_ssize_t i = 2; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

/* Well-formed UTF-8 as Python's strict decoder reads it (Unicode's table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static int
valid_utf8(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time: most of a record, even one with Chinese text */
        while (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (word & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* the first continuation byte's range depends on the lead byte */
        unsigned char lo = 0x80, hi = 0xBF;
        Py_ssize_t len;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* past U+10FFFF */
        } else {
            return 0;
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (Py_ssize_t k = 2; k < len; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        }
        i += len;
    }
    return 1;
}

static PyObject *
utf8(PyObject *module, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "utf8() takes bytes, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(arg);
    return PyBool_FromLong(valid_utf8(s, PyBytes_GET_SIZE(arg)));
}

/* lo <= ts.year <= hi, for a datetime (msgspec decodes the event time as one) */
static PyObject *
year_within(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "year_within() takes (datetime, lo, hi)");
        return NULL;
    }
    if (!PyDateTime_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "year_within() takes a datetime, not %.100s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    long lo = PyLong_AsLong(args[1]);
    if (lo == -1 && PyErr_Occurred())
        return NULL;
    long hi = PyLong_AsLong(args[2]);
    if (hi == -1 && PyErr_Occurred())
        return NULL;
    long year = PyDateTime_GET_YEAR(args[0]);
    return PyBool_FromLong(lo <= year && year <= hi);
}

static PyMethodDef methods[] = {
    {"e164", e164, METH_O, "Whether a str is an E.164 number: '+', a digit 1-9, 5-15 digits."},
    {"utf8", utf8, METH_O, "Whether bytes are well-formed UTF-8 (as bytes.decode reads it)."},
    {"year_within", (PyCFunction)(void (*)(void))year_within, METH_FASTCALL,
     "Whether lo <= ts.year <= hi, for a datetime ts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_textcheck", "The decoder's per-event checks on text, in C.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__textcheck(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    return PyModule_Create(&module);
}
