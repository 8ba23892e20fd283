/* The indented JSON writer of ladder/textsafe.py (``_indented``), compiled. Included by _accel.c.

   ``indented_json(value, pad, ensure_ascii)`` gives the text ``textsafe._indented`` makes of
   ``value`` (``json.dumps(value, indent=2, ensure_ascii=...)`` with every line after the first
   starting with ``pad``), or None for a value it leaves to Python. It takes only what it can
   write without running Python code, so nothing can change the value while it is read:
     - str and its subclasses: quoted as json.encoder's C encoders do (``encode_basestring_ascii``
       when ``ensure_ascii``, else ``encode_basestring``), which read the characters, never a method;
     - None, True, False; int and float and their subclasses, written by ``int.__repr__`` and
       ``float.__repr__`` (as ``_indented`` calls them, so a subclass's own repr is never used);
       NaN/Infinity/-Infinity as json.dumps writes them;
     - exact list, tuple and dict (a subclass may override iteration or ``items``), a dict's
       keys exact or subclassed str, in insertion order (PyDict_Next is the order of ``items``).
   Anything else, an int past ``sys.get_int_max_str_digits`` (its repr raises) or nesting deeper
   than JSON_MAX_DEPTH gives None: the Python path then writes it or raises its own error, so
   the caller's bytes and exceptions are the Python path's in every case.

   The text is built as UTF-8 in one growing buffer (lone surrogates, which encode_basestring
   leaves raw, as their 3-byte forms) and decoded once with "surrogatepass", which gives back
   exactly the code points written. */

#define JSON_MAX_DEPTH 200 /* deeper values go to Python (its recursion limit decides) */

typedef struct {
    char *data;
    size_t len, cap;
} JsonOut;

static int json_reserve(JsonOut *o, size_t more)
{
    if (more <= o->cap - o->len)
        return 0;
    if (more > (size_t)PY_SSIZE_T_MAX - o->len) {
        PyErr_NoMemory();
        return -1;
    }
    size_t want = o->len + more, cap = o->cap ? o->cap : 256;
    while (cap < want)
        cap = cap > (size_t)PY_SSIZE_T_MAX / 2 ? want : cap * 2;
    char *grown = PyMem_Realloc(o->data, cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->data = grown;
    o->cap = cap;
    return 0;
}

static int json_put(JsonOut *o, const char *s, size_t n)
{
    if (json_reserve(o, n) < 0)
        return -1;
    memcpy(o->data + o->len, s, n);
    o->len += n;
    return 0;
}

static const char json_hex[] = "0123456789abcdef";

/* \uXXXX of one UTF-16 unit, into p (6 bytes) */
static char *json_u_escape(char *p, unsigned unit)
{
    *p++ = '\\';
    *p++ = 'u';
    *p++ = json_hex[(unit >> 12) & 0xf];
    *p++ = json_hex[(unit >> 8) & 0xf];
    *p++ = json_hex[(unit >> 4) & 0xf];
    *p++ = json_hex[unit & 0xf];
    return p;
}

/* the string quoted as _json.c's encoders do: '"', '\\' and \b \f \n \r \t by their short
   escapes, other characters below 0x20 as \u00XX; with ascii, everything past '~' as \uXXXX
   (a surrogate pair past U+FFFF), else raw (UTF-8, a lone surrogate in its 3-byte form) */
static int json_string(JsonOut *o, PyObject *s, int ascii)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    size_t size = 2; /* the output's exact length, counted first: a huge string reserves no more */
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        size_t d;
        if (c >= ' ' && c <= '~')
            d = (c == '\\' || c == '"') ? 2 : 1;
        else if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            d = 2;
        else if (c < 0x20)
            d = 6;
        else if (ascii)
            d = c >= 0x10000 ? 12 : 6;
        else
            d = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (d > (size_t)PY_SSIZE_T_MAX - size) {
            PyErr_NoMemory();
            return -1;
        }
        size += d;
    }
    if (json_reserve(o, size) < 0)
        return -1;
    if (size == (size_t)n + 2 && PyUnicode_IS_ASCII(s)) { /* nothing to escape: the usual field */
        char *p = o->data + o->len;
        *p = '"';
        memcpy(p + 1, data, (size_t)n);
        p[n + 1] = '"';
        o->len += size;
        return 0;
    }
    char *p = o->data + o->len;
    *p++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= ' ' && c <= '~' && c != '\\' && c != '"') {
            *p++ = (char)c;
            continue;
        }
        switch (c) {
        case '\\': *p++ = '\\'; *p++ = '\\'; continue;
        case '"': *p++ = '\\'; *p++ = '"'; continue;
        case '\b': *p++ = '\\'; *p++ = 'b'; continue;
        case '\f': *p++ = '\\'; *p++ = 'f'; continue;
        case '\n': *p++ = '\\'; *p++ = 'n'; continue;
        case '\r': *p++ = '\\'; *p++ = 'r'; continue;
        case '\t': *p++ = '\\'; *p++ = 't'; continue;
        default: break;
        }
        if (c < 0x20) {
            p = json_u_escape(p, c);
        } else if (ascii) {
            if (c >= 0x10000) {
                Py_UCS4 v = c - 0x10000;
                p = json_u_escape(p, 0xd800 | ((v >> 10) & 0x3ff));
                p = json_u_escape(p, 0xdc00 | (v & 0x3ff));
            } else {
                p = json_u_escape(p, c);
            }
        } else if (c < 0x80) { /* DEL: raw, as encode_basestring leaves it */
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xc0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) { /* a lone surrogate too: "surrogatepass" reads it back */
            *p++ = (char)(0xe0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else {
            *p++ = (char)(0xf0 | (c >> 18));
            *p++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *p++ = '"';
    o->len = (size_t)(p - o->data);
    return 0;
}

/* a newline, then ``depth`` levels of indent after the caller's pad */
static int json_newline(JsonOut *o, const char *pad, size_t pad_len, int depth)
{
    if (json_reserve(o, 1 + pad_len + 2 * (size_t)depth) < 0)
        return -1;
    char *p = o->data + o->len;
    *p++ = '\n';
    memcpy(p, pad, pad_len);
    p += pad_len;
    memset(p, ' ', 2 * (size_t)depth);
    o->len += 1 + pad_len + 2 * (size_t)depth;
    return 0;
}

enum { JSON_OK = 0, JSON_ERROR = -1, JSON_UNFIT = -2 };

static int json_value(JsonOut *o, PyObject *v, const char *pad, size_t pad_len, int depth, int ascii)
{
    if (PyUnicode_Check(v))
        return json_string(o, v, ascii);
    if (v == Py_None)
        return json_put(o, "null", 4);
    if (v == Py_True)
        return json_put(o, "true", 4);
    if (v == Py_False)
        return json_put(o, "false", 5);
    if (PyLong_Check(v)) {
        int overflow = 0;
        long long small = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (small == -1 && PyErr_Occurred())
            return JSON_ERROR;
        if (!overflow) {
            char digits[24];
            int n = snprintf(digits, sizeof digits, "%lld", small);
            return json_put(o, digits, (size_t)n);
        }
        PyObject *text = PyLong_Type.tp_repr(v); /* int.__repr__ */
        if (text == NULL) { /* past the int digit limit: the Python path raises its own error */
            PyErr_Clear();
            return JSON_UNFIT;
        }
        Py_ssize_t n;
        const char *digits = PyUnicode_AsUTF8AndSize(text, &n);
        int status = digits == NULL ? JSON_ERROR : json_put(o, digits, (size_t)n);
        Py_DECREF(text);
        return status;
    }
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d != d)
            return json_put(o, "NaN", 3);
        if (isinf(d))
            return d > 0 ? json_put(o, "Infinity", 8) : json_put(o, "-Infinity", 9);
        char *text = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL); /* float.__repr__ */
        if (text == NULL)
            return JSON_ERROR;
        int status = json_put(o, text, strlen(text));
        PyMem_Free(text);
        return status;
    }
    int mapping = PyDict_CheckExact(v);
    if (!mapping && !PyList_CheckExact(v) && !PyTuple_CheckExact(v))
        return JSON_UNFIT;
    Py_ssize_t count = mapping ? PyDict_GET_SIZE(v) : PySequence_Fast_GET_SIZE(v);
    if (count == 0)
        return json_put(o, mapping ? "{}" : "[]", 2);
    if (depth >= JSON_MAX_DEPTH)
        return JSON_UNFIT;
    if (json_put(o, mapping ? "{" : "[", 1) < 0)
        return JSON_ERROR;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i && json_put(o, ",", 1) < 0)
            return JSON_ERROR;
        if (json_newline(o, pad, pad_len, depth + 1) < 0)
            return JSON_ERROR;
        PyObject *item;
        if (mapping) {
            PyObject *key;
            if (!PyDict_Next(v, &pos, &key, &item)) /* cannot happen: no Python code runs here */
                return JSON_UNFIT;
            if (!PyUnicode_Check(key))
                return JSON_UNFIT;
            if (json_string(o, key, ascii) < 0 || json_put(o, ": ", 2) < 0)
                return JSON_ERROR;
        } else {
            item = PySequence_Fast_GET_ITEM(v, i);
        }
        int status = json_value(o, item, pad, pad_len, depth + 1, ascii);
        if (status != JSON_OK)
            return status;
    }
    if (json_newline(o, pad, pad_len, depth) < 0)
        return JSON_ERROR;
    return json_put(o, mapping ? "}" : "]", 1);
}

static PyObject *accel_indented_json(PyObject *module, PyObject *args)
{
    PyObject *value;
    const char *pad;
    Py_ssize_t pad_len;
    int ascii;
    if (!PyArg_ParseTuple(args, "Os#p:indented_json", &value, &pad, &pad_len, &ascii))
        return NULL;
    JsonOut o = {NULL, 0, 0};
    int status = json_value(&o, value, pad, (size_t)pad_len, 0, ascii);
    PyObject *result = NULL;
    if (status == JSON_OK)
        result = PyUnicode_DecodeUTF8(o.data, (Py_ssize_t)o.len, "surrogatepass");
    else if (status == JSON_UNFIT) {
        result = Py_None;
        Py_INCREF(result);
    }
    PyMem_Free(o.data);
    return result;
}
