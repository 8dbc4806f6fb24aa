/* Take an object out of the cyclic garbage collector's sight (see fraud_warning/untrack.py).
 *
 * The engine's recent-event records (state.Inbound, Payment, Credit) cannot be in a
 * reference cycle: each holds strings, numbers and a link to an older record. Yet, made
 * by mypyc, they are tracked, and every one that survives a batch is walked by the
 * young-generation pass and again by the middle one: 4 % of the embedded engine's time
 * on a 100,000-subscriber day. They keep their GC header (their dealloc's trashcan needs
 * it); only the tracking goes, which PyObject_GC_UnTrack leaves safe to free as usual.
 * The state's small tuples of strings and numbers are untracked the same way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
untrack(PyObject *module, PyObject *obj)
{
    if (PyObject_IS_GC(obj))
        PyObject_GC_UnTrack(obj);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"untrack", untrack, METH_O,
     "Stop the cyclic GC tracking `obj` (for objects that cannot be in a cycle)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_untrack", "Objects out of the cyclic GC's sight.", -1, methods,
};

PyMODINIT_FUNC
PyInit__untrack(void)
{
    return PyModule_Create(&module);
}
