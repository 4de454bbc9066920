/* Compiled versions of the per-alert hot paths of POST /api/v2/alerts and of a flush's webhooks.
 *
 * Optional: tocsin works without this module (setup.py builds it when a C compiler is present,
 * and model.py / alerts_codec.py fall back to their Python code). Both must give identical
 * results; tests/unit/api/test_speedups.py compares them on generated input.
 *
 *   fingerprint(labels)  Prometheus's label-set fingerprint: FNV-1a 64 over the UTF-8 bytes of
 *                        "name 0xFF value 0xFF" for every pair, sorted by name.
 *   convert(posted, now, default_ends, tenant_id, share, known, parse_time, alert_type, slow)
 *                        the loop of alerts_codec.to_alerts for alerts that need nothing
 *                        unusual; any alert that does (an unknown label name, a bad or missing
 *                        time, no labels, an end before its start, text that is not valid
 *                        UTF-8) is handed whole to slow(i, posted_alert), which returns an Alert
 *                        or an error string, so every rule lives in Python once.
 *   copy_rows(alerts)    the alert-log rows of a commit in PostgreSQL's COPY text format
 *                        (storage/postgres.py, py_copy_rows, says what each row holds); alerts
 *                        by key (None: a tombstone) or as a list of runs (storage/base.py).
 *   log_rows(alerts)     the same rows for SQLite, as one msgpack array of parameter rows
 *                        (storage/sql.py, py_log_rows).
 *   webhook_alerts(alerts, now, format_time_nano, native=False)
 *                        the "alerts" array of a webhook payload as JSON bytes: msgspec's encoding
 *                        of [alert_dict(a, now) for a in alerts] (notify/payload.py), byte for
 *                        byte (tests/unit/notify/test_webhook_alerts_json.py compares the two).
 *   fingerprint_sets(alerts, now), next_end(alerts, now, until), sorted_hex(fingerprints),
 *   common_map(maps), common_labels(alerts), pairs_in_all(alerts, pairs)
 *                        a group flush's per-alert work: the firing and resolved fingerprint
 *                        sets, their sorted hex lists and the next alert end (engine/pipeline.py),
 *                        the labels and annotations all alerts share (notify/base.py); each has a
 *                        Python twin there (tests/unit/engine/test_flush_helpers.py compares them).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <structmember.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static PyObject *s_labels, *s_annotations, *s_startsAt, *s_endsAt, *s_generatorURL, *s_empty;
static PyObject *s_tenant_id, *s_fingerprint, *s_starts_at, *s_ends_at, *s_updated_at, *s_timeout, *s_generator_url;
static PyObject *s_annotations_json, *s_empty_json; /* the slot's name; b"{}" */
static PyObject *s_job, *s_instance;

static inline uint64_t fnv_bytes(uint64_t h, const char *p, Py_ssize_t n) {
    const unsigned char *b = (const unsigned char *)p;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    h ^= 0xff; /* the separator after every name and every value */
    h *= FNV_PRIME;
    return h;
}

/* The names of the last label set fingerprinted (strong references, in the dict's order) and
 * the order that sorts them. Alerts posted together carry the same names in the same order
 * (shared_map copies them in the posted order), so the sort of the names, a third of the
 * fingerprint's cost, is done once for them all. */
#define FP_CACHED_MAX 32
static PyObject *fp_names[FP_CACHED_MAX];
static Py_ssize_t fp_count = 0;
static Py_ssize_t fp_order[FP_CACHED_MAX];

/* Points fp_order at the sorted order of names[0..n), sorting only when they are not the last
 * set's. Returns 0, or -1 with an exception set. */
static inline int same_text(PyObject *a, PyObject *b) {
    /* Exact str both (fingerprint_of checks the names, fp_names holds such names). */
    if (a == b) return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    return n == PyUnicode_GET_LENGTH(b) && PyUnicode_KIND(a) == PyUnicode_KIND(b) &&
           memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * PyUnicode_KIND(a)) == 0;
}

static int sorted_order(PyObject *const *names, Py_ssize_t n) {
    int same = n == fp_count;
    /* By content: the decoder does not always hand out one object per name. */
    for (Py_ssize_t i = 0; same && i < n; i++) same = same_text(names[i], fp_names[i]);
    if (same) return 0;
    PyObject *list = PyList_New(n);
    if (list == NULL) return -1;
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(list, i, Py_NewRef(names[i]));
    if (PyList_Sort(list) < 0) {
        Py_DECREF(list);
        return -1;
    }
    for (Py_ssize_t i = 0; i < fp_count; i++) Py_CLEAR(fp_names[i]);
    fp_count = 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *name = PyList_GET_ITEM(list, j);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (names[i] == name) { /* the list holds the very objects of names[] */
                fp_order[j] = i;
                break;
            }
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) fp_names[i] = Py_NewRef(names[i]);
    fp_count = n;
    Py_DECREF(list);
    return 0;
}

/* A str's UTF-8 text: its own data when it is compact ASCII (what the converters make), else
 * cached by the str. NULL with TypeError or UnicodeEncodeError set. */
static inline const char *label_utf8(PyObject *s, Py_ssize_t *n) {
    if (PyUnicode_Check(s) && PyUnicode_IS_COMPACT_ASCII(s)) {
        *n = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_1BYTE_DATA(s);
    }
    return PyUnicode_AsUTF8AndSize(s, n);
}

/* The fingerprint of the pairs names[i], values[i] (n <= FP_CACHED_MAX, exact str names, no name
 * twice). Sets *out; returns 0, or -1 with an exception set. */
static int fingerprint_pairs(PyObject *const *names, PyObject *const *values, Py_ssize_t n, uint64_t *out) {
    if (sorted_order(names, n) < 0) return -1;
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t len;
        const char *p = label_utf8(names[fp_order[j]], &len);
        if (p == NULL) return -1;
        h = fnv_bytes(h, p, len);
        p = label_utf8(values[fp_order[j]], &len);
        if (p == NULL) return -1;
        h = fnv_bytes(h, p, len);
    }
    *out = h;
    return 0;
}

/* Sets *out; returns 0, or -1 with an exception set (TypeError, UnicodeEncodeError). */
static int fingerprint_of(PyObject *labels, uint64_t *out) {
    if (!PyDict_Check(labels)) {
        PyErr_SetString(PyExc_TypeError, "labels must be a dict");
        return -1;
    }
    Py_ssize_t n = PyDict_GET_SIZE(labels);
    if (n <= FP_CACHED_MAX) {
        /* Borrowed: with exact str names, sorting them runs no Python code, so nothing can
         * change the dict before the values are read. */
        PyObject *names[FP_CACHED_MAX], *values[FP_CACHED_MAX];
        Py_ssize_t pos = 0, i = 0;
        PyObject *k, *v;
        int exact = 1;
        while (exact && PyDict_Next(labels, &pos, &k, &v)) {
            exact = PyUnicode_CheckExact(k);
            names[i] = k;
            values[i++] = v;
        }
        if (exact) return fingerprint_pairs(names, values, n, out);
    }
    PyObject *names_list = PyDict_Keys(labels);
    if (names_list == NULL || PyList_Sort(names_list) < 0) {
        Py_XDECREF(names_list);
        return -1;
    }
    uint64_t h = FNV_OFFSET;
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(names_list); j++) {
        PyObject *name = PyList_GET_ITEM(names_list, j);
        PyObject *value = PyDict_GetItemWithError(labels, name); /* borrowed */
        if (value == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "labels changed during fingerprint");
            Py_DECREF(names_list);
            return -1;
        }
        Py_ssize_t len;
        const char *p = label_utf8(name, &len);
        if (p == NULL) {
            Py_DECREF(names_list);
            return -1;
        }
        h = fnv_bytes(h, p, len);
        p = label_utf8(value, &len);
        if (p == NULL) {
            Py_DECREF(names_list);
            return -1;
        }
        h = fnv_bytes(h, p, len);
    }
    Py_DECREF(names_list);
    *out = h;
    return 0;
}

static PyObject *py_fingerprint(PyObject *Py_UNUSED(self), PyObject *labels) {
    uint64_t h;
    if (fingerprint_of(labels, &h) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(h);
}

/* 1: the parsed time in *out (a new reference, NULL when unset: no value, "" or Go's zero time);
 * 0: not fast (the alert goes to the slow path); -1: error. The float objects come from the
 * cached parse_time, so alerts posted together share them rather than holding 24 bytes each. */
static int time_of(PyObject *value, PyObject *parse_time, PyObject **out) {
    *out = NULL;
    if (value == Py_None) return 1;
    if (!PyUnicode_Check(value)) return 0;
    if (PyUnicode_GET_LENGTH(value) == 0) return 1;
    PyObject *t = PyObject_CallOneArg(parse_time, value);
    if (t == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear(); /* slow() reports it with the alert's index */
            return 0;
        }
        return -1;
    }
    if (!PyFloat_CheckExact(t)) {
        Py_DECREF(t);
        return 0;
    }
    if (PyFloat_AS_DOUBLE(t) == 0.0) {
        Py_DECREF(t); /* "not set", as the Python code's ``if not starts`` */
        return 1;
    }
    *out = t;
    return 1;
}

/* A copy of the map without empty values, each value replaced by its shared copy; NULL with no
 * exception set when a name is not known valid (slow path), NULL with one on error. */
static PyObject *shared_map(PyObject *raw, PyObject *share, PyObject *known) {
    if (raw == Py_None) return PyDict_New();
    if (!PyDict_Check(raw)) return NULL;
    /* A copy of the decoded dict, whose values are then replaced in place: its table is already
     * sized for its pairs, with the compact entries of a dict of str keys. A dict presized for
     * nine labels gets the general entries instead, 80 bytes more for every alert held. */
    PyObject *out = PyDict_Copy(raw);
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    /* The pairs are read from ``raw``, which nothing changes meanwhile: ``out`` is changed. */
    while (PyDict_Next(raw, &pos, &k, &v)) {
        if (!PyUnicode_Check(v) || !PyUnicode_Check(k)) goto slow;
        int ok = PySet_Contains(known, k);
        if (ok < 0) goto error;
        if (!ok) goto slow;
        if (PyUnicode_GET_LENGTH(v) == 0) {
            if (PyDict_DelItem(out, k) < 0) goto error;
            continue;
        }
        PyObject *s = PyDict_SetDefault(share, v, v); /* borrowed */
        if (s == NULL) goto error;
        if (s != v && PyDict_SetItem(out, k, s) < 0) goto error;
    }
    return out;
slow:
    Py_DECREF(out);
    return NULL;
error:
    Py_DECREF(out);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "label map conversion failed");
    return NULL;
}

static PyObject *annotations_json_of(PyObject *raw, PyObject *known);

/* model.Alert's fields in the order of its constructor's parameters. */
static PyObject **const alert_fields[9] = {&s_labels,        &s_annotations_json, &s_starts_at,
                                           &s_ends_at,       &s_generator_url, &s_updated_at,
                                           &s_timeout,       &s_tenant_id,   &s_fingerprint};
static PyObject *layout_type = NULL; /* the type the offsets below were read from */
static Py_ssize_t layout_offsets[9];
static int layout_direct = 0;

/* Whether alert_type is a class of exactly these nine object slots (model.Alert), whose
 * instances new_alert can then fill directly: its __init__ only assigns them, encodes a mapping
 * of annotations (fast_alert passes them encoded) and fills a zero fingerprint (fast_alert never
 * passes one). Anything else (a subclass, a changed layout) is called as a type. */
static int direct_layout(PyObject *alert_type) {
    if (alert_type == layout_type) return layout_direct;
    Py_XSETREF(layout_type, Py_NewRef(alert_type));
    layout_direct = 0;
    if (!PyType_Check(alert_type)) return 0;
    PyTypeObject *t = (PyTypeObject *)alert_type;
    if (t->tp_base != &PyBaseObject_Type || t->tp_dictoffset != 0 || t->tp_itemsize != 0 ||
        t->tp_alloc != PyType_GenericAlloc)
        return 0;
    PyObject *slots = PyObject_GetAttrString(alert_type, "__slots__");
    Py_ssize_t nslots = slots != NULL && PyTuple_Check(slots) ? PyTuple_GET_SIZE(slots) : -1;
    Py_XDECREF(slots);
    PyErr_Clear();
    if (nslots != 9) return 0;
    for (int i = 0; i < 9; i++) {
        PyObject *d = _PyType_Lookup(t, *alert_fields[i]); /* borrowed */
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) return 0;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) return 0;
        layout_offsets[i] = m->offset;
    }
    layout_direct = 1;
    return 1;
}

/* Whether the fields of ``a`` may be read straight from its slots (layout_offsets, in alert_fields
 * order): its class is exactly one direct_layout accepts (model.Alert), and it gets attributes
 * the generic way, so its member descriptors answer getattr. A getattr costs 160 instructions,
 * a slot read a few. */
static inline int slots_readable(PyObject *a) {
    PyTypeObject *t = Py_TYPE(a);
    if ((PyObject *)t != layout_type) direct_layout((PyObject *)t);
    return layout_direct && t->tp_getattro == PyObject_GenericGetAttr;
}

/* Field ``i`` (alert_fields order) of an Alert, a new reference; an unset slot or another class
 * goes through getattr, which raises the AttributeError. */
static inline PyObject *alert_field(PyObject *a, int direct, int i) {
    if (direct) {
        PyObject *v = *(PyObject **)((char *)a + layout_offsets[i]);
        if (v != NULL) return Py_NewRef(v);
    }
    return PyObject_GetAttr(a, *alert_fields[i]);
}

enum {
    ALERT_LABELS = 0,
    ALERT_ANNOTATIONS_JSON = 1,
    ALERT_STARTS_AT = 2,
    ALERT_ENDS_AT = 3,
    ALERT_TENANT_ID = 7,
    ALERT_FINGERPRINT = 8
};

/* getattr(a, name) for any name, read from the slot when ``a`` is an Alert whose slots are
 * readable: the row and payload builders read nine fields of every alert. */
static inline PyObject *attr_of(PyObject *a, PyObject *name) {
    if (slots_readable(a)) {
        for (int i = 0; i < 9; i++)
            if (*alert_fields[i] == name) return alert_field(a, 1, i);
    }
    return PyObject_GetAttr(a, name);
}

/* alert_type(*args): the slots filled directly where the layout allows (calling the dataclass's
 * __init__ and __post_init__ was a tenth of the conversion's instructions). */
static PyObject *new_alert(PyObject *alert_type, PyObject *const *args) {
    if (!direct_layout(alert_type)) return PyObject_Vectorcall(alert_type, args, 9, NULL);
    PyTypeObject *t = (PyTypeObject *)alert_type;
    PyObject *obj = t->tp_alloc(t, 0);
    if (obj == NULL) return NULL;
    for (int i = 0; i < 9; i++) *(PyObject **)((char *)obj + layout_offsets[i]) = Py_NewRef(args[i]);
    return obj;
}

/* The Alert for one posted alert, or NULL: with an exception set on error, without one when
 * the alert needs the slow path. ``now`` and ``default_ends`` are the caller's objects, shared by
 * every alert of the request. */
static PyObject *fast_alert(PyObject *p, PyObject *now, PyObject *default_ends, PyObject *tenant,
                            PyObject *share, PyObject *known, PyObject *parse_time, PyObject *alert_type) {
    PyObject *labels = NULL, *annotations = NULL, *raw = NULL, *gen = NULL, *fp = NULL, *res = NULL;
    PyObject *starts = NULL, *ends = NULL;
    int r;

    raw = PyObject_GetAttr(p, s_startsAt);
    if (raw == NULL) return NULL;
    r = time_of(raw, parse_time, &starts);
    Py_CLEAR(raw);
    if (r <= 0) return NULL;
    raw = PyObject_GetAttr(p, s_endsAt);
    if (raw == NULL) goto done;
    r = time_of(raw, parse_time, &ends);
    Py_CLEAR(raw);
    if (r <= 0) goto done;

    raw = PyObject_GetAttr(p, s_labels);
    if (raw == NULL) goto done;
    labels = shared_map(raw, share, known);
    Py_CLEAR(raw);
    if (labels == NULL) goto done;
    raw = PyObject_GetAttr(p, s_annotations);
    if (raw == NULL) goto done;
    annotations = annotations_json_of(raw, known);
    Py_CLEAR(raw);
    if (annotations == NULL) goto done;

    int timeout = 0;
    if (starts == NULL) starts = Py_NewRef(ends != NULL ? ends : now);
    if (ends == NULL) {
        ends = Py_NewRef(default_ends);
        timeout = 1;
    }
    double s = PyFloat_AsDouble(starts), e = PyFloat_AsDouble(ends);
    if (PyErr_Occurred()) goto done;
    if (e < s || PyDict_GET_SIZE(labels) == 0) goto done; /* the slow path words the error */

    uint64_t h;
    if (fingerprint_of(labels, &h) < 0) {
        /* Invalid UTF-8 (a lone surrogate): let the Python code raise exactly as it does. */
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) PyErr_Clear();
        goto done;
    }
    gen = PyObject_GetAttr(p, s_generatorURL);
    if (gen == NULL) goto done;
    r = gen == Py_None ? 0 : PyObject_IsTrue(gen);
    if (r < 0) goto done;
    if (!r) Py_SETREF(gen, Py_NewRef(s_empty));
    fp = PyLong_FromUnsignedLongLong(h);
    if (fp == NULL) goto done;
    PyObject *args[9] = {labels, annotations, starts, ends, gen, now, timeout ? Py_True : Py_False, tenant, fp};
    res = new_alert(alert_type, args);
done:
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(labels);
    Py_XDECREF(annotations);
    Py_XDECREF(gen);
    Py_XDECREF(fp);
    return res;
}

static PyObject *py_convert(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "convert() takes 9 arguments");
        return NULL;
    }
    PyObject *posted = args[0], *tenant = args[3], *share = args[4], *known = args[5];
    PyObject *now = args[1], *default_ends = args[2];
    PyObject *parse_time = args[6], *alert_type = args[7], *slow = args[8];
    if (!PyDict_Check(share) || !PyAnySet_Check(known)) {
        PyErr_SetString(PyExc_TypeError, "convert(): share must be a dict and known a set");
        return NULL;
    }
    /* A tuple of its own: slow() runs Python code, which must not be able to resize what the
     * loop walks. */
    PyObject *seq = PySequence_Tuple(posted);
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *valid = PyList_New(0), *errors = PyList_New(0);
    if (valid == NULL || errors == NULL) goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyTuple_GET_ITEM(seq, i);
        PyObject *a = fast_alert(p, now, default_ends, tenant, share, known, parse_time, alert_type);
        if (a == NULL) {
            if (PyErr_Occurred()) goto error;
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL) goto error;
            a = PyObject_CallFunctionObjArgs(slow, index, p, NULL);
            Py_DECREF(index);
            if (a == NULL) goto error;
            if (PyUnicode_Check(a)) {
                int rc = PyList_Append(errors, a);
                Py_DECREF(a);
                if (rc < 0) goto error;
                continue;
            }
        }
        int rc = PyList_Append(valid, a);
        Py_DECREF(a);
        if (rc < 0) goto error;
    }
    Py_DECREF(seq);
    PyObject *out = PyTuple_Pack(2, valid, errors);
    Py_DECREF(valid);
    Py_DECREF(errors);
    return out;
error:
    Py_DECREF(seq);
    Py_XDECREF(valid);
    Py_XDECREF(errors);
    return NULL;
}


/* --- copy_rows: COPY text for the PostgreSQL alert log ----------------------------------------- */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
    PyObject *bytes; /* when set, p is this bytes object's own storage (buf_bytes) */
} buf_t;

static int buf_grow(buf_t *b, Py_ssize_t more) {
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    if (b->bytes != NULL) {
        if (_PyBytes_Resize(&b->bytes, cap) < 0) { /* it freed the object */
            b->p = NULL;
            return -1;
        }
        b->p = PyBytes_AS_STRING(b->bytes);
        b->cap = cap;
        return 0;
    }
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(buf_t *b, const char *s, Py_ssize_t n) {
    if (buf_grow(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

/* A buffer written straight into a new bytes object of ``cap`` bytes (grown as needed), which
 * buf_bytes_finish returns cut to length: a commit's rows (tens of KiB) are then not copied once
 * more into the bytes object returned. On an error, Py_XDECREF(b->bytes) frees it. */
static int buf_bytes(buf_t *b, Py_ssize_t cap) {
    b->bytes = PyBytes_FromStringAndSize(NULL, cap > 0 ? cap : 1);
    if (b->bytes == NULL) return -1;
    b->p = PyBytes_AS_STRING(b->bytes);
    b->len = 0;
    b->cap = cap > 0 ? cap : 1;
    return 0;
}

static PyObject *buf_bytes_finish(buf_t *b) {
    PyObject *out = b->bytes;
    b->bytes = NULL;
    if (_PyBytes_Resize(&out, b->len) < 0) return NULL;
    return out;
}

/* The UTF-8 text of a str (borrowed, cached by the str), or NULL with TypeError set when ``s`` is
 * not a str and UnicodeEncodeError when it holds a lone surrogate. */
static const char *utf8_of(PyObject *s, Py_ssize_t *n) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(s, n);
}

/* Text as a COPY field: COPY's own escapes for backslash, tab, newline and carriage return. */
static int put_copy_escaped(buf_t *b, const char *u, Py_ssize_t n) {
    if (buf_grow(b, 2 * n) < 0) return -1;
    char *o = b->p + b->len;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = u[i];
        switch (c) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        default: *o++ = c;
        }
    }
    b->len = o - b->p;
    return 0;
}

/* A text field. */
static int put_text(buf_t *b, PyObject *s) {
    Py_ssize_t n;
    const char *u = utf8_of(s, &n);
    return u == NULL ? -1 : put_copy_escaped(b, u, n);
}

/* An Alert's annotations (JSON text as bytes) as a COPY field. */
static int put_json_bytes(buf_t *b, PyObject *s) {
    if (!PyBytes_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected bytes, got %.100s", Py_TYPE(s)->tp_name);
        return -1;
    }
    return put_copy_escaped(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s));
}

/* UTF-8 text as a JSON string, as msgspec writes it (raw UTF-8; \" \\ \b \f \n \r \t, other
 * controls as \u00XX), with every backslash doubled when ``copy`` (COPY's own escaping on top of
 * JSON's). */
/* Whether any of the n bytes at u is one a JSON string escapes (a control character, '"' or
 * '\\'), eight bytes at a time: label texts are short, and the byte-by-byte scan the compiler
 * made of them cost five instructions a byte. Each test is the "has a zero byte" trick, exact
 * for whether any byte matches (a borrow only spreads upwards from a byte that does). */
static inline int needs_escape(const char *u, Py_ssize_t n) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t hit = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, s;
        memcpy(&w, u + i, 8);
        q = w ^ (ones * '"');
        s = w ^ (ones * '\\');
        hit |= ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((s - ones) & ~s);
    }
    if (hit & highs) return 1;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c < 0x20 || c == '"' || c == '\\') return 1;
    }
    return 0;
}

static int put_json_utf8(buf_t *b, const char *u, Py_ssize_t n, int copy) {
    static const char hex[] = "0123456789abcdef";
    /* Label text rarely needs an escape: find out first, and copy such a string whole (the
     * byte-by-byte loop was 14 instructions a byte). */
    if (!needs_escape(u, n)) {
        if (buf_grow(b, n + 2) < 0) return -1;
        char *o = b->p + b->len;
        *o++ = '"';
        memcpy(o, u, (size_t)n);
        o[n] = '"';
        b->len += n + 2;
        return 0;
    }
    if (buf_grow(b, 7 * n + 2) < 0) return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        if (copy) *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\':
            *o++ = '\\';
            if (copy) *o++ = '\\';
            break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = o - b->p;
    return 0;
}

static int put_json_string_as(buf_t *b, PyObject *s, int copy) {
    Py_ssize_t n;
    const char *u = utf8_of(s, &n);
    return u == NULL ? -1 : put_json_utf8(b, u, n, copy);
}

static int put_json_map_as(buf_t *b, PyObject *m, int copy) {
    if (!PyDict_Check(m)) {
        PyErr_Format(PyExc_TypeError, "expected dict, got %.100s", Py_TYPE(m)->tp_name);
        return -1;
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    int first = 1;
    if (buf_put(b, "{", 1) < 0) return -1;
    while (PyDict_Next(m, &pos, &k, &v)) {
        if (!first && buf_put(b, ",", 1) < 0) return -1;
        first = 0;
        if (put_json_string_as(b, k, copy) < 0 || buf_put(b, ":", 1) < 0 || put_json_string_as(b, v, copy) < 0)
            return -1;
    }
    return buf_put(b, "}", 1);
}

/* A map as a JSON field of a COPY row. */
static int put_json_map(buf_t *b, PyObject *m) { return put_json_map_as(b, m, 1); }

/* Reused by annotations_json_of, which runs under the GIL and calls no Python code while
 * writing: one buffer instead of an allocation per alert. */
static buf_t annotations_buf = {NULL, 0, 0};

/* The annotations of a posted alert as model.Alert holds them (model.encode_annotations: compact
 * JSON with the names sorted, empty values left out). NULL with no exception set when a name is
 * not known valid, a value is not a str or the text is not valid UTF-8 (slow path), NULL with
 * one on error. */
static PyObject *annotations_json_of(PyObject *raw, PyObject *known) {
    if (raw == Py_None) return Py_NewRef(s_empty_json);
    if (!PyDict_Check(raw)) return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(raw);
    if (n == 0) return Py_NewRef(s_empty_json);
    PyObject *stack[2 * 16], **kv = stack; /* borrowed (name, value) pairs, sorted by name */
    if (n > 16) {
        kv = PyMem_Malloc(sizeof(PyObject *) * 2 * (size_t)n);
        if (kv == NULL) return PyErr_NoMemory();
    }
    PyObject *res = NULL, *k, *v;
    Py_ssize_t m = 0, pos = 0;
    while (PyDict_Next(raw, &pos, &k, &v)) {
        if (!PyUnicode_Check(v) || !PyUnicode_Check(k)) goto done;
        if (PyUnicode_GET_LENGTH(v) == 0) continue;
        int ok = PySet_Contains(known, k);
        if (ok <= 0) goto done; /* -1: the error stays set */
        /* Insertion sort: an alert has a handful of annotations. Code-point order, which is the
         * byte order of their UTF-8 (Go's and msgspec's order="sorted"). */
        Py_ssize_t j = m++;
        while (j > 0 && PyUnicode_Compare(kv[2 * (j - 1)], k) > 0) {
            kv[2 * j] = kv[2 * j - 2];
            kv[2 * j + 1] = kv[2 * j - 1];
            j--;
        }
        kv[2 * j] = k;
        kv[2 * j + 1] = v;
    }
    if (m == 0) {
        res = Py_NewRef(s_empty_json);
        goto done;
    }
    buf_t *b = &annotations_buf;
    b->len = 0;
    if (buf_put(b, "{", 1) < 0) goto done;
    for (Py_ssize_t i = 0; i < m; i++) {
        if ((i && buf_put(b, ",", 1) < 0) || put_json_string_as(b, kv[2 * i], 0) < 0 ||
            buf_put(b, ":", 1) < 0 || put_json_string_as(b, kv[2 * i + 1], 0) < 0) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) PyErr_Clear(); /* the slow path says */
            goto done;
        }
    }
    if (buf_put(b, "}", 1) < 0) goto done;
    res = PyBytes_FromStringAndSize(b->p, b->len);
done:
    if (kv != stack) PyMem_Free(kv);
    return res;
}

/* The fingerprint as PostgreSQL's signed BIGINT (storage/sql.py to_signed). */
static int put_fingerprint(buf_t *b, PyObject *fp) {
    unsigned long long v = PyLong_AsUnsignedLongLong(fp);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    return buf_put(b, tmp, n);
}

/* The text last written for a float in one column, and that float (compared by its bits: 0.0 and
 * -0.0 are two keys, a NaN matches itself). The alerts of one request, or of one flush, share
 * their times, and formatting one is the dearest part of writing it. */
typedef struct {
    double value;
    char text[64];
    int len; /* 0: empty */
} float_memo_t;

/* repr() of the float, which PostgreSQL's float8 input reads back exactly (inf and nan too). */

static int put_float_memo(buf_t *b, PyObject *x, float_memo_t *memo) {
    double d = PyFloat_AsDouble(x);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    if (memo->len == 0 || memcmp(&memo->value, &d, sizeof d) != 0) {
        char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (s == NULL) return -1;
        size_t n = strlen(s);
        if (n >= sizeof memo->text) { /* cannot happen for a double's repr; stay correct anyway */
            int rc = buf_put(b, s, (Py_ssize_t)n);
            PyMem_Free(s);
            memo->len = 0;
            return rc;
        }
        memcpy(memo->text, s, n);
        PyMem_Free(s);
        memo->value = d;
        memo->len = (int)n;
    }
    return buf_put(b, memo->text, memo->len);
}

/* put(b, obj.name): the attribute written by one of the writers above. */
static int put_attr_with(buf_t *b, PyObject *obj, PyObject *name, int (*put)(buf_t *, PyObject *)) {
    PyObject *v = attr_of(obj, name);
    if (v == NULL) return -1;
    int rc = put(b, v);
    Py_DECREF(v);
    return rc;
}

/* The attribute as a COPY field, then ``after`` (the tab or the end of the row). */
static int put_attr(buf_t *b, PyObject *obj, PyObject *name, int (*put)(buf_t *, PyObject *), const char *after) {
    return put_attr_with(b, obj, name, put) < 0 ? -1 : buf_put(b, after, (Py_ssize_t)strlen(after));
}

static int put_alert_row(buf_t *b, PyObject *a, float_memo_t memo[3]) {
    if (put_attr(b, a, s_tenant_id, put_text, "\t") < 0 || put_attr(b, a, s_fingerprint, put_fingerprint, "\t") < 0 ||
        put_attr(b, a, s_labels, put_json_map, "\t") < 0 || put_attr(b, a, s_annotations_json, put_json_bytes, "\t") < 0)
        return -1;
    PyObject *const names[3] = {s_starts_at, s_ends_at, s_updated_at};
    for (int i = 0; i < 3; i++) {
        PyObject *t = attr_of(a, names[i]);
        if (t == NULL) return -1;
        int rc = put_float_memo(b, t, &memo[i]);
        Py_DECREF(t);
        if (rc < 0 || buf_put(b, "\t", 1) < 0) return -1;
    }
    PyObject *t = attr_of(a, s_timeout);
    if (t == NULL) return -1;
    int timeout = PyObject_IsTrue(t);
    Py_DECREF(t);
    if (timeout < 0 || buf_put(b, timeout ? "1\t" : "0\t", 2) < 0) return -1;
    return put_attr(b, a, s_generator_url, put_text, "\t0\n");
}

#define TOMBSTONE_TAIL "\t{}\t{}\t0.0\t0.0\t0.0\t0\t\t1\n"

/* What copy_rows and log_rows take (storage/base.py AlertRows): a dict by (tenant_id, fingerprint)
 * whose None values are tombstones, or a list of runs (lists) of stored Alerts. put(b, key, alert)
 * gets the key only for a tombstone. Nothing in put runs Python code (Alert's fields are plain
 * slots), so neither the dict nor the lists can change meanwhile. */
typedef int (*row_put_t)(buf_t *b, PyObject *key, PyObject *alert, void *ctx);

static int rows_count(PyObject *rows, const char *fname, Py_ssize_t *count) {
    if (PyDict_Check(rows)) {
        *count = PyDict_GET_SIZE(rows);
        return 0;
    }
    if (!PyList_Check(rows)) {
        PyErr_Format(PyExc_TypeError, "%s() takes a dict or a list of runs", fname);
        return -1;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *run = PyList_GET_ITEM(rows, i);
        if (!PyList_Check(run)) {
            PyErr_Format(PyExc_TypeError, "%s(): run %zd is not a list", fname, i);
            return -1;
        }
        n += PyList_GET_SIZE(run);
    }
    *count = n;
    return 0;
}

static int each_row(PyObject *rows, const char *fname, row_put_t put, buf_t *b, void *ctx) {
    if (PyDict_Check(rows)) {
        Py_ssize_t pos = 0;
        PyObject *key, *a;
        while (PyDict_Next(rows, &pos, &key, &a)) {
            if (a != Py_None) {
                if (put(b, NULL, a, ctx) < 0) return -1;
                continue;
            }
            if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2) {
                PyErr_Format(PyExc_TypeError, "%s(): keys must be (tenant_id, fingerprint)", fname);
                return -1;
            }
            if (put(b, key, NULL, ctx) < 0) return -1;
        }
        return 0;
    }
    /* A list of runs, which rows_count has checked (every caller counts the rows first). */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *run = PyList_GET_ITEM(rows, i);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(run); j++) {
            PyObject *a = PyList_GET_ITEM(run, j);
            if (a == Py_None) {
                PyErr_Format(PyExc_TypeError, "%s(): a run holds None (tombstones go by key)", fname);
                return -1;
            }
            if (put(b, NULL, a, ctx) < 0) return -1;
        }
    }
    return 0;
}

static int put_copy_row(buf_t *b, PyObject *key, PyObject *a, void *memo) {
    if (a != NULL) return put_alert_row(b, a, (float_memo_t *)memo);
    /* A tombstone: the key, empty maps, zero times, deleted = 1. */
    if (put_text(b, PyTuple_GET_ITEM(key, 0)) < 0 || buf_put(b, "\t", 1) < 0 ||
        put_fingerprint(b, PyTuple_GET_ITEM(key, 1)) < 0)
        return -1;
    return buf_put(b, TOMBSTONE_TAIL, (Py_ssize_t)strlen(TOMBSTONE_TAIL));
}

static PyObject *py_copy_rows(PyObject *Py_UNUSED(self), PyObject *alerts) {
    buf_t b = {NULL, 0, 0, NULL};
    float_memo_t memo[3] = {{0}};
    Py_ssize_t count;
    if (rows_count(alerts, "copy_rows", &count) < 0 || buf_bytes(&b, 512 * count) < 0) return NULL;
    if (each_row(alerts, "copy_rows", put_copy_row, &b, memo) < 0) goto error;
    return buf_bytes_finish(&b);
error:
    Py_XDECREF(b.bytes);
    return NULL;
}

/* --- parse_alerts: POST /api/v2/alerts from its body to Alerts in one pass ------------------------- */

/* msgspec decoding the body into PostableAlert structs and convert() then turning those into
 * Alerts were together the largest share of the event loop's time while ingesting (28% at
 * 250k): every label value became a new str, hashed, looked up in the shared table and dropped
 * again, every alert got a struct and a dict of annotations only to be copied. parse_alerts reads
 * the JSON text itself and builds the Alerts directly: repeated texts come from a table keyed by
 * their bytes, annotations go from the body's text to their canonical JSON without becoming
 * objects. It takes only the body Prometheus and amtool send: an array of objects with the five
 * documented fields, values of the documented types, label names that are valid, times that
 * parse, at least one label, an end not before the start, no duplicate names. For anything else
 * it returns None and the caller runs the general path (decode_postable_alerts and to_alerts),
 * which words every error: no rule or message lives here. */

#define BAIL 0 /* return codes of the scanners below: 1 ok, 0 bail out (not an error), -1 error */

typedef struct {
    const char *p, *end;
    buf_t tmp; /* the unescaped text of the last string that held an escape */
} scan_t;

static inline void skip_ws(scan_t *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

/* Whether the next token is ``c`` (after white space); consumes it when it is. */
static inline int eat(scan_t *s, char c) {
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static inline int eat_null(scan_t *s) {
    skip_ws(s);
    if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
        s->p += 4;
        return 1;
    }
    return 0;
}

static inline int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* The string token at s->p (after white space): its text in *u / *n (the body itself, or s->tmp
 * when it held escapes; valid until the next string) and whether it is all ASCII. Text that
 * is not ASCII is not checked here: it is valid UTF-8 only once checked_utf8 says so. */
static int scan_string(scan_t *s, const char **u, Py_ssize_t *n, int *ascii) {
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"') return BAIL;
    const char *start = ++s->p, *p = start, *end = s->end;
    unsigned char high = 0;
    for (;;) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* Eight bytes at a time to the first that is a quote, a backslash, a control character
         * or part of a multi-byte character: label text is mostly short plain ASCII, and byte by
         * byte this scan was a quarter of the whole function. The lowest byte the masks flag is
         * always one of those (a borrow only runs upwards from a flagged byte). */
        if (end - p >= 8) {
            const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
            uint64_t w, q, b;
            memcpy(&w, p, 8);
            q = w ^ (ones * '"');
            b = w ^ (ones * '\\');
            uint64_t flagged = (((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w) & highs;
            if (!flagged) {
                p += 8;
                continue;
            }
            p += __builtin_ctzll(flagged) >> 3;
        }
#endif
        if (p >= end) return BAIL; /* unterminated */
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') break;
        if (c < 0x20) return BAIL; /* a raw control character */
        high |= c;
        p++;
    }
    if (*p == '"') {
        *u = start;
        *n = p - start;
        *ascii = high < 0x80;
        s->p = p + 1;
        return 1;
    }
    /* Escapes: the rest is unescaped into s->tmp. */
    buf_t *t = &s->tmp;
    t->len = 0;
    if (buf_put(t, start, p - start) < 0) return -1;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20) return BAIL;
        if (c != '\\') {
            high |= c;
            if (buf_put(t, p++, 1) < 0) return -1;
            continue;
        }
        if (end - p < 2) return BAIL;
        char e = p[1], out;
        p += 2;
        switch (e) {
        case '"': out = '"'; break;
        case '\\': out = '\\'; break;
        case '/': out = '/'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'n': out = '\n'; break;
        case 'r': out = '\r'; break;
        case 't': out = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (end - p < 4 || !hex4(p, &cp)) return BAIL;
            p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return BAIL; /* a lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return BAIL; /* a lone high surrogate */
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char enc[4];
            Py_ssize_t k;
            if (cp < 0x80) {
                enc[0] = (char)cp;
                k = 1;
            } else if (cp < 0x800) {
                enc[0] = (char)(0xC0 | (cp >> 6));
                enc[1] = (char)(0x80 | (cp & 0x3F));
                k = 2;
            } else if (cp < 0x10000) {
                enc[0] = (char)(0xE0 | (cp >> 12));
                enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                enc[2] = (char)(0x80 | (cp & 0x3F));
                k = 3;
            } else {
                enc[0] = (char)(0xF0 | (cp >> 18));
                enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                enc[3] = (char)(0x80 | (cp & 0x3F));
                k = 4;
            }
            high |= (unsigned char)enc[0];
            if (buf_put(t, enc, k) < 0) return -1;
            continue;
        }
        default: return BAIL;
        }
        if (buf_put(t, &out, 1) < 0) return -1;
    }
    if (p >= end) return BAIL;
    s->p = p + 1;
    *u = t->p ? t->p : "";
    *n = t->len;
    *ascii = high < 0x80;
    return 1;
}

/* 1 when the text is valid UTF-8 (Python's strict decoder decides), 0 when not. */
static int checked_utf8(const char *u, Py_ssize_t n, int ascii) {
    if (ascii) return 1;
    PyObject *t = PyUnicode_DecodeUTF8(u, n, NULL);
    if (t == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(t);
    return 1;
}

/* Bytes of label names: 1 may start one ([a-zA-Z_]), 2 may only follow ([0-9]). Filled at import. */
static unsigned char name_byte[256];

/* Prometheus's label name rule, [a-zA-Z_][a-zA-Z0-9_]*, on the text itself. */
static int valid_name(const char *u, Py_ssize_t n) {
    if (n == 0 || name_byte[(unsigned char)u[0]] != 1) return 0;
    for (Py_ssize_t i = 1; i < n; i++)
        if (name_byte[(unsigned char)u[i]] == 0) return 0;
    return 1;
}

/* Texts seen before, by their bytes: label names and values, generator URLs. Alerts posted
 * together repeat most of their label values (job, severity, cluster, ...): the general path's
 * decoder made a new str of each, which alerts_codec._SHARED then swapped for one shared copy;
 * here a repeated text is found by its bytes before any str is made. Four ways per set, each
 * marked once its text recurs: a new text replaces one that has not recurred, in turn, so the
 * values alerts share stay. Only ASCII texts are kept (a str's data is then its bytes: one memcmp
 * compares). Unique texts no longer go through _SHARED either: that table took three new strs per
 * alert and was rebuilt every 20k alerts, a seventh of this function's work.
 *
 * A text enters the cache only the second time it is seen (``text_seen``, a bit per hash, cleared
 * whenever an eighth of it has been set): a flood of unique texts (instance, pod, id) passes by
 * without displacing anything. When each of them displaced a cached text, dropping that text's
 * reference touched a str of an alert posted long before, out of every CPU cache: with 250k alerts
 * held, 40% of this function's time (perf) was that one decrement. A recurring text costs one
 * unshared str, its first. A set fills one 64-byte cache line: 4 ways of a pointer and the
 * upper half of the text's hash. */
#define TEXT_SETS 4096
#define TEXT_WAYS 4
#define TEXT_CACHE_MAX_LEN 1024
typedef struct {
    PyObject *text[TEXT_WAYS];
    uint32_t tag[TEXT_WAYS]; /* the hash's upper 32 bits; its lower ones picked the set */
    uint8_t recurred[TEXT_WAYS];
    uint8_t next; /* where the search for a way to replace starts: they take turns */
} __attribute__((aligned(64))) text_set_t;
static text_set_t text_cache[TEXT_SETS];

#define SEEN_BITS (1 << 19) /* 64 KiB */
static uint64_t text_seen[SEEN_BITS / 64];
static Py_ssize_t text_seen_set;

/* Whether a text with hash ``h`` was seen since the last clearing; marks it seen. */
static inline int seen_before(uint64_t h) {
    uint64_t bit = (h >> 12) & (SEEN_BITS - 1); /* bits the set index does not use */
    uint64_t *word = &text_seen[bit >> 6], mask = 1ULL << (bit & 63);
    if (*word & mask) return 1;
    *word |= mask;
    if (++text_seen_set >= SEEN_BITS / 8) { /* keeps false positives under an eighth */
        memset(text_seen, 0, sizeof text_seen);
        text_seen_set = 0;
    }
    return 0;
}

static inline uint64_t bytes_hash(const char *p, Py_ssize_t n) {
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL, w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, p, (size_t)n);
    h ^= w;
    /* MurmurHash3's finaliser: every bit of the text reaches the low bits that pick the set
     * (without it, texts that differ only after their first bytes, as "zone-1" and "zone-2",
     * all fell into one set and displaced each other). */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static inline PyObject *new_ascii(const char *u, Py_ssize_t n) {
    PyObject *t = PyUnicode_New(n, 127);
    if (t != NULL) memcpy(PyUnicode_1BYTE_DATA(t), u, (size_t)n);
    return t;
}

/* The str of the text (a new reference), shared with earlier alerts where the cache or ``share``
 * has it. NULL without an exception when the text is not valid UTF-8 (decoding it is the check),
 * NULL with one on error. */
static PyObject *shared_text(const char *u, Py_ssize_t n, int ascii, PyObject *share, int *cached) {
    *cached = 1;
    if (!ascii || n > TEXT_CACHE_MAX_LEN) {
        /* Rare: shared through the general path's table, as that path shares them. */
        PyObject *t = PyUnicode_DecodeUTF8(u, n, NULL);
        if (t == NULL) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear(); /* the caller bails */
            return NULL;
        }
        PyObject *s = PyDict_SetDefault(share, t, t); /* borrowed */
        Py_DECREF(t);
        return Py_XNewRef(s);
    }
    uint64_t h = bytes_hash(u, n);
    text_set_t *set = &text_cache[h & (TEXT_SETS - 1)];
    uint32_t tag = (uint32_t)(h >> 32);
    for (int i = 0; i < TEXT_WAYS; i++) {
        PyObject *t = set->text[i];
        if (t != NULL && set->tag[i] == tag && PyUnicode_GET_LENGTH(t) == n &&
            memcmp(PyUnicode_1BYTE_DATA(t), u, (size_t)n) == 0) {
            set->recurred[i] = 1;
            return Py_NewRef(t);
        }
    }
    *cached = 0;
    PyObject *t = new_ascii(u, n);
    if (t == NULL || !seen_before(h)) return t;
    /* The next way, in turn, that is empty or has not recurred; when all four have, every one
     * must recur again to keep its place. */
    int v = -1;
    for (int i = 0; i < TEXT_WAYS && v < 0; i++) {
        int w = (set->next + i) % TEXT_WAYS;
        if (set->text[w] == NULL || !set->recurred[w]) v = w;
    }
    if (v < 0) {
        v = set->next;
        for (int i = 0; i < TEXT_WAYS; i++) set->recurred[i] = 0;
    }
    set->next = (uint8_t)((v + 1) % TEXT_WAYS);
    Py_XSETREF(set->text[v], Py_NewRef(t));
    set->tag[v] = tag;
    set->recurred[v] = 0;
    return t;
}

/* The text read at the same place in the alert before: label names come in the same order alert
 * after alert, and many values (alertname, job, severity, cluster) repeat from one alert to the
 * next. Comparing with that str, whose bytes are in the CPU's cache, spares most lookups in
 * text_cache, each of which loaded a cache line that the alerts built since had pushed out (the
 * lookup's load was most of shared_text's time under perf at 250k alerts).
 *
 * A place whose last RECENT_NEW_RUN texts were all new to the cache (instance, an id, a URL
 * per alert) skips the cache and the seen-once bits too, but for one text in RECENT_PROBE, so
 * that the place returns to the cache once its texts recur. A place whose values take turns
 * (a zone out of 50, alert after alert) finds them cached from their third round: the run must
 * be longer than two rounds of the values a place cycles through, or it would stop looking
 * before they recur. Strong references; a slot per label position (names and values apart), and
 * one for the generator URL. */
#define RECENT_LABELS 32
#define RECENT_NEW_RUN 200
#define RECENT_PROBE 16
typedef struct {
    PyObject *text;
    uint8_t new_run; /* texts in a row that were new to the cache (saturates) */
    uint8_t skipped; /* lookups skipped since the last probe */
} recent_t;
static recent_t recent_names[RECENT_LABELS], recent_values[RECENT_LABELS], recent_url;

/* ``shared_text``, first trying the text the slot holds, and remembering the result there. */
static PyObject *recent_text(recent_t *slot, const char *u, Py_ssize_t n, int ascii, PyObject *share) {
    PyObject *p = slot->text, *t;
    if (p != NULL && ascii && PyUnicode_GET_LENGTH(p) == n && PyUnicode_IS_ASCII(p) &&
        memcmp(PyUnicode_1BYTE_DATA(p), u, (size_t)n) == 0)
        return Py_NewRef(p);
    if (ascii && n <= TEXT_CACHE_MAX_LEN && slot->new_run >= RECENT_NEW_RUN && ++slot->skipped < RECENT_PROBE) {
        t = new_ascii(u, n);
    } else {
        int cached;
        slot->skipped = 0;
        t = shared_text(u, n, ascii, share, &cached);
        slot->new_run = cached ? 0 : (uint8_t)(slot->new_run < 255 ? slot->new_run + 1 : 255);
    }
    if (t != NULL) Py_XSETREF(slot->text, Py_NewRef(t));
    return t;
}

/* Forget every cached text and every text seen once: the cache's references go, and the next
 * sighting of any text counts as its first. */
static PyObject *py_clear_text_cache(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored)) {
    for (int s = 0; s < TEXT_SETS; s++) {
        for (int i = 0; i < TEXT_WAYS; i++) Py_CLEAR(text_cache[s].text[i]);
        memset(&text_cache[s], 0, sizeof text_cache[s]);
    }
    memset(text_seen, 0, sizeof text_seen);
    text_seen_set = 0;
    for (int i = 0; i < RECENT_LABELS; i++) {
        Py_CLEAR(recent_names[i].text);
        Py_CLEAR(recent_values[i].text);
    }
    Py_CLEAR(recent_url.text);
    memset(recent_names, 0, sizeof recent_names);
    memset(recent_values, 0, sizeof recent_values);
    memset(&recent_url, 0, sizeof recent_url);
    Py_RETURN_NONE;
}

/* The labels of one alert as parse_alerts reads them: the dict, and its pairs in order
 * (borrowed from it) for the fingerprint, when they are few enough to list (count -1 if not). */
typedef struct {
    PyObject *dict;
    PyObject *names[FP_CACHED_MAX], *values[FP_CACHED_MAX];
    Py_ssize_t count;
} scanned_labels_t;

/* The labels object: a new dict of shared strs in the posted order, empty values left out.
 * 1, 0 (bail: out->dict left NULL) or -1. */
static int scan_labels(scan_t *s, PyObject *share, scanned_labels_t *out) {
    out->dict = NULL;
    out->count = 0;
    if (!eat(s, '{')) return BAIL;
    PyObject *labels = PyDict_New();
    if (labels == NULL) return -1;
    int r = BAIL;
    if (eat(s, '}')) goto done_ok;
    for (;;) {
        const char *u;
        Py_ssize_t n;
        int ascii;
        if ((r = scan_string(s, &u, &n, &ascii)) <= 0) goto fail;
        r = BAIL;
        if (!valid_name(u, n)) goto fail;
        int pos = (int)(PyDict_GET_SIZE(labels) % RECENT_LABELS);
        PyObject *name = recent_text(&recent_names[pos], u, n, 1, share);
        if (name == NULL) goto error;
        if (!eat(s, ':') || (r = scan_string(s, &u, &n, &ascii)) <= 0) {
            Py_DECREF(name);
            goto fail;
        }
        r = BAIL;
        Py_ssize_t before = PyDict_GET_SIZE(labels);
        if (n == 0) {
            /* An empty value means no such label; after a value for the same name it would
             * remove that label, which only the general path does. */
            int dup = PyDict_Contains(labels, name);
            Py_DECREF(name);
            if (dup < 0) goto error;
            if (dup) goto fail;
        } else {
            PyObject *value = recent_text(&recent_values[pos], u, n, ascii, share);
            if (value == NULL) {
                Py_DECREF(name);
                if (PyErr_Occurred()) goto error;
                goto fail; /* not UTF-8 */
            }
            int rc = PyDict_SetItem(labels, name, value);
            if (rc == 0 && out->count >= 0) {
                if (out->count < FP_CACHED_MAX) {
                    out->names[out->count] = name; /* the dict holds them from now on */
                    out->values[out->count++] = value;
                } else {
                    out->count = -1;
                }
            }
            Py_DECREF(name);
            Py_DECREF(value);
            if (rc < 0) goto error;
            if (PyDict_GET_SIZE(labels) == before) goto fail; /* a name given twice */
        }
        if (eat(s, ',')) continue;
        if (eat(s, '}')) break;
        goto fail;
    }
done_ok:
    out->dict = labels;
    return 1;
fail:
    Py_DECREF(labels);
    return r;
error:
    Py_DECREF(labels);
    return -1;
}

/* One annotation: where its name and value lie in the alert's annotation text. */
typedef struct {
    Py_ssize_t name, name_len, value, value_len;
} ann_t;

#define MAX_ANNOTATIONS 64

static int ann_before(const char *text, const ann_t *a, const ann_t *b) {
    Py_ssize_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(text + a->name, text + b->name, (size_t)n);
    return c < 0 || (c == 0 && a->name_len < b->name_len);
}

/* The annotations object (or null) as model.Alert holds them: compact JSON with the names in
 * byte order (the code-point order model.encode_annotations sorts by), empty values left out.
 * 1 with a new reference in *out, 0 (bail) or -1. */
static int scan_annotations(scan_t *s, buf_t *text, PyObject **out) {
    *out = NULL;
    if (!eat_null(s) && !eat(s, '{')) return BAIL; /* neither null nor an object */
    if (s->p[-1] == 'l' || eat(s, '}')) {
        *out = Py_NewRef(s_empty_json);
        return 1;
    }
    ann_t ann[MAX_ANNOTATIONS];
    int m = 0, r;
    text->len = 0;
    for (;;) {
        const char *u;
        Py_ssize_t n;
        int ascii;
        if (m == MAX_ANNOTATIONS || (r = scan_string(s, &u, &n, &ascii)) <= 0) return m == MAX_ANNOTATIONS ? BAIL : r;
        if (!valid_name(u, n)) return BAIL;
        ann_t a = {text->len, n, 0, 0};
        if (buf_put(text, u, n) < 0) return -1;
        if (!eat(s, ':') || (r = scan_string(s, &u, &n, &ascii)) <= 0) return r < 0 ? -1 : BAIL;
        if (!checked_utf8(u, n, ascii)) return BAIL;
        a.value = text->len;
        a.value_len = n;
        if (buf_put(text, u, n) < 0) return -1;
        /* Insertion sort by name: an alert has a handful of annotations. */
        int j = m++;
        while (j > 0 && ann_before(text->p, &a, &ann[j - 1])) {
            ann[j] = ann[j - 1];
            j--;
        }
        ann[j] = a;
        if (eat(s, ',')) continue;
        if (eat(s, '}')) break;
        return BAIL;
    }
    for (int i = 1; i < m; i++) /* a name given twice: the general path keeps the last one */
        if (ann[i].name_len == ann[i - 1].name_len &&
            memcmp(text->p + ann[i].name, text->p + ann[i - 1].name, (size_t)ann[i].name_len) == 0)
            return BAIL;
    buf_t *b = &annotations_buf;
    b->len = 0;
    int first = 1;
    if (buf_put(b, "{", 1) < 0) return -1;
    for (int i = 0; i < m; i++) {
        if (ann[i].value_len == 0) continue;
        /* Valid names need no escaping. */
        if ((!first && buf_put(b, ",", 1) < 0) || buf_put(b, "\"", 1) < 0 ||
            buf_put(b, text->p + ann[i].name, ann[i].name_len) < 0 || buf_put(b, "\":", 2) < 0 ||
            put_json_utf8(b, text->p + ann[i].value, ann[i].value_len, 0) < 0)
            return -1;
        first = 0;
    }
    if (first) {
        *out = Py_NewRef(s_empty_json);
        return 1;
    }
    if (buf_put(b, "}", 1) < 0) return -1;
    *out = PyBytes_FromStringAndSize(b->p, b->len);
    return *out == NULL ? -1 : 1;
}

/* The last time text seen in one field and what it parsed to: the alerts of one request share
 * their times. */
typedef struct {
    char text[64];
    Py_ssize_t len; /* -1: nothing remembered */
    PyObject *value; /* the parsed float (a reference), or NULL for "not set" */
} time_memo_t;

/* A startsAt or endsAt value (a string or null): the parsed time in *out (a new reference, NULL
 * when not set), as time_of gives it. 1, 0 (bail) or -1. */
static int scan_time(scan_t *s, PyObject *parse_time, time_memo_t *memo, PyObject **out) {
    *out = NULL;
    if (eat_null(s)) return 1;
    const char *u;
    Py_ssize_t n;
    int ascii, r;
    if ((r = scan_string(s, &u, &n, &ascii)) <= 0) return r;
    if (!ascii) return BAIL; /* RFC 3339 is ASCII: the general path words the error */
    if (memo->len == n && memcmp(memo->text, u, (size_t)n) == 0) {
        *out = Py_XNewRef(memo->value);
        return 1;
    }
    PyObject *text = PyUnicode_FromStringAndSize(u, n);
    if (text == NULL) return -1;
    PyObject *t;
    r = time_of(text, parse_time, &t);
    Py_DECREF(text);
    if (r <= 0) return r;
    if ((size_t)n <= sizeof memo->text) {
        memcpy(memo->text, u, (size_t)n);
        memo->len = n;
        Py_XSETREF(memo->value, Py_XNewRef(t));
    }
    *out = t;
    return 1;
}

/* The generatorURL value (a string or null): a new reference to its str ("" when not set). */
static int scan_url(scan_t *s, PyObject *share, PyObject **out) {
    *out = NULL;
    if (eat_null(s)) {
        *out = Py_NewRef(s_empty);
        return 1;
    }
    const char *u;
    Py_ssize_t n;
    int ascii, r;
    if ((r = scan_string(s, &u, &n, &ascii)) <= 0) return r;
    /* Alerts of one rule share their URL (the benchmark's do not: the cache only turns over). */
    *out = n == 0 ? Py_NewRef(s_empty) : recent_text(&recent_url, u, n, ascii, share);
    if (*out == NULL) return PyErr_Occurred() ? -1 : BAIL; /* BAIL: not UTF-8 */
    return 1;
}

enum { F_LABELS = 1, F_ANNOTATIONS = 2, F_STARTS = 4, F_ENDS = 8, F_URL = 16 };

static int field_of(const char *u, Py_ssize_t n) {
    static const struct {
        const char *name;
        int field;
    } fields[] = {{"labels", F_LABELS},  {"annotations", F_ANNOTATIONS}, {"startsAt", F_STARTS},
                  {"endsAt", F_ENDS},    {"generatorURL", F_URL}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if ((size_t)n == strlen(fields[i].name) && memcmp(u, fields[i].name, (size_t)n) == 0) return fields[i].field;
    return 0;
}

typedef struct {
    PyObject *now, *default_ends, *tenant, *share, *parse_time, *alert_type;
    time_memo_t starts, ends;
    buf_t ann_text;
} parse_ctx_t;

/* One alert object: 1 with a new Alert in *out, 0 (bail) or -1. */
static int scan_alert(scan_t *s, parse_ctx_t *c, PyObject **out) {
    scanned_labels_t scanned;
    PyObject *labels = NULL, *annotations = NULL, *starts = NULL, *ends = NULL, *gen = NULL, *fp = NULL;
    int seen = 0, r = BAIL;
    *out = NULL;
    if (!eat(s, '{') || eat(s, '}')) goto done;
    for (;;) {
        const char *u;
        Py_ssize_t n;
        int ascii;
        if ((r = scan_string(s, &u, &n, &ascii)) <= 0) goto done;
        r = BAIL;
        int f = field_of(u, n);
        if (f == 0 || (seen & f) || !eat(s, ':')) goto done; /* unknown or repeated field */
        seen |= f;
        switch (f) {
        case F_LABELS:
            r = scan_labels(s, c->share, &scanned);
            labels = scanned.dict;
            break;
        case F_ANNOTATIONS: r = scan_annotations(s, &c->ann_text, &annotations); break;
        case F_STARTS: r = scan_time(s, c->parse_time, &c->starts, &starts); break;
        case F_ENDS: r = scan_time(s, c->parse_time, &c->ends, &ends); break;
        default: r = scan_url(s, c->share, &gen); break;
        }
        if (r <= 0) goto done;
        r = BAIL;
        if (eat(s, ',')) continue;
        if (eat(s, '}')) break;
        goto done;
    }
    if (labels == NULL || PyDict_GET_SIZE(labels) == 0) goto done; /* required, and not empty */
    if (annotations == NULL) annotations = Py_NewRef(s_empty_json);
    if (gen == NULL) gen = Py_NewRef(s_empty);
    int timeout = 0;
    if (starts == NULL) starts = Py_NewRef(ends != NULL ? ends : c->now);
    if (ends == NULL) {
        ends = Py_NewRef(c->default_ends);
        timeout = 1;
    }
    /* Floats both: parse_time's (time_of checks), ``now`` or ``default_ends`` (checked below). */
    if (PyFloat_AS_DOUBLE(ends) < PyFloat_AS_DOUBLE(starts)) goto done;
    uint64_t h;
    int fr = scanned.count >= 0 ? fingerprint_pairs(scanned.names, scanned.values, scanned.count, &h)
                                : fingerprint_of(labels, &h);
    if (fr < 0 || (fp = PyLong_FromUnsignedLongLong(h)) == NULL) {
        r = -1;
        goto done;
    }
    PyObject *args[9] = {labels, annotations, starts, ends, gen, c->now, timeout ? Py_True : Py_False, c->tenant, fp};
    *out = new_alert(c->alert_type, args);
    r = *out == NULL ? -1 : 1;
done:
    Py_XDECREF(labels);
    Py_XDECREF(annotations);
    Py_XDECREF(starts);
    Py_XDECREF(ends);
    Py_XDECREF(gen);
    Py_XDECREF(fp);
    return r;
}

static PyObject *py_parse_alerts(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "parse_alerts() takes 7 arguments");
        return NULL;
    }
    PyObject *body = args[0];
    parse_ctx_t c = {args[1], args[2], args[3], args[4], args[5], args[6], {{0}, -1, NULL}, {{0}, -1, NULL}, {NULL, 0, 0}};
    if (!PyBytes_Check(body) || !PyFloat_CheckExact(c.now) || !PyFloat_CheckExact(c.default_ends) ||
        !PyUnicode_Check(c.tenant) || !PyDict_Check(c.share)) {
        PyErr_SetString(PyExc_TypeError,
                        "parse_alerts(): body must be bytes, now and default_ends floats, tenant a str and share a dict");
        return NULL;
    }
    scan_t s = {PyBytes_AS_STRING(body), PyBytes_AS_STRING(body) + PyBytes_GET_SIZE(body), {NULL, 0, 0}};
    PyObject *alerts = PyList_New(0), *res = NULL;
    if (alerts == NULL) return NULL;
    int r = BAIL;
    if (!eat(&s, '[')) goto done;
    if (!eat(&s, ']')) {
        for (;;) {
            PyObject *a;
            if ((r = scan_alert(&s, &c, &a)) <= 0) goto done;
            r = PyList_Append(alerts, a);
            Py_DECREF(a);
            if (r < 0) goto done;
            r = BAIL;
            if (eat(&s, ',')) continue;
            if (eat(&s, ']')) break;
            goto done;
        }
    }
    skip_ws(&s);
    if (s.p != s.end) goto done; /* something after the array */
    r = 1;
done:
    if (r == 1) res = Py_NewRef(alerts);
    else if (r == BAIL && !PyErr_Occurred()) res = Py_NewRef(Py_None);
    Py_DECREF(alerts);
    Py_XDECREF(c.starts.value);
    Py_XDECREF(c.ends.value);
    PyMem_Free(c.ann_text.p);
    PyMem_Free(s.tmp.p);
    return res;
}

/* --- flush helpers: the per-alert work of a group flush ------------------------------------------ */

/* A flush that notifies computes, for every alert of the group: the fingerprint sets the
 * notification log keeps (engine/pipeline.py _deliver), their sorted hex lists for the outbox
 * record and the log's stored entry (_outbox_record), and the labels and annotations every alert
 * shares (notify/base.py common, common_annotations); after it, the earliest alert end that ends
 * its quiet time (Pipeline.quiet_until). In Python, all but the last were a tenth of the event
 * loop while ingesting 250k alerts in groups of 100. Each function here has a Python twin next to
 * its caller (py_fingerprint_sets, py_next_end, py_sorted_hex, py_common, py_pairs_in_all) that
 * gives the same result; tests/unit/engine/test_flush_helpers.py compares the two on generated
 * input. */

/* Replaces the error set, when its type is one of ``kinds`` (errors whose message is all they
 * carry), by one of the same type whose message starts with ``format`` (PyUnicode_FromFormat's)
 * and goes on with the original's, the original as its cause. Any other error (MemoryError, one
 * raised by a comparison, UnicodeEncodeError for a lone surrogate) is left as it is. */
static void requalify_failure(PyObject *const kinds[3], const char *format, ...) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type != kinds[0] && type != kinds[1] && type != kinds[2]) {
        PyErr_Restore(type, value, tb);
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL) PyException_SetTraceback(value, tb);
    va_list va;
    va_start(va, format);
    PyObject *context = PyUnicode_FromFormatV(format, va);
    va_end(va);
    if (context == NULL) { /* MemoryError, now set in place of the original */
        Py_DECREF(type);
        Py_DECREF(value);
        Py_XDECREF(tb);
        return;
    }
    PyErr_Format(type, "%U: %S", context, value);
    Py_DECREF(context);
    PyObject *t2, *v2, *tb2;
    PyErr_Fetch(&t2, &v2, &tb2);
    PyErr_NormalizeException(&t2, &v2, &tb2);
    PyException_SetCause(v2, value); /* steals the reference to value */
    PyErr_Restore(t2, v2, tb2);
    Py_DECREF(type);
    Py_XDECREF(tb);
}

/* The error set, when a TypeError, AttributeError or ValueError, named with the function and the
 * alert (or item) at fault. */
static void flush_failure(const char *func, const char *item, Py_ssize_t i, const char *field) {
    PyObject *const kinds[3] = {PyExc_TypeError, PyExc_AttributeError, PyExc_ValueError};
    requalify_failure(kinds, "%s(): %s %zd, %s", func, item, i, field);
}

/* fingerprint_sets(alerts, now): (frozenset of the firing alerts' fingerprints, frozenset of the
 * resolved ones'), one pass instead of two generator expressions. Firing is ends_at > now and
 * resolved ends_at <= now, compared as Python compares them: an end that is neither (NaN) puts
 * the alert in neither set, and an alert's fingerprint is read only when it goes into one. */
static PyObject *py_fingerprint_sets(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fingerprint_sets() takes 2 arguments (alerts, now)");
        return NULL;
    }
    PyObject *now = args[1];
    /* A tuple of its own: comparing times that are not floats may run Python code, which must not
     * be able to resize what the loop walks. */
    PyObject *seq = PySequence_Tuple(args[0]);
    if (seq == NULL) return NULL;
    PyObject *firing = PyFrozenSet_New(NULL), *resolved = PyFrozenSet_New(NULL);
    if (firing == NULL || resolved == NULL) goto error;
    int now_float = PyFloat_CheckExact(now);
    double t = now_float ? PyFloat_AS_DOUBLE(now) : 0.0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *a = PyTuple_GET_ITEM(seq, i);
        const char *field = "ends_at";
        int direct = slots_readable(a);
        PyObject *ends = alert_field(a, direct, ALERT_ENDS_AT), *fp = NULL;
        int is_firing, is_resolved;
        if (ends == NULL) goto alert_error;
        if (now_float && PyFloat_CheckExact(ends)) {
            double e = PyFloat_AS_DOUBLE(ends);
            is_firing = e > t;
            is_resolved = e <= t;
        } else if ((is_firing = PyObject_RichCompareBool(ends, now, Py_GT)) < 0 ||
                   (is_resolved = PyObject_RichCompareBool(ends, now, Py_LE)) < 0) {
            goto alert_error;
        }
        if (is_firing || is_resolved) {
            field = "fingerprint";
            /* Brand-new frozensets, seen by no other code yet: PySet_Add may fill them. */
            if ((fp = alert_field(a, direct, ALERT_FINGERPRINT)) == NULL || (is_firing && PySet_Add(firing, fp) < 0) ||
                (is_resolved && PySet_Add(resolved, fp) < 0))
                goto alert_error;
            Py_DECREF(fp);
        }
        Py_DECREF(ends);
        continue;
    alert_error:
        flush_failure("fingerprint_sets", "alert", i, field);
        Py_XDECREF(fp);
        Py_XDECREF(ends);
        goto error;
    }
    Py_DECREF(seq);
    PyObject *res = PyTuple_Pack(2, firing, resolved);
    Py_DECREF(firing);
    Py_DECREF(resolved);
    return res;
error:
    Py_DECREF(seq);
    Py_XDECREF(firing);
    Py_XDECREF(resolved);
    return NULL;
}

/* next_end(alerts, now, until): (the earliest ends_at with now < ends_at < until, else until
 * itself; whether any alert has ends_at > now), the objects and comparisons of
 * engine/pipeline.py py_next_end. Pipeline.quiet_until asks it after every flush that delivered
 * everything, for all the group's alerts. */
static PyObject *py_next_end(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "next_end() takes 3 arguments (alerts, now, until)");
        return NULL;
    }
    PyObject *now = args[1], *until = NULL, *ends = NULL;
    PyObject *seq = PySequence_Tuple(args[0]); /* comparisons may run Python code */
    if (seq == NULL) return NULL;
    until = Py_NewRef(args[2]);
    int firing = 0;
    Py_ssize_t i = 0;
    for (; i < PyTuple_GET_SIZE(seq); i++) {
        PyObject *a = PyTuple_GET_ITEM(seq, i);
        if ((ends = alert_field(a, slots_readable(a), ALERT_ENDS_AT)) == NULL) goto alert_error;
        int after, before, fires;
        if (PyFloat_CheckExact(ends) && PyFloat_CheckExact(now) && PyFloat_CheckExact(until)) {
            double e = PyFloat_AS_DOUBLE(ends), t = PyFloat_AS_DOUBLE(now);
            after = fires = t < e;
            before = after && e < PyFloat_AS_DOUBLE(until);
        } else {
            /* As ``now < e < until`` and ``e > now`` evaluate, each operand's own comparison. */
            if ((after = PyObject_RichCompareBool(now, ends, Py_LT)) < 0) goto alert_error;
            before = 0;
            if (after && (before = PyObject_RichCompareBool(ends, until, Py_LT)) < 0) goto alert_error;
            fires = 0;
            if (!firing && (fires = PyObject_RichCompareBool(ends, now, Py_GT)) < 0) goto alert_error;
        }
        firing |= fires;
        if (before) Py_SETREF(until, ends);
        else Py_DECREF(ends);
        ends = NULL;
    }
    Py_DECREF(seq);
    return Py_BuildValue("(NO)", until, firing ? Py_True : Py_False);
alert_error:
    flush_failure("next_end", "alert", i, "ends_at");
    Py_XDECREF(ends);
    Py_DECREF(seq);
    Py_DECREF(until);
    return NULL;
}

/* Sorts v[0..n), tmp[0..n) being scratch space: insertion sort of runs of 16, then merges of
 * runs. qsort's comparison through a function pointer cost four times as much. */
static void sort_u64(uint64_t *v, uint64_t *tmp, Py_ssize_t n) {
    enum { RUN = 16 };
    for (Py_ssize_t lo = 0; lo < n; lo += RUN) {
        Py_ssize_t hi = lo + RUN < n ? lo + RUN : n;
        for (Py_ssize_t i = lo + 1; i < hi; i++) {
            uint64_t x = v[i];
            Py_ssize_t j = i;
            for (; j > lo && v[j - 1] > x; j--) v[j] = v[j - 1];
            v[j] = x;
        }
    }
    uint64_t *src = v, *dst = tmp;
    for (Py_ssize_t width = RUN; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            Py_ssize_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, (size_t)n * sizeof *v);
}

/* An int as unsigned 64 bits; -1 with OverflowError set when it is negative or too large. */
static inline unsigned long long as_u64(PyObject *x) {
#if ULONG_MAX >= 0xffffffffffffffffULL
    /* CPython 3.11's PyLong_AsUnsignedLongLong goes through a byte array (200 instructions a
     * fingerprint); PyLong_AsUnsignedLong reads the digits. */
    return PyLong_AsUnsignedLong(x);
#else
    return PyLong_AsUnsignedLongLong(x);
#endif
}

/* sorted_hex(fingerprints): each as 16 lower-case hex digits (model.fingerprint_hex), sorted.
 * Every text has 16 digits, so sorting the integers sorts the texts; no str is compared. A
 * fingerprint that is not an int is a TypeError, one outside 0..2**64-1 a ValueError, each naming
 * the first such value in iteration order (the messages are py_sorted_hex's). */
static PyObject *py_sorted_hex(PyObject *Py_UNUSED(self), PyObject *fingerprints) {
    static char hex_pairs[512]; /* "000102...ff": two digits a byte */
    if (hex_pairs[1] == 0) {
        static const char hex[] = "0123456789abcdef";
        for (int c = 0; c < 256; c++) {
            hex_pairs[2 * c] = hex[c >> 4];
            hex_pairs[2 * c + 1] = hex[c & 15];
        }
    }
    PyObject *it = PyObject_GetIter(fingerprints), *x, *out = NULL;
    if (it == NULL) return NULL;
    uint64_t *v = NULL;
    Py_ssize_t n = 0, cap = 0;
    while ((x = PyIter_Next(it)) != NULL) {
        if (!PyLong_Check(x)) {
            PyErr_Format(PyExc_TypeError, "sorted_hex(): fingerprint %R is %.100s, not int", x, Py_TYPE(x)->tp_name);
            Py_DECREF(x);
            goto done;
        }
        unsigned long long u = as_u64(x);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "sorted_hex(): fingerprint %R is not an unsigned 64-bit int", x);
            }
            Py_DECREF(x);
            goto done;
        }
        Py_DECREF(x);
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            /* The second half is the sort's scratch space. */
            uint64_t *grown = PyMem_Realloc(v, 2 * (size_t)cap * sizeof *v);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            v = grown;
        }
        v[n++] = u;
    }
    if (PyErr_Occurred()) goto done;
    if (n > 1) sort_u64(v, v + cap, n);
    if ((out = PyList_New(n)) == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_New(16, 127);
        if (s == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        Py_UCS1 *d = PyUnicode_1BYTE_DATA(s);
        for (int k = 0; k < 8; k++) memcpy(d + 2 * k, hex_pairs + 2 * ((v[i] >> (56 - 8 * k)) & 255), 2);
        PyList_SET_ITEM(out, i, s);
    }
done:
    PyMem_Free(v);
    Py_DECREF(it);
    return out;
}

/* The pairs of maps[0] that every other map has with an equal value, in maps[0]'s order
 * (notify/base.py py_common: m.get(k) != v drops a pair); ``maps`` is a tuple of exact dicts. */
static PyObject *common_of(PyObject *maps) {
    Py_ssize_t n = PyTuple_GET_SIZE(maps);
    PyObject *out = PyDict_New();
    if (out == NULL || n == 0) return out;
    /* The first map's pairs, held: code run by a comparison could change that dict. */
    PyObject *first = PyTuple_GET_ITEM(maps, 0);
    Py_ssize_t count = PyDict_GET_SIZE(first), pos = 0, c = 0;
    PyObject **pairs = PyMem_Malloc((size_t)(count ? 2 * count : 1) * sizeof *pairs), *k, *v;
    if (pairs == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    while (c < count && PyDict_Next(first, &pos, &k, &v)) {
        pairs[2 * c] = Py_NewRef(k);
        pairs[2 * c + 1] = Py_NewRef(v);
        c++;
    }
    for (Py_ssize_t p = 0; p < c; p++) {
        k = pairs[2 * p];
        v = pairs[2 * p + 1];
        int everywhere = 1;
        for (Py_ssize_t j = 1; everywhere && j < n; j++) {
            PyObject *got = PyDict_GetItemWithError(PyTuple_GET_ITEM(maps, j), k);
            if (got == NULL) {
                if (PyErr_Occurred()) goto error;
                got = Py_None; /* what m.get(k) gives */
            }
            if (PyUnicode_CheckExact(got) && PyUnicode_CheckExact(v)) {
                everywhere = same_text(got, v);
                continue;
            }
            Py_INCREF(got);
            PyObject *ne = PyObject_RichCompare(got, v, Py_NE);
            Py_DECREF(got);
            int differs = ne == NULL ? -1 : PyObject_IsTrue(ne);
            Py_XDECREF(ne);
            if (differs < 0) goto error;
            everywhere = !differs;
        }
        if (everywhere && PyDict_SetItem(out, k, v) < 0) goto error;
    }
    for (Py_ssize_t p = 0; p < 2 * c; p++) Py_DECREF(pairs[p]);
    PyMem_Free(pairs);
    return out;
error:
    if (pairs != NULL) {
        for (Py_ssize_t p = 0; p < 2 * c; p++) Py_DECREF(pairs[p]);
        PyMem_Free(pairs);
    }
    Py_DECREF(out);
    return NULL;
}

/* common_map(maps): common_of(maps), or None when maps is not a list or tuple of exact dicts:
 * the caller runs py_common then, which takes any mappings. */
static PyObject *py_common_map(PyObject *Py_UNUSED(self), PyObject *maps) {
    if (!PyList_CheckExact(maps) && !PyTuple_CheckExact(maps)) Py_RETURN_NONE;
    /* A tuple of its own: comparing values that are not str may run Python code. */
    PyObject *seq = PySequence_Tuple(maps), *out;
    if (seq == NULL) return NULL;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(seq); j++) {
        if (!PyDict_CheckExact(PyTuple_GET_ITEM(seq, j))) {
            Py_DECREF(seq);
            Py_RETURN_NONE;
        }
    }
    out = common_of(seq);
    Py_DECREF(seq);
    return out;
}

/* common_labels(alerts): common_of over the alerts' labels, read from their slots (the list of
 * them Python built cost more than finding what they share); None when some alert's labels are
 * not an exact dict. */
static PyObject *py_common_labels(PyObject *Py_UNUSED(self), PyObject *alerts) {
    PyObject *seq = PySequence_Tuple(alerts);
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    PyObject *maps = PyTuple_New(n), *out = NULL;
    if (maps == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyTuple_GET_ITEM(seq, i);
        PyObject *labels = alert_field(a, slots_readable(a), ALERT_LABELS);
        if (labels == NULL) {
            flush_failure("common_labels", "alert", i, "labels");
            goto done;
        }
        PyTuple_SET_ITEM(maps, i, labels);
        if (!PyDict_CheckExact(labels)) {
            out = Py_NewRef(Py_None);
            goto done;
        }
    }
    out = common_of(maps);
done:
    Py_XDECREF(maps);
    Py_DECREF(seq);
    return out;
}

/* Whether ``pair`` occurs in ``text`` right after a '{' or a ',': b"{" + pair in text or
 * b"," + pair in text. */
static int has_pair(const char *text, Py_ssize_t tn, const char *pair, Py_ssize_t pn) {
    for (Py_ssize_t i = 1; i + pn <= tn; i++) {
        char c = text[i - 1];
        if ((c == '{' || c == ',') && memcmp(text + i, pair, (size_t)pn) == 0) return 1;
    }
    return 0;
}

/* pairs_in_all(alerts, pairs): for each pair (bytes, a name and value as '"name":"value"'),
 * whether every alert's annotations_json holds it right after a '{' or a ',' (notify/base.py
 * common_annotations says why that finds exactly the alert's pairs). A list of bools, one per
 * pair; None when an alert's annotations_json is not bytes, which py_pairs_in_all handles. */
static PyObject *py_pairs_in_all(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "pairs_in_all() takes 2 arguments (alerts, pairs)");
        return NULL;
    }
    PyObject *alerts = PySequence_Tuple(args[0]), *pairs = NULL, *res = NULL;
    char *alive = NULL;
    if (alerts == NULL || (pairs = PySequence_Tuple(args[1])) == NULL) goto done;
    Py_ssize_t np = PyTuple_GET_SIZE(pairs), left = np;
    for (Py_ssize_t p = 0; p < np; p++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, p);
        if (!PyBytes_Check(pair)) {
            PyErr_Format(PyExc_TypeError, "pairs_in_all(): pair %zd is %.100s, not bytes", p, Py_TYPE(pair)->tp_name);
            goto done;
        }
    }
    if ((alive = PyMem_Malloc((size_t)(np ? np : 1))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t p = 0; p < np; p++) alive[p] = 1;
    /* Alert by alert, over the pairs still found in all before it; done when none is left. */
    for (Py_ssize_t i = 0; left > 0 && i < PyTuple_GET_SIZE(alerts); i++) {
        PyObject *a = PyTuple_GET_ITEM(alerts, i);
        PyObject *text = alert_field(a, slots_readable(a), ALERT_ANNOTATIONS_JSON);
        if (text == NULL) {
            flush_failure("pairs_in_all", "alert", i, "annotations_json");
            goto done;
        }
        if (!PyBytes_CheckExact(text)) {
            Py_DECREF(text);
            res = Py_NewRef(Py_None);
            goto done;
        }
        for (Py_ssize_t p = 0; p < np; p++) {
            PyObject *pair = PyTuple_GET_ITEM(pairs, p);
            if (alive[p] && !has_pair(PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text), PyBytes_AS_STRING(pair),
                                      PyBytes_GET_SIZE(pair))) {
                alive[p] = 0;
                left--;
            }
        }
        Py_DECREF(text);
    }
    if ((res = PyList_New(np)) == NULL) goto done;
    for (Py_ssize_t p = 0; p < np; p++) PyList_SET_ITEM(res, p, PyBool_FromLong(alive[p]));
done:
    PyMem_Free(alive);
    Py_XDECREF(alerts);
    Py_XDECREF(pairs);
    return res;
}

/* sort_by_job_instance(alerts): the alerts as a new list ordered by their job and then instance
 * labels (an alert lacking one after the alerts that have it), the key engine/labelsets.py's
 * sort_alerts tries first; None when two alerts share both (then the full label order must decide)
 * or when some alert's labels, or those two values, are not exact dicts and strs. Building a tuple
 * key per alert and sorting through a key function was a sixth of a flush's instructions. */
typedef struct {
    PyObject *job, *instance; /* borrowed from the labels dict, which the tuple below keeps alive; NULL when absent */
    PyObject *alert;
} job_instance_t;

static inline int compare_present(PyObject *a, PyObject *b) {
    if (a == b) return 0;
    if (a == NULL) return 1;
    if (b == NULL) return -1;
    return PyUnicode_Compare(a, b); /* exact strs: cannot fail */
}

static int compare_job_instance(const void *x, const void *y) {
    const job_instance_t *a = x, *b = y;
    int c = compare_present(a->job, b->job);
    return c != 0 ? c : compare_present(a->instance, b->instance);
}

static PyObject *py_sort_by_job_instance(PyObject *Py_UNUSED(self), PyObject *alerts) {
    PyObject *seq = PySequence_Tuple(alerts), *labels_of = NULL, *out = NULL;
    job_instance_t *keys = NULL;
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    /* The labels dicts, held while their values are compared. */
    if ((labels_of = PyTuple_New(n)) == NULL) goto done;
    if ((keys = PyMem_Malloc(sizeof *keys * (size_t)(n > 0 ? n : 1))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyTuple_GET_ITEM(seq, i);
        PyObject *labels = alert_field(a, slots_readable(a), ALERT_LABELS);
        if (labels == NULL) {
            flush_failure("sort_by_job_instance", "alert", i, "labels");
            goto done;
        }
        PyTuple_SET_ITEM(labels_of, i, labels);
        if (!PyDict_CheckExact(labels)) goto give_up;
        PyObject *job = PyDict_GetItemWithError(labels, s_job);
        if (job == NULL && PyErr_Occurred()) goto done;
        PyObject *instance = PyDict_GetItemWithError(labels, s_instance);
        if (instance == NULL && PyErr_Occurred()) goto done;
        if ((job != NULL && !PyUnicode_CheckExact(job)) || (instance != NULL && !PyUnicode_CheckExact(instance)))
            goto give_up;
        keys[i] = (job_instance_t){job, instance, a};
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_job_instance);
    for (Py_ssize_t i = 1; i < n; i++)
        if (compare_job_instance(&keys[i - 1], &keys[i]) == 0) goto give_up;
    if ((out = PyList_New(n)) == NULL) goto done;
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(out, i, Py_NewRef(keys[i].alert));
    goto done;
give_up:
    out = Py_NewRef(Py_None);
done:
    PyMem_Free(keys);
    Py_XDECREF(labels_of);
    Py_DECREF(seq);
    return out;
}

/* The section's entries of methods[]. */
#define FLUSH_HELPER_METHODS                                                                               \
    {"fingerprint_sets", (PyCFunction)(void (*)(void))py_fingerprint_sets, METH_FASTCALL,                  \
     "The firing and the resolved alerts' fingerprints, as two frozensets (see engine/pipeline.py)."},     \
    {"next_end", (PyCFunction)(void (*)(void))py_next_end, METH_FASTCALL,                                  \
     "The earliest alert end in (now, until) and whether any alert fires (see engine/pipeline.py)."},      \
    {"sorted_hex", (PyCFunction)py_sorted_hex, METH_O, "Fingerprints as sorted 16-digit hex texts."},      \
    {"common_map", (PyCFunction)py_common_map, METH_O,                                                     \
     "The pairs every map shares, or None for anything but exact dicts (see notify/base.py common)."},     \
    {"common_labels", (PyCFunction)py_common_labels, METH_O,                                               \
     "The label pairs every alert shares, or None (see notify/base.py common_labels)."},                   \
    {"pairs_in_all", (PyCFunction)(void (*)(void))py_pairs_in_all, METH_FASTCALL,                          \
     "Which annotation pairs every alert's JSON holds (see notify/base.py common_annotations)."},          \
    {"sort_by_job_instance", (PyCFunction)py_sort_by_job_instance, METH_O,                                 \
     "The alerts ordered by job and instance, or None on a tie (see engine/labelsets.py sort_alerts)."},

/* --- ingest helpers: the per-alert loops of AlertStore.merge_all and still_stored and of
 * Dispatcher.process (engine/alerts.py, engine/dispatch.py) ---------------------------------------
 *
 * Each walks ``alerts`` (a list) from ``start`` for as long as the alerts belong to ``tenant``
 * (compared as Python's == compares) and returns where it stopped, so that the Python caller,
 * which owns the per-tenant and per-group state, takes the next run. A posted request is one
 * tenant's, and its alerts mostly come in group order, so a request is one or a few runs: the
 * Python loops these replace cost 2.4 us per alert on the event loop (merge 0.6, still stored
 * 0.24, grouping 1.6). Errors name the function, the alert's index and the field. */

/* 1 when alert ``i`` of the list is still ``tenant``'s, with a new reference to it in *a and
 * *direct set as slots_readable says; 0 at the end of the run or of the list; -1 on error. */
static int run_alert(PyObject *alerts, Py_ssize_t i, PyObject *tenant, const char *func, PyObject **a, int *direct) {
    if (i >= PyList_GET_SIZE(alerts)) return 0;
    *a = Py_NewRef(PyList_GET_ITEM(alerts, i));
    *direct = slots_readable(*a);
    PyObject *t = alert_field(*a, *direct, ALERT_TENANT_ID);
    int same = t == NULL ? -1 : t == tenant ? 1 : PyObject_RichCompareBool(t, tenant, Py_EQ);
    Py_XDECREF(t);
    if (same <= 0) {
        if (same < 0) flush_failure(func, "alert", i, "tenant_id");
        Py_CLEAR(*a);
    }
    return same;
}

static int run_args(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, const char *usage, int list_at,
                    Py_ssize_t *start) {
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s", usage);
        return -1;
    }
    if (!PyList_Check(args[list_at])) {
        PyErr_Format(PyExc_TypeError, "%s: alerts must be a list, not %.100s", usage, Py_TYPE(args[list_at])->tp_name);
        return -1;
    }
    *start = PyLong_AsSsize_t(args[list_at + 1]);
    if (*start == -1 && PyErr_Occurred()) return -1;
    if (*start < 0) {
        PyErr_Format(PyExc_ValueError, "%s: start must not be negative", usage);
        return -1;
    }
    return 0;
}

static PyObject *run_end(Py_ssize_t i, PyObject *a) {
    Py_XDECREF(a);
    return PyErr_Occurred() ? NULL : PyLong_FromSsize_t(i);
}

/* merge_run(store, added, alerts, start, tenant, merge_one, out): for each alert of the run, the
 * stored one of its fingerprint is merge_one(old, alert)'s result, or the alert when none is
 * stored (its fingerprint then goes into ``added``); that stored alert is appended to ``out``. */
static PyObject *py_merge_run(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    static const char usage[] = "merge_run(store, added, alerts, start, tenant, merge_one, out)";
    Py_ssize_t i;
    if (run_args(args, nargs, 7, usage, 2, &i) < 0) return NULL;
    PyObject *store = args[0], *added = args[1], *alerts = args[2], *tenant = args[4], *merge_one = args[5];
    PyObject *out = args[6], *a = NULL;
    if (!PyDict_Check(store) || !PyList_Check(added) || !PyList_Check(out)) {
        PyErr_Format(PyExc_TypeError, "%s: store must be a dict, added and out lists", usage);
        return NULL;
    }
    int direct;
    for (; (run_alert(alerts, i, tenant, "merge_run", &a, &direct)) > 0; i++) {
        PyObject *fp = alert_field(a, direct, ALERT_FINGERPRINT), *old, *kept;
        if (fp == NULL) {
            flush_failure("merge_run", "alert", i, "fingerprint");
            break;
        }
        if ((old = PyDict_GetItemWithError(store, fp)) == NULL) {
            kept = PyErr_Occurred() || PyList_Append(added, fp) < 0 ? NULL : Py_NewRef(a);
        } else {
            Py_INCREF(old); /* merge_one may change the store */
            kept = PyObject_CallFunctionObjArgs(merge_one, old, a, NULL);
            Py_DECREF(old);
        }
        int failed = kept == NULL || PyDict_SetItem(store, fp, kept) < 0 || PyList_Append(out, kept) < 0;
        Py_DECREF(fp);
        Py_XDECREF(kept);
        Py_CLEAR(a);
        if (failed) break;
    }
    return run_end(i, a);
}

/* stored_run(store, alerts, start, tenant, out): appends to ``out`` each alert of the run that is
 * still the one ``store`` holds under its fingerprint (by identity). */
static PyObject *py_stored_run(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    static const char usage[] = "stored_run(store, alerts, start, tenant, out)";
    Py_ssize_t i;
    if (run_args(args, nargs, 5, usage, 1, &i) < 0) return NULL;
    PyObject *store = args[0], *alerts = args[1], *tenant = args[3], *out = args[4], *a = NULL;
    if (!PyDict_Check(store) || !PyList_Check(out)) {
        PyErr_Format(PyExc_TypeError, "%s: store must be a dict and out a list", usage);
        return NULL;
    }
    int direct;
    for (; (run_alert(alerts, i, tenant, "stored_run", &a, &direct)) > 0; i++) {
        PyObject *fp = alert_field(a, direct, ALERT_FINGERPRINT);
        if (fp == NULL) {
            flush_failure("stored_run", "alert", i, "fingerprint");
            break;
        }
        PyObject *held = PyDict_GetItemWithError(store, fp);
        Py_DECREF(fp);
        if ((held == NULL && PyErr_Occurred()) || (held == a && PyList_Append(out, a) < 0)) break;
        Py_CLEAR(a);
    }
    return run_end(i, a);
}

/* same_key_end(alerts, start, names, key, tenant): where the run of alerts whose labels hold
 * ``key``'s values under ``names`` (None for an absent name, as labels.get gives) ends; an alert
 * whose labels are not an exact dict ends it too (the caller then reads that alert itself). */
static PyObject *py_same_key_end(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    static const char usage[] = "same_key_end(alerts, start, names, key, tenant)";
    Py_ssize_t i;
    if (run_args(args, nargs, 5, usage, 0, &i) < 0) return NULL;
    PyObject *alerts = args[0], *names = args[2], *key = args[3], *tenant = args[4], *a = NULL;
    if (!PyTuple_Check(names) || !PyTuple_Check(key) || PyTuple_GET_SIZE(names) != PyTuple_GET_SIZE(key)) {
        PyErr_Format(PyExc_TypeError, "%s: names and key must be tuples of one length", usage);
        return NULL;
    }
    int direct;
    for (; (run_alert(alerts, i, tenant, "same_key_end", &a, &direct)) > 0; i++) {
        PyObject *labels = alert_field(a, direct, ALERT_LABELS);
        if (labels == NULL) {
            flush_failure("same_key_end", "alert", i, "labels");
            break;
        }
        int same = PyDict_CheckExact(labels);
        for (Py_ssize_t k = 0; same > 0 && k < PyTuple_GET_SIZE(names); k++) {
            PyObject *v = PyDict_GetItemWithError(labels, PyTuple_GET_ITEM(names, k)), *want = PyTuple_GET_ITEM(key, k);
            if (v == NULL) {
                same = PyErr_Occurred() ? -1 : want == Py_None;
            } else {
                same = v == want ? 1 : want == Py_None ? 0 : PyObject_RichCompareBool(v, want, Py_EQ);
            }
        }
        Py_DECREF(labels);
        if (same <= 0) break;
        Py_CLEAR(a);
    }
    return run_end(i, a);
}

/* add_run(group_alerts, alerts, start, end): group_alerts[alert.fingerprint] = alert for alerts
 * start..end-1, in order; returns the earliest of their starts_at (None for no alert). */
static PyObject *py_add_run(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    static const char usage[] = "add_run(group_alerts, alerts, start, end)";
    Py_ssize_t i;
    if (run_args(args, nargs, 4, usage, 1, &i) < 0) return NULL;
    PyObject *group = args[0], *alerts = args[1], *earliest = NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[3]);
    if (end == -1 && PyErr_Occurred()) return NULL;
    if (!PyDict_Check(group)) {
        PyErr_Format(PyExc_TypeError, "%s: group_alerts must be a dict", usage);
        return NULL;
    }
    for (; i < end && i < PyList_GET_SIZE(alerts); i++) {
        PyObject *a = Py_NewRef(PyList_GET_ITEM(alerts, i));
        int direct = slots_readable(a);
        const char *field = "fingerprint";
        PyObject *fp = alert_field(a, direct, ALERT_FINGERPRINT), *start = NULL;
        int failed = fp == NULL || PyDict_SetItem(group, fp, a) < 0;
        if (!failed) {
            field = "starts_at";
            if ((start = alert_field(a, direct, ALERT_STARTS_AT)) == NULL) {
                failed = 1;
            } else if (earliest == NULL) {
                earliest = Py_NewRef(start);
            } else {
                int before = PyFloat_CheckExact(start) && PyFloat_CheckExact(earliest)
                                 ? PyFloat_AS_DOUBLE(start) < PyFloat_AS_DOUBLE(earliest)
                                 : PyObject_RichCompareBool(start, earliest, Py_LT);
                if (before < 0) failed = 1;
                else if (before) Py_SETREF(earliest, Py_NewRef(start));
            }
        }
        Py_XDECREF(fp);
        Py_XDECREF(start);
        Py_DECREF(a);
        if (failed) {
            flush_failure("add_run", "alert", i, field);
            Py_XDECREF(earliest);
            return NULL;
        }
    }
    return earliest != NULL ? earliest : Py_NewRef(Py_None);
}

#define INGEST_HELPER_METHODS                                                                              \
    {"merge_run", (PyCFunction)(void (*)(void))py_merge_run, METH_FASTCALL,                                \
     "Merge a run of one tenant's alerts into its store (see engine/alerts.py merge_all)."},               \
    {"stored_run", (PyCFunction)(void (*)(void))py_stored_run, METH_FASTCALL,                              \
     "The alerts of a run still stored (see engine/alerts.py still_stored)."},                             \
    {"same_key_end", (PyCFunction)(void (*)(void))py_same_key_end, METH_FASTCALL,                          \
     "Where the run of alerts with the same routing key ends (see engine/dispatch.py process)."},          \
    {"add_run", (PyCFunction)(void (*)(void))py_add_run, METH_FASTCALL,                                    \
     "Put a run of alerts into a group; their earliest start (see engine/dispatch.py process)."},

/* --- log_rows: the SQLite alert log's rows, as msgpack ------------------------------------------- */

/* The commit process's parent sends these rows to its child (storage/sql.py encode_alert_log),
 * written straight into msgpack: building them as Python tuples and strings first cost the event
 * loop twice as much. Each row is ALERT_COLUMNS: [tenant_id, fingerprint (signed), labels JSON,
 * annotations JSON, starts_at, ends_at, updated_at, timeout, generator_url, deleted]. */

static inline int mp_u32(buf_t *b, unsigned char tag, uint32_t v) {
    unsigned char h[5] = {tag, (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    return buf_put(b, (const char *)h, 5);
}

static inline int mp_u64(buf_t *b, unsigned char tag, uint64_t v) {
    unsigned char h[9];
    h[0] = tag;
    for (int i = 0; i < 8; i++) h[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    return buf_put(b, (const char *)h, 9);
}

static int mp_str(buf_t *b, PyObject *s) {
    Py_ssize_t n;
    const char *u = utf8_of(s, &n);
    if (u == NULL || (uint64_t)n > UINT32_MAX) return -1;
    if (mp_u32(b, 0xdb, (uint32_t)n) < 0) return -1;
    return buf_put(b, u, n);
}

/* JSON text already encoded (an Alert's annotations), as a msgpack str. */
static int mp_json_bytes(buf_t *b, PyObject *s) {
    if (!PyBytes_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected bytes, got %.100s", Py_TYPE(s)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(s);
    if ((uint64_t)n > UINT32_MAX || mp_u32(b, 0xdb, (uint32_t)n) < 0) return -1;
    return buf_put(b, PyBytes_AS_STRING(s), n);
}

/* A str->str map as compact JSON text (as msgspec writes it), as a msgpack str. */
static int mp_json_map(buf_t *b, PyObject *m) {
    if (mp_u32(b, 0xdb, 0) < 0) return -1; /* the length is patched in below */
    Py_ssize_t at = b->len;
    if (put_json_map_as(b, m, 0) < 0) return -1;
    uint64_t n = (uint64_t)(b->len - at);
    if (n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "label map too large");
        return -1;
    }
    for (int i = 0; i < 4; i++) b->p[at - 4 + i] = (char)(unsigned char)(n >> (24 - 8 * i));
    return 0;
}

static int mp_float(buf_t *b, PyObject *x) {
    double d = PyFloat_AsDouble(x);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return mp_u64(b, 0xcb, bits);
}

/* The fingerprint as a signed 64-bit int (storage/sql.py to_signed). */
static int mp_fingerprint(buf_t *b, PyObject *fp) {
    unsigned long long v = PyLong_AsUnsignedLongLong(fp);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    return mp_u64(b, 0xd3, (uint64_t)v);
}

static int mp_alert_row(buf_t *b, PyObject *a) {
    if (buf_put(b, "\x9a", 1) < 0 || put_attr_with(b, a, s_tenant_id, mp_str) < 0 ||
        put_attr_with(b, a, s_fingerprint, mp_fingerprint) < 0 || put_attr_with(b, a, s_labels, mp_json_map) < 0 ||
        put_attr_with(b, a, s_annotations_json, mp_json_bytes) < 0 || put_attr_with(b, a, s_starts_at, mp_float) < 0 ||
        put_attr_with(b, a, s_ends_at, mp_float) < 0 || put_attr_with(b, a, s_updated_at, mp_float) < 0)
        return -1;
    PyObject *t = attr_of(a, s_timeout);
    if (t == NULL) return -1;
    int timeout = PyObject_IsTrue(t);
    Py_DECREF(t);
    if (timeout < 0 || buf_put(b, timeout ? "\x01" : "\x00", 1) < 0) return -1;
    if (put_attr_with(b, a, s_generator_url, mp_str) < 0) return -1;
    return buf_put(b, "\x00", 1); /* deleted = 0 */
}

static int mp_log_row(buf_t *b, PyObject *key, PyObject *a, void *Py_UNUSED(ctx)) {
    if (a != NULL) return mp_alert_row(b, a);
    /* A tombstone: the key, empty texts, zero times, deleted = 1 (sql.py _tombstone). */
    static const char zeros[] = "\xcb\0\0\0\0\0\0\0\0\xcb\0\0\0\0\0\0\0\0\xcb\0\0\0\0\0\0\0\0";
    if (buf_put(b, "\x9a", 1) < 0 || mp_str(b, PyTuple_GET_ITEM(key, 0)) < 0 ||
        mp_fingerprint(b, PyTuple_GET_ITEM(key, 1)) < 0 || buf_put(b, "\xa0\xa0", 2) < 0 ||
        buf_put(b, zeros, 27) < 0)
        return -1;
    return buf_put(b, "\x00\xa0\x01", 3);
}

static PyObject *py_log_rows(PyObject *Py_UNUSED(self), PyObject *alerts) {
    buf_t b = {NULL, 0, 0, NULL};
    Py_ssize_t count;
    if (rows_count(alerts, "log_rows", &count) < 0) return NULL;
    /* Room for rows of the usual size at once: growing by doubling copied the rows again. */
    if (buf_bytes(&b, 5 + 512 * count) < 0) return NULL;
    if ((uint64_t)count > UINT32_MAX || mp_u32(&b, 0xdd, (uint32_t)count) < 0) goto error;
    if (each_row(alerts, "log_rows", mp_log_row, &b, NULL) < 0) goto error;
    return buf_bytes_finish(&b);
error:
    Py_XDECREF(b.bytes);
    return NULL;
}

/* --- webhook_alerts: the "alerts" array of a webhook payload, as JSON -------------------------- */

/* notify/payload.py webhook_body puts these bytes into the payload as msgspec.Raw. While ingesting
 * 250k alerts, webhook_body, alert_dict and fingerprint_hex were 13.5% of the event loop, most of it
 * a dict per alert, its fingerprint's hex text and msgspec's walk over them. The bytes are msgspec's
 * for [alert_dict(a, now) for a in alerts], byte for byte (tests/unit/notify/
 * test_webhook_alerts_json.py compares the two on generated alerts). */

/* model.format_time_nano(ts) of a float from 1970 to 9999, as JSON (quoted), or 0 if ts is
 * outside that range (that function then decides). It rounds ts * 1e6 half to even, as Python's
 * round() does (nearbyint in the default rounding mode), and trims the fraction's trailing zeros.
 * Alerts posted at different times each missed the memo below and cost a Python call. */
static int rfc3339_nano(double ts, char out[64]) {
    if (!(ts > 0) || !(ts < 253402300800.0)) return 0; /* NaN, <= 0, year 10000 or later */
    double us_d = nearbyint(ts * 1e6);
    if (!(us_d < 253402300800e6)) return 0;
    int64_t us = (int64_t)us_d, sec = us / 1000000, micro = us % 1000000;
    int64_t days = sec / 86400, rem = sec % 86400;
    /* The civil date of a day count since 1970-01-01 (Howard Hinnant's days_from_civil, inverted). */
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    /* "YYYY-MM-DDTHH:MM:SS, digits written by hand (snprintf cost more than the rest) */
    int64_t fields[6] = {y, m, d, rem / 3600, rem / 60 % 60, rem % 60};
    static const char seps[6] = "--T::";
    char *o = out;
    *o++ = '"';
    *o++ = (char)('0' + y / 1000);
    *o++ = (char)('0' + y / 100 % 10);
    for (int i = 0; i < 6; i++) {
        int64_t v = i == 0 ? y % 100 : fields[i];
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
        if (i < 5) *o++ = seps[i];
    }
    if (micro) {
        char frac[7];
        frac[0] = '.';
        for (int i = 6; i >= 1; i--, micro /= 10) frac[i] = (char)('0' + micro % 10);
        int k = 7;
        while (frac[k - 1] == '0') k--;
        memcpy(o, frac, (size_t)k);
        o += k;
    }
    *o++ = 'Z';
    *o++ = '"';
    return (int)(o - out);
}

/* The JSON string of format_time(t), remembered per column (startsAt, endsAt): each
 * format_time_nano is a Python call even when its cache hits. Only a float is remembered: what an
 * int (or anything else) formats to is format_time's business, not necessarily that of the float
 * nearest to it. */
static int put_time_text(buf_t *b, PyObject *t, PyObject *format_time, float_memo_t *memo, int native) {
    int exact = PyFloat_CheckExact(t);
    double d = exact ? PyFloat_AS_DOUBLE(t) : 0.0;
    if (exact && memo->len != 0 && memcmp(&memo->value, &d, sizeof d) == 0)
        return buf_put(b, memo->text, memo->len);
    if (exact && native) {
        int n = rfc3339_nano(d, memo->text);
        if (n > 0) {
            memo->value = d;
            memo->len = n;
            return buf_put(b, memo->text, n);
        }
    }
    PyObject *s = PyObject_CallOneArg(format_time, t);
    if (s == NULL) return -1;
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "format_time_nano returned %.100s, not str", Py_TYPE(s)->tp_name);
        Py_DECREF(s);
        return -1;
    }
    Py_ssize_t at = b->len;
    int rc = put_json_string_as(b, s, 0);
    Py_DECREF(s);
    if (rc < 0) return -1;
    Py_ssize_t n = b->len - at;
    if (exact && n <= (Py_ssize_t)sizeof memo->text) {
        memcpy(memo->text, b->p + at, (size_t)n);
        memo->value = d;
        memo->len = (int)n;
    }
    return 0;
}

/* An Alert's annotations, JSON text already (msgspec.Raw in alert_dict), copied as they are. */
static int put_raw_json(buf_t *b, PyObject *s) {
    if (!PyBytes_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected bytes, got %.100s", Py_TYPE(s)->tp_name);
        return -1;
    }
    return buf_put(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s));
}

static int put_json_str(buf_t *b, PyObject *s) { return put_json_string_as(b, s, 0); }

/* The fingerprint as 16 lower-case hex digits in quotes (model.fingerprint_hex). An int outside
 * 0..2**64-1, which fingerprint_hex would print otherwise, is an OverflowError here. */
static int put_fingerprint_hex(buf_t *b, PyObject *fp) {
    static const char hex[] = "0123456789abcdef";
    if (!PyLong_Check(fp)) {
        PyErr_Format(PyExc_TypeError, "expected int, got %.100s", Py_TYPE(fp)->tp_name);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(fp);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    char h[18];
    h[0] = h[17] = '"';
    for (int i = 0; i < 16; i++) h[1 + i] = hex[(v >> (60 - 4 * i)) & 15];
    return buf_put(b, h, 18);
}

/* The error set, when a TypeError, AttributeError or OverflowError, named with the alert and the
 * field at fault; ``label``, when not NULL, is the name of the label at fault. */
static void name_failure(Py_ssize_t i, const char *field, PyObject *label) {
    PyObject *const kinds[3] = {PyExc_TypeError, PyExc_AttributeError, PyExc_OverflowError};
    if (label != NULL)
        requalify_failure(kinds, "webhook_alerts(): alert %zd, %s %R", i, field, label);
    else
        requalify_failure(kinds, "webhook_alerts(): alert %zd, %s", i, field);
}

/* The labels failed to write: name the first pair that is not str to str, if that was why. */
static void name_label_failure(Py_ssize_t i, PyObject *labels) {
    if (PyErr_ExceptionMatches(PyExc_TypeError) && PyDict_Check(labels)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(labels, &pos, &k, &v)) {
            if (!PyUnicode_Check(k)) {
                name_failure(i, "label name", k);
                return;
            }
            if (!PyUnicode_Check(v)) {
                name_failure(i, "value of label", k);
                return;
            }
        }
    }
    name_failure(i, "labels", NULL);
}

/* A string literal, its length counted by the compiler. */
#define PUT_LITERAL(b, text) buf_put(b, text, (Py_ssize_t)sizeof text - 1)

/* One alert's object, keys in alert_dict's order. */
static int put_webhook_alert(buf_t *b, Py_ssize_t i, PyObject *a, PyObject *now, PyObject *format_time,
                             float_memo_t memo[2], int native) {
    const char *field = "ends_at";
    PyObject *ends = attr_of(a, s_ends_at), *v = NULL;
    if (ends == NULL) goto error;
    int firing;
    if (PyFloat_CheckExact(ends) && PyFloat_CheckExact(now))
        firing = PyFloat_AS_DOUBLE(ends) > PyFloat_AS_DOUBLE(now);
    else if ((firing = PyObject_RichCompareBool(ends, now, Py_GT)) < 0)
        goto error;
    if ((firing ? PUT_LITERAL(b, "{\"status\":\"firing\",\"labels\":")
                : PUT_LITERAL(b, "{\"status\":\"resolved\",\"labels\":")) < 0)
        goto error;
    field = "labels";
    if ((v = attr_of(a, s_labels)) == NULL) goto error;
    if (put_json_map_as(b, v, 0) < 0) {
        name_label_failure(i, v);
        Py_DECREF(v);
        Py_DECREF(ends);
        return -1;
    }
    Py_CLEAR(v);
    field = "annotations_json";
    if (PUT_LITERAL(b, ",\"annotations\":") < 0 || put_attr_with(b, a, s_annotations_json, put_raw_json) < 0)
        goto error;
    field = "starts_at";
    if (PUT_LITERAL(b, ",\"startsAt\":") < 0 || (v = attr_of(a, s_starts_at)) == NULL ||
        put_time_text(b, v, format_time, &memo[0], native) < 0)
        goto error;
    Py_CLEAR(v);
    field = "ends_at";
    if (PUT_LITERAL(b, ",\"endsAt\":") < 0) goto error;
    /* Firing alerts carry Go's zero time as their end, as Alertmanager sends them. */
    if ((firing ? PUT_LITERAL(b, "\"0001-01-01T00:00:00Z\"") : put_time_text(b, ends, format_time, &memo[1], native)) < 0)
        goto error;
    field = "generator_url";
    if (PUT_LITERAL(b, ",\"generatorURL\":") < 0 || put_attr_with(b, a, s_generator_url, put_json_str) < 0)
        goto error;
    field = "fingerprint";
    if (PUT_LITERAL(b, ",\"fingerprint\":") < 0 || put_attr_with(b, a, s_fingerprint, put_fingerprint_hex) < 0 ||
        buf_put(b, "}", 1) < 0)
        goto error;
    Py_DECREF(ends);
    return 0;
error:
    name_failure(i, field, NULL);
    Py_XDECREF(v);
    Py_XDECREF(ends);
    return -1;
}

static PyObject *py_webhook_alerts(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 && nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "webhook_alerts() takes 3 or 4 arguments (alerts, now, format_time_nano, native=False)");
        return NULL;
    }
    PyObject *now = args[1], *format_time = args[2];
    /* native: format_time_nano is model.format_time_nano (or a cache of it), so the floats it would
     * be called for may be written here instead (rfc3339_nano). */
    int native = nargs == 4 ? PyObject_IsTrue(args[3]) : 0;
    if (native < 0) return NULL;
    if (!PyCallable_Check(format_time)) {
        PyErr_Format(PyExc_TypeError, "webhook_alerts(): format_time_nano must be callable, not %.100s",
                     Py_TYPE(format_time)->tp_name);
        return NULL;
    }
    /* A tuple of its own: format_time_nano is Python code, which must not be able to resize what
     * the loop walks. */
    PyObject *seq = PySequence_Tuple(args[0]);
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    buf_t b = {NULL, 0, 0};
    float_memo_t memo[2] = {{0}};
    if (buf_put(&b, "[", 1) < 0) goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyTuple_GET_ITEM(seq, i);
        if ((i && buf_put(&b, ",", 1) < 0) || put_webhook_alert(&b, i, a, now, format_time, memo, native) < 0) goto error;
    }
    if (buf_put(&b, "]", 1) < 0) goto error;
    PyObject *out = PyBytes_FromStringAndSize(b.p, b.len);
    PyMem_Free(b.p);
    Py_DECREF(seq);
    return out;
error:
    PyMem_Free(b.p);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef methods[] = {
    {"fingerprint", (PyCFunction)py_fingerprint, METH_O, "Prometheus's fingerprint of a label set."},
    {"convert", (PyCFunction)(void (*)(void))py_convert, METH_FASTCALL,
     "The loop of alerts_codec.to_alerts (see that function)."},
    {"copy_rows", (PyCFunction)py_copy_rows, METH_O,
     "Alert-log rows in PostgreSQL's COPY text format (see storage/postgres.py)."},
    {"parse_alerts", (PyCFunction)(void (*)(void))py_parse_alerts, METH_FASTCALL,
     "POST /api/v2/alerts from its body to Alerts in one pass, or None (see that section)."},
    {"clear_text_cache", py_clear_text_cache, METH_NOARGS,
     "Forget the texts parse_alerts shares among alerts (and those it saw once)."},
    {"log_rows", (PyCFunction)py_log_rows, METH_O,
     "The SQLite alert log's rows as one msgpack array (see storage/sql.py encode_alert_log)."},
    {"webhook_alerts", (PyCFunction)(void (*)(void))py_webhook_alerts, METH_FASTCALL,
     "The JSON array of a webhook payload's alerts (see notify/payload.py alert_dict)."},
    FLUSH_HELPER_METHODS
    INGEST_HELPER_METHODS
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tocsin._speedups", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    static const struct {
        PyObject **name;
        const char *text;
    } interned[] = {
        {&s_labels, "labels"},       {&s_annotations, "annotations"}, {&s_startsAt, "startsAt"},
        {&s_endsAt, "endsAt"},       {&s_generatorURL, "generatorURL"}, {&s_empty, ""},
        {&s_tenant_id, "tenant_id"}, {&s_fingerprint, "fingerprint"}, {&s_starts_at, "starts_at"},
        {&s_ends_at, "ends_at"},     {&s_updated_at, "updated_at"},   {&s_timeout, "timeout"},
        {&s_generator_url, "generator_url"}, {&s_annotations_json, "annotations_json"},
        {&s_job, "job"},             {&s_instance, "instance"},
    };
    for (size_t i = 0; i < sizeof interned / sizeof interned[0]; i++) {
        *interned[i].name = PyUnicode_InternFromString(interned[i].text);
        if (*interned[i].name == NULL) return NULL;
    }
    for (int c = 0; c < 256; c++)
        name_byte[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ? 1 : (c >= '0' && c <= '9') ? 2 : 0;
    s_empty_json = PyBytes_FromStringAndSize("{}", 2);
    if (s_empty_json == NULL) return NULL;
    return PyModule_Create(&module);
}
