/* The envelope payload's fixed-size reading rows, in C: an optional accelerator.
 *
 * watertel/envelope.py owns the format and checks every length before it calls in here; it falls
 * back to its own pure-Python code when this module is missing (no compiler on the gateway) and
 * whenever a function here raises, so that every refusal keeps its reason and wording. Why C at
 * all: making one Python object per field of 100 rows cost 15-35 us in Python against one SM2
 * verification of ~450 us, and the target leaves 15 % of that for everything an open or a
 * seal adds (bench/bench_envelope.py).
 *
 * A row is 23 bytes, big-endian: u16 station index, u16 point index, u16 unit index, i64 sample
 * time (Unix ms), f64 value, u8 quality code (docs/envelope.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define ROW 23

static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put_u16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* table[index] with a new reference, or NULL with IndexError naming ``what``. */
static PyObject *lookup(PyObject *table, unsigned index, const char *what)
{
    if (index >= (unsigned)PyTuple_GET_SIZE(table)) {
        PyErr_Format(PyExc_IndexError, "%s index %u past the table", what, index);
        return NULL;
    }
    PyObject *item = PyTuple_GET_ITEM(table, index);
    Py_INCREF(item);
    return item;
}

PyDoc_STRVAR(decode_rows_doc,
"decode_rows(payload, offset, count, names, qualities, row_type) -> tuple of rows\n\n"
"The ``count`` rows at ``offset`` as instances of ``row_type`` (a tuple subclass of six fields,\n"
"such as a NamedTuple: station, point, time, value, unit, quality), made as ``tuple.__new__``\n"
"makes them; ``names`` and ``qualities`` are tuples indexed by the rows' codes. IndexError for a\n"
"code past its table.");

/* One row at ``p`` as a new ``row_type`` instance, or NULL with an exception. */
static PyObject *decode_row(const unsigned char *p, PyObject *names, PyObject *qualities, PyTypeObject *row_type,
                            PyObject **last_t, long long *last_ms)
{
    PyObject *row = row_type->tp_alloc(row_type, 6);
    if (!row)
        return NULL;
    /* in the row's field order; after a failure the rest stay NULL, which a tuple being freed allows */
    PyObject *station = lookup(names, get_u16(p), "name");
    PyObject *point = station ? lookup(names, get_u16(p + 2), "name") : NULL;
    /* the readings of one poll share their sample time: one int object for them (the previous row's) */
    long long t_ms = (long long)get_u64(p + 6);
    PyObject *t = NULL;
    if (point && *last_t && *last_ms == t_ms) {
        t = *last_t;
        Py_INCREF(t);
    } else if (point && (t = PyLong_FromLongLong(t_ms))) {
        Py_INCREF(t);
        Py_XSETREF(*last_t, t);
        *last_ms = t_ms;
    }
    PyObject *value = t ? PyFloat_FromDouble(PyFloat_Unpack8((const char *)p + 14, 0)) : NULL;
    PyObject *unit = value ? lookup(names, get_u16(p + 4), "name") : NULL;
    PyObject *quality = unit ? lookup(qualities, p[22], "quality") : NULL;
    PyTuple_SET_ITEM(row, 0, station);
    PyTuple_SET_ITEM(row, 1, point);
    PyTuple_SET_ITEM(row, 2, t);
    PyTuple_SET_ITEM(row, 3, value);
    PyTuple_SET_ITEM(row, 4, unit);
    PyTuple_SET_ITEM(row, 5, quality);
    if (!quality) {
        Py_DECREF(row);
        return NULL;
    }
    return row;
}

static PyObject *decode_rows(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    Py_ssize_t offset, count;
    PyObject *names, *qualities, *rows = NULL, *last_t = NULL;
    long long last_ms = 0;
    PyTypeObject *row_type;
    if (!PyArg_ParseTuple(args, "y*nnO!O!O!", &buf, &offset, &count, &PyTuple_Type, &names, &PyTuple_Type,
                          &qualities, &PyType_Type, &row_type))
        return NULL;
    if (!PyType_IsSubtype(row_type, &PyTuple_Type) || row_type->tp_basicsize != PyTuple_Type.tp_basicsize
        || row_type->tp_itemsize != PyTuple_Type.tp_itemsize) {
        PyErr_SetString(PyExc_TypeError, "row_type must be a tuple subclass without extra fields");
        goto done;
    }
    if (offset < 0 || offset > buf.len || count < 0 || count > (buf.len - offset) / ROW) {
        PyErr_SetString(PyExc_ValueError, "rows past the end of the payload");
        goto done;
    }
    if (!(rows = PyTuple_New(count)))
        goto done;
    const unsigned char *p = (const unsigned char *)buf.buf + offset;
    for (Py_ssize_t i = 0; i < count; i++, p += ROW) {
        PyObject *row = decode_row(p, names, qualities, row_type, &last_t, &last_ms);
        if (!row) {
            Py_CLEAR(rows);
            goto done;
        }
        PyTuple_SET_ITEM(rows, i, row);
    }
done:
    Py_XDECREF(last_t);
    PyBuffer_Release(&buf);
    return rows;
}

/* The index of ``name`` in ``index`` (a dict name -> int), adding it (and to ``names``) when new. */
static long name_index(PyObject *index, PyObject *names, PyObject *name)
{
    PyObject *found = PyDict_GetItemWithError(index, name);
    if (found)
        return PyLong_AsLong(found);
    if (PyErr_Occurred())
        return -1;
    Py_ssize_t next = PyList_GET_SIZE(names);
    if (next > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "too many distinct names in one batch");
        return -1;
    }
    PyObject *number = PyLong_FromSsize_t(next);
    int failed = !number || PyDict_SetItem(index, name, number) < 0 || PyList_Append(names, name) < 0;
    Py_XDECREF(number);
    return failed ? -1 : (long)next;
}

/* Index the names of field ``field`` (0 station, 1 point, 4 unit) of every reading into ``codes``
 * (three per reading), so that names are numbered as the Python encoder numbers them: every
 * station first, then points, then units, each in order of first use. */
static int index_field(PyObject *seq, int field, PyObject *empty_unit, PyObject *index, PyObject *names,
                       uint16_t *codes)
{
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *r = PyTuple_GET_ITEM(seq, i);
        if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 6) {
            PyErr_SetString(PyExc_TypeError, "a reading must be a 6-tuple");
            return -1;
        }
        PyObject *name = PyTuple_GET_ITEM(r, field);
        if (!PyUnicode_CheckExact(name)) {  /* a subclass could run Python code to hash or compare */
            PyErr_SetString(PyExc_TypeError, "station, point and unit must be str");
            return -1;
        }
        if (field == 4 && PyUnicode_GET_LENGTH(name) == 0)
            name = empty_unit;
        long code = name_index(index, names, name);
        if (code < 0)
            return -1;
        codes[3 * i + (field == 4 ? 2 : field)] = (uint16_t)code;
    }
    return 0;
}

PyDoc_STRVAR(encode_rows_doc,
"encode_rows(readings, empty_unit) -> (names, rows)\n\n"
"The names (every station, then point, then unit, each in order of first use; an empty unit is\n"
"``empty_unit``) and the packed rows, byte for byte as the Python encoder makes them. TypeError,\n"
"ValueError or OverflowError for a reading that is not a 6-tuple of str, str, int, float or int,\n"
"str and a quality code 0..255 (not subclasses of str, nor objects with __index__ or __float__:\n"
"the caller's Python code takes those).");

static PyObject *encode_rows(PyObject *self, PyObject *args)
{
    PyObject *readings, *empty_unit, *rows = NULL, *seq = NULL, *result = NULL;
    PyObject *index = PyDict_New(), *names = PyList_New(0);
    uint16_t *codes = NULL;
    if (!index || !names || !PyArg_ParseTuple(args, "OU", &readings, &empty_unit))
        goto done;
    /* a tuple of our own: the loops below hold borrowed references to its rows and their fields */
    if (!(seq = PySequence_Tuple(readings)))
        goto done;
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    if (count > PY_SSIZE_T_MAX / ROW / 2 || !(rows = PyBytes_FromStringAndSize(NULL, count * ROW)))
        goto done;
    if (!(codes = PyMem_Malloc((size_t)(3 * count + 1) * sizeof(uint16_t)))) {
        PyErr_NoMemory();
        goto done;
    }
    if (index_field(seq, 0, empty_unit, index, names, codes) < 0 || index_field(seq, 1, empty_unit, index, names, codes) < 0
        || index_field(seq, 4, empty_unit, index, names, codes) < 0)
        goto done;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(rows);
    for (Py_ssize_t i = 0; i < count; i++, p += ROW) {
        PyObject *r = PyTuple_GET_ITEM(seq, i);
        PyObject *t_obj = PyTuple_GET_ITEM(r, 2), *v_obj = PyTuple_GET_ITEM(r, 3), *q_obj = PyTuple_GET_ITEM(r, 5);
        /* ints and floats only (IntEnum is an int): anything else could run Python code here */
        if (!PyLong_Check(t_obj) || !PyLong_Check(q_obj) || !(PyFloat_Check(v_obj) || PyLong_Check(v_obj))) {
            PyErr_SetString(PyExc_TypeError, "time and quality must be int, value float or int");
            goto done;
        }
        long long t = PyLong_AsLongLong(t_obj);
        if (t == -1 && PyErr_Occurred())
            goto done;
        double value = PyFloat_Check(v_obj) ? PyFloat_AS_DOUBLE(v_obj) : PyLong_AsDouble(v_obj);
        if (value == -1.0 && PyErr_Occurred())
            goto done;
        long quality = PyLong_AsLong(q_obj);
        if (quality == -1 && PyErr_Occurred())
            goto done;
        if (quality < 0 || quality > 255) {
            PyErr_SetString(PyExc_OverflowError, "quality code outside 0..255");
            goto done;
        }
        put_u16(p, codes[3 * i]);
        put_u16(p + 2, codes[3 * i + 1]);
        put_u16(p + 4, codes[3 * i + 2]);
        put_u64(p + 6, (uint64_t)t);
        if (PyFloat_Pack8(value, (char *)p + 14, 0) < 0)
            goto done;
        p[22] = (unsigned char)quality;
    }
    result = PyTuple_Pack(2, names, rows);
done:
    PyMem_Free(codes);
    Py_XDECREF(index);
    Py_XDECREF(names);
    Py_XDECREF(seq);
    Py_XDECREF(rows);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_rows", decode_rows, METH_VARARGS, decode_rows_doc},
    {"encode_rows", encode_rows, METH_VARARGS, encode_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "watertel._payload",
    .m_doc = "Envelope payload rows in C (optional; watertel.envelope falls back to Python).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__payload(void) { return PyModule_Create(&module); }
