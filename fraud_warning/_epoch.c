/* An aware datetime with a fixed UTC offset as epoch seconds (see fraud_warning/epoch.py).
 *
 * epoch.py computes `timestamp()`'s float from the datetime's fields. Compiled by mypyc
 * that still costs six generic attribute reads and a method call, about 2,100
 * instructions an event whose time differs from the previous event's; here the fields
 * are read straight from the datetime's struct.
 *
 * fixed_epoch_s must answer exactly as epoch.py's Python twin does; the tests compare
 * both with `timestamp()` across the calendar.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>

#define EPOCH_ORDINAL 719163LL          /* date(1970, 1, 1).toordinal() */
#define EXACT_US 9007199254740992LL     /* 2**53: below it, microseconds are exact doubles */

static const int days_before_month[] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

/* date.toordinal(): days since 0001-01-01, which is day 1 (CPython's ymd_to_ord) */
static long long
ordinal(int year, int month, int day)
{
    long long y = year - 1;
    int leap = (year % 4 == 0) && (year % 100 != 0 || year % 400 == 0);
    return y * 365 + y / 4 - y / 100 + y / 400 + days_before_month[month] +
           (month > 2 && leap) + day;
}

/* fixed_epoch_s(ts, offset_us): the epoch seconds of `ts` read as wall time at a UTC
 * offset of `offset_us` microseconds; None beyond 2**53 microseconds, where the double
 * would not be exact (the caller asks timestamp() then). */
static PyObject *
fixed_epoch_s(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fixed_epoch_s() takes (datetime, offset_us)");
        return NULL;
    }
    PyObject *ts = args[0];
    if (!PyDateTime_Check(ts)) {
        PyErr_Format(PyExc_TypeError, "fixed_epoch_s() takes a datetime, not %.100s",
                     Py_TYPE(ts)->tp_name);
        return NULL;
    }
    long long offset = PyLong_AsLongLong(args[1]);
    if (offset == -1 && PyErr_Occurred())
        return NULL;
    /* a real offset is under a day; one past 2**62 would put the answer past 2**53 (and
     * overflow the sum below), so it is not exact: None, as epoch.py's twin answers */
    if (offset <= -(1LL << 62) || offset >= (1LL << 62))
        Py_RETURN_NONE;
    long long days = ordinal(PyDateTime_GET_YEAR(ts), PyDateTime_GET_MONTH(ts),
                             PyDateTime_GET_DAY(ts)) - EPOCH_ORDINAL;
    long long seconds = days * 86400 + PyDateTime_DATE_GET_HOUR(ts) * 3600 +
                        PyDateTime_DATE_GET_MINUTE(ts) * 60 + PyDateTime_DATE_GET_SECOND(ts);
    /* years 1-9999: |seconds| < 2**39, so with the offset bounded this fits 64 bits */
    long long us = seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(ts) - offset;
    if (us <= -EXACT_US || us >= EXACT_US)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)us / 1e6);
}

static PyMethodDef methods[] = {
    {"fixed_epoch_s", (PyCFunction)(void (*)(void))fixed_epoch_s, METH_FASTCALL,
     "Epoch seconds of a datetime read at a fixed UTC offset in microseconds; None beyond "
     "2**53 microseconds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_epoch", "Fixed-offset datetimes as epoch seconds, in C.",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__epoch(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL)
        return NULL;
    return PyModule_Create(&module);
}
