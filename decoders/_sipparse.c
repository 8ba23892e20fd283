/* The whole parse of a plain SIP message in C: the same records decoders/sip.py's
 * parse_sip builds (SipMessage with its RequestLine/StatusLine, NameAddr, Via, SdpSession,
 * SdpOrigin, SdpMedia), field for field, for the messages it handles exactly.
 *
 * "Plain" is what it answers for: an ASCII head without tabs, folded lines or control bytes,
 * every line ending in CRLF; a start line, headers and body that parse_sip would take without a
 * single problem (a message with problems has none here: the problems list of every message it
 * answers for is empty); an application/sdp body (or none) whose SDP has no problem either.
 * Anything else, and any shape it does not read exactly as Python does (a quoted-pair, a list
 * header with a comma, a Via off the common shape, a tel: Request-URI ...), returns None: the
 * caller runs the Python parse, which has the last word. tests/unit/decoders/test_sipparse.py
 * holds both equal on every sample, corpus and RFC 4475 message and on mutated messages.
 *
 * The records are made as their own __init__ would make them, without running it: each field
 * is stored in its slot (the offset of the class's member descriptor, read once in setup()),
 * which is where object.__setattr__ stores it; SipMessage's derived fields (is_request, method,
 * status, from_tag, to_tag) are set as its __post_init__ sets them. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- records: classes and slot offsets --------------------------------------------------- */

#define MAX_FIELDS 32
typedef struct {
    PyTypeObject *type;
    int n;
    Py_ssize_t off[MAX_FIELDS];
} Rec;

static Rec R_MSG, R_REQ, R_STAT, R_NA, R_VIA, R_SESS, R_ORIG, R_MEDIA, R_FRAME;

static const char *F_MSG[] = {"start", "headers", "body", "raw", "src", "dst", "frames", "ts_ns",
    "problems", "call_id", "cseq", "from_addr", "to_addr", "vias", "contacts", "max_forwards",
    "content_length", "content_type", "sdp", "_index", "is_request", "method", "status",
    "from_tag", "to_tag", NULL};
static const char *F_REQ[] = {"method", "uri", "version", NULL};
static const char *F_STAT[] = {"version", "code", "reason", NULL};
static const char *F_NA[] = {"display", "uri", "params", NULL};
static const char *F_VIA[] = {"transport", "host", "port", "branch", "received", "rport", "params",
    "protocol", NULL};
static const char *F_SESS[] = {"origin", "session_name", "connection", "direction", "media",
    "attributes", "version", "problems", NULL};
static const char *F_ORIG[] = {"username", "session_id", "version", "network_type", "address_type",
    "address", NULL};
static const char *F_FRAME[] = {"number", "ts_ns", "offset", NULL};
static const char *F_MEDIA[] = {"kind", "port", "port_count", "proto", "formats", "connection",
    "direction", "rtpmap", "fmtp", "rtcp_port", "rtcp_mux", "attributes", "address_type", NULL};

static PyObject *canonical_fn;  /* decoders.header_names.canonical_name */
static PyObject *S_TAG, *S_EXPIRES, *S_BRANCH, *S_RECEIVED, *S_RPORT, *S_SIP20, *S_SENDRECV;
static PyObject *EMPTY_TUPLE, *EMPTY_BYTES;
static int ready;

/* 1 when cls's __slots__ are exactly names (in order) and each is an object member. */
static int rec_setup(Rec *r, PyObject *cls, const char **names) {
    if (!PyType_Check(cls)) return 0;
    PyObject *slots = PyObject_GetAttrString(cls, "__slots__");
    if (slots == NULL) { PyErr_Clear(); return 0; }
    int n = 0;
    while (names[n]) n++;
    int ok = PyTuple_Check(slots) && PyTuple_GET_SIZE(slots) == n && n <= MAX_FIELDS;
    for (int i = 0; ok && i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(slots, i);
        ok = PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, names[i]) == 0;
        if (!ok) break;
        PyObject *descr = PyObject_GetAttrString(cls, names[i]);
        if (descr == NULL) { PyErr_Clear(); ok = 0; break; }
        ok = Py_IS_TYPE(descr, &PyMemberDescr_Type)
             && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok) r->off[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
    }
    Py_DECREF(slots);
    if (!ok) return 0;
    Py_INCREF(cls);
    r->type = (PyTypeObject *)cls;
    r->n = n;
    return 1;
}

/* A record with its fields v[0..n-1] (references stolen). NULL (and all released) when one is
 * NULL (an error was set making it) or the allocation fails. */
static PyObject *make(Rec *r, PyObject **v) {
    PyObject *o = NULL;
    int i;
    for (i = 0; i < r->n; i++)
        if (v[i] == NULL) goto fail;
    o = r->type->tp_alloc(r->type, 0);
    if (o == NULL) goto fail;
    for (i = 0; i < r->n; i++) *(PyObject **)((char *)o + r->off[i]) = v[i];
    return o;
fail:
    for (i = 0; i < r->n; i++) Py_XDECREF(v[i]);
    return NULL;
}

/* ---- text helpers ------------------------------------------------------------------------ */

typedef struct { const char *p; Py_ssize_t n; } Span;

/* RFC 3261 §25.1 token characters (decoders.sipuri.TOKEN_RE). */
static unsigned char TOKEN[256];

static void tables_init(void) {
    for (int c = 0; c < 256; c++)
        TOKEN[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                   || (c && strchr("-.!%*_+`'~", c) != NULL);
}

static int is_token(Span s) {
    if (s.n == 0) return 0;
    for (Py_ssize_t i = 0; i < s.n; i++)
        if (!TOKEN[(unsigned char)s.p[i]]) return 0;
    return 1;
}

static Span strip_sp(Span s) {  /* only SP can be whitespace here: no tab is accepted */
    while (s.n && s.p[0] == ' ') { s.p++; s.n--; }
    while (s.n && s.p[s.n - 1] == ' ') s.n--;
    return s;
}

static Py_ssize_t find(Span s, char c) {
    const char *hit = s.n ? memchr(s.p, c, (size_t)s.n) : NULL;
    return hit ? hit - s.p : -1;
}

static Span sub(Span s, Py_ssize_t a, Py_ssize_t b) { Span r = {s.p + a, b - a}; return r; }

static int eq_lit(Span s, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)s.n == n && memcmp(s.p, lit, n) == 0;
}

/* decoders.numbers.bounded_number: 1*DIGIT at most ``max``; 1 and *out when it is. */
static int bounded(Span s, unsigned long long max, unsigned long long *out) {
    if (s.n == 0) return 0;
    unsigned long long v = 0;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < '0' || c > '9') return 0;
        if (__builtin_mul_overflow(v, 10ULL, &v) || __builtin_add_overflow(v, (unsigned long long)(c - '0'), &v)) {
            /* too large for 64 bits: still all digits? then simply too large */
            for (Py_ssize_t j = i + 1; j < s.n; j++)
                if (s.p[j] < '0' || s.p[j] > '9') return 0;
            return 0;
        }
    }
    if (v > max) return 0;
    *out = v;
    return 1;
}

static PyObject *str(Span s) { return PyUnicode_FromStringAndSize(s.p, s.n); }

static PyObject *str_case(Span s, int upper) {
    PyObject *o = PyUnicode_New(s.n, 127);
    if (o == NULL) return NULL;
    Py_UCS1 *d = PyUnicode_1BYTE_DATA(o);
    for (Py_ssize_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (upper && c >= 'a' && c <= 'z') c -= 32;
        else if (!upper && c >= 'A' && c <= 'Z') c += 32;
        d[i] = c;
    }
    return o;
}

static int has_any(Span s, const char *chars) {
    for (Py_ssize_t i = 0; i < s.n; i++)
        if (s.p[i] && strchr(chars, s.p[i])) return 1;
    return 0;
}

/* ---- values parsed once -----------------------------------------------------------------
 * A dialog's messages repeat their header lines, start lines, From/To/Contact/Via and CSeq
 * values and SDP rtpmaps, a= lines and m= format lists: each is parsed once and its record shared, as sip.py's memo tables
 * do (the records are frozen; a capture that keeps every message keeps one copy of each).
 * Direct-mapped by a hash of the text (a colliding text replaces the other), values up to
 * MEMO_LONGEST bytes: bounded whatever the traffic. */

#define MEMO_SLOTS 4096  /* as sip.py MEMO_ENTRIES */
#define MEMO_LONGEST 512
/* ``extra``: for a header line, the 1-tuple of its value (the index's entry when the header is
 * not repeated), shared as the (name, value) pair is; NULL elsewhere. */
typedef struct { unsigned long long hash; Py_ssize_t n, cap; char *key; PyObject *value, *extra; } Memo;
static Memo memo_line[MEMO_SLOTS], memo_start[MEMO_SLOTS], memo_addr[MEMO_SLOTS], memo_via[MEMO_SLOTS],
            memo_cseq[MEMO_SLOTS], memo_rtpmap[MEMO_SLOTS], memo_attr[MEMO_SLOTS], memo_formats[MEMO_SLOTS];

/* A hash of the text 8 bytes a step (a byte a step was a tenth of the parse): any hash would do,
 * an entry is taken only when its text is the same, byte for byte (memo_get's memcmp). */
static unsigned long long memo_hash(Span s) {
    unsigned long long h = 14695981039346656037ULL ^ (unsigned long long)s.n, w;
    Py_ssize_t i = 0;
    for (; i + 8 <= s.n; i += 8) {
        memcpy(&w, s.p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    if (i < s.n) {
        w = 0;
        memcpy(&w, s.p + i, (size_t)(s.n - i));
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 33);
}

/* The entry remembered for ``s``, or NULL. */
static Memo *memo_entry(Memo *table, Span s, unsigned long long h) {
    Memo *e = &table[h & (MEMO_SLOTS - 1)];
    if (e->value && e->hash == h && e->n == s.n && memcmp(e->key, s.p, (size_t)s.n) == 0) return e;
    return NULL;
}

/* The value remembered for ``s`` (borrowed), or NULL. */
static PyObject *memo_get(Memo *table, Span s, unsigned long long h) {
    Memo *e = memo_entry(table, s, h);
    return e ? e->value : NULL;
}

static void memo_put_with(Memo *table, Span s, unsigned long long h, PyObject *value, PyObject *extra) {
    if (s.n > MEMO_LONGEST) return;
    Memo *e = &table[h & (MEMO_SLOTS - 1)];
    if (e->key == NULL || e->cap < s.n) {  /* (a slot's key buffer kept for the next text that fits) */
        Py_ssize_t cap = (s.n | 63) + 1;
        char *key = PyMem_Malloc((size_t)cap);
        if (key == NULL) return;  /* not remembered: no harm */
        PyMem_Free(e->key);
        e->key = key;
        e->cap = cap;
    }
    memcpy(e->key, s.p, (size_t)s.n);
    e->n = s.n;
    e->hash = h;
    Py_XSETREF(e->value, Py_NewRef(value));
    Py_XSETREF(e->extra, Py_XNewRef(extra));
}

static void memo_put(Memo *table, Span s, unsigned long long h, PyObject *value) {
    memo_put_with(table, s, h, value, NULL);
}

/* Results of the helpers below: OK, NO (not handled here: Python parses) or ERR (exception). */
enum { ERR = -1, NO = 0, OK = 1 };

/* ";[ \t]*(;|,|$)" anywhere in s: a generic-param with no name (sip.py _EMPTY_PARAM_RE). */
static int empty_param(Span s) {
    for (Py_ssize_t i = 0; i < s.n; i++) {
        if (s.p[i] != ';') continue;
        Py_ssize_t j = i + 1;
        while (j < s.n && (s.p[j] == ' ' || s.p[j] == '\t')) j++;
        if (j == s.n || s.p[j] == ';' || s.p[j] == ',') return 1;
    }
    return 0;
}

/* decoders.sipuri.split_params of text holding no quote: {lower name: value}. */
static int split_params(Span text, PyObject **out) {
    PyObject *params = PyDict_New();
    if (params == NULL) return ERR;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i <= text.n; i++) {
        if (i < text.n && text.p[i] != ';') continue;
        Span piece = strip_sp(sub(text, start, i));
        start = i + 1;
        if (piece.n == 0) continue;
        Py_ssize_t eq = find(piece, '=');
        Span name = strip_sp(eq < 0 ? piece : sub(piece, 0, eq));
        Span value = eq < 0 ? sub(piece, piece.n, piece.n) : strip_sp(sub(piece, eq + 1, piece.n));
        if (!is_token(name)) { Py_DECREF(params); return NO; }
        PyObject *k = str_case(name, 0), *v = k ? str(value) : NULL;
        int bad = v == NULL || PyDict_SetItem(params, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) { Py_DECREF(params); return ERR; }
    }
    *out = params;
    return OK;
}

/* ---- Request-URI ------------------------------------------------------------------------- */

/* Whether parse_uri(uri) finds nothing to say (sip.py _check_request_uri): a sip or sips URI
 * without headers, with a sound host[:port] and parameter names. */
static int request_uri_ok(Span uri) {
    Span rest;
    if (uri.n > 4 && memcmp(uri.p, "sip:", 4) == 0) rest = sub(uri, 4, uri.n);
    else if (uri.n > 5 && memcmp(uri.p, "sips:", 5) == 0) rest = sub(uri, 5, uri.n);
    else return 0;
    if (has_any(rest, " \t\r\n<>\"?")) return 0;
    Py_ssize_t at = find(rest, '@');
    if (at == 0) return 0;
    if (at > 0) rest = sub(rest, at + 1, rest.n);
    Py_ssize_t semi = find(rest, ';');
    Span hostport = semi < 0 ? rest : sub(rest, 0, semi);
    Span params = semi < 0 ? sub(rest, rest.n, rest.n) : sub(rest, semi + 1, rest.n);
    Span host = hostport, port = {NULL, -1};
    if (hostport.n && hostport.p[0] == '[') {
        Py_ssize_t close = find(hostport, ']');
        if (close < 0) return 0;
        host = sub(hostport, 0, close + 1);
        Span tail = sub(hostport, close + 1, hostport.n);
        if (tail.n) {
            if (tail.p[0] != ':') return 0;
            port = sub(tail, 1, tail.n);
        }
    } else {
        Py_ssize_t colon = find(hostport, ':');
        if (colon >= 0) {
            if (find(sub(hostport, colon + 1, hostport.n), ':') >= 0) return 0;  /* bare IPv6 */
            host = sub(hostport, 0, colon);
            port = sub(hostport, colon + 1, hostport.n);
        }
    }
    if (host.n == 0 || has_any(host, " \t\"<>,@")) return 0;
    unsigned long long number;
    if (port.n >= 0 && !bounded(port, 65535, &number)) return 0;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i <= params.n; i++) {
        if (i < params.n && params.p[i] != ';') continue;
        Span piece = sub(params, start, i);
        start = i + 1;
        if (piece.n == 0) continue;
        Py_ssize_t eq = find(piece, '=');
        if (!is_token(eq < 0 ? piece : sub(piece, 0, eq))) return 0;
    }
    return 1;
}

/* ---- name-addr (From, To, Contact) ------------------------------------------------------- */

/* sip.py _checked_name_addr of a value that parses without a problem, else NO. */
static int parse_name_addr(Span text, PyObject **out) {
    text = strip_sp(text);
    if (text.n == 0) return NO;
    PyObject *display = NULL;
    Span rest = text;
    if (text.p[0] == '"') {
        Py_ssize_t i = 1;
        while (i < text.n && text.p[i] != '"') {
            if (text.p[i] == '\\') return NO;  /* a quoted-pair: Python unescapes it */
            i++;
        }
        if (i == text.n) return NO;
        rest = sub(text, i + 1, text.n);
        while (rest.n && rest.p[0] == ' ') { rest.p++; rest.n--; }
        if (!rest.n || rest.p[0] != '<') return NO;
        display = str(sub(text, 1, i));
        if (display == NULL) return ERR;
    } else {
        Py_ssize_t lt = find(text, '<');
        if (lt >= 0) {
            Span words = strip_sp(sub(text, 0, lt));
            if (words.n) {
                /* each word a token; joined by one SP (" ".join(words.split())) */
                char buf[256];
                Py_ssize_t w = 0, i = 0;
                if (words.n >= (Py_ssize_t)sizeof buf) return NO;
                while (i < words.n) {
                    Py_ssize_t j = i;
                    while (j < words.n && words.p[j] != ' ') j++;
                    if (!is_token(sub(words, i, j))) return NO;
                    if (w) buf[w++] = ' ';
                    memcpy(buf + w, words.p + i, (size_t)(j - i));
                    w += j - i;
                    while (j < words.n && words.p[j] == ' ') j++;
                    i = j;
                }
                display = PyUnicode_FromStringAndSize(buf, w);
                if (display == NULL) return ERR;
            }
            rest = sub(text, lt, text.n);
        }
    }
    Span uri, tail;
    if (rest.n && rest.p[0] == '<') {
        Py_ssize_t gt = find(rest, '>');
        if (gt < 0) goto no;
        uri = sub(rest, 1, gt);
        /* LWS inside <> is a problem; '>' in the parameters moves Python's rfind('>') */
        if (uri.n && (uri.p[0] == ' ' || uri.p[uri.n - 1] == ' ')) goto no;
        tail = sub(rest, gt + 1, rest.n);
        if (find(tail, '>') >= 0) goto no;
        Span stripped = strip_sp(tail);
        if (stripped.n && stripped.p[0] != ';') goto no;
    } else {
        Py_ssize_t semi = find(rest, ';');
        uri = strip_sp(semi < 0 ? rest : sub(rest, 0, semi));
        tail = semi < 0 ? sub(rest, rest.n, rest.n) : sub(rest, semi, rest.n);
        if (has_any(uri, " \t?,")) goto no;
    }
    if (uri.n == 0 || find(uri, ':') < 0) goto no;
    if (has_any(tail, "\",") || empty_param(tail)) goto no;
    PyObject *params = NULL;
    int got = split_params(tail, &params);
    if (got != OK) { Py_XDECREF(display); return got; }
    PyObject *expires = PyDict_GetItemWithError(params, S_EXPIRES);
    if (expires != NULL) {  /* delta-seconds below 2**32 (RFC 3261 §20.19) */
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(expires, &n);
        unsigned long long v;
        Span e = {p, n};
        if (p == NULL || !bounded(strip_sp(e), 4294967295ULL, &v)) {
            Py_DECREF(params);
            if (p == NULL) { Py_XDECREF(display); return ERR; }
            goto no;
        }
    } else if (PyErr_Occurred()) { Py_DECREF(params); Py_XDECREF(display); return ERR; }
    if (display == NULL) display = Py_NewRef(Py_None);
    PyObject *v[3] = {display, str(uri), params};
    *out = make(&R_NA, v);
    return *out ? OK : ERR;
no:
    Py_XDECREF(display);
    return NO;
}

/* ---- Via --------------------------------------------------------------------------------- */

/* One Via value of the common shape (sipuri._VIA_COMMON_RE), without list comma, empty
 * parameter or branch problem. */
static int parse_via(Span value, PyObject **out) {
    value = strip_sp(value);
    if (find(value, ',') >= 0 || value.n == 0 || empty_param(value)) return NO;
    if (value.n < 9 || memcmp(value.p, "SIP/2.0/", 8) != 0) return NO;
    Py_ssize_t i = 8, t0 = 8;
    while (i < value.n && ((value.p[i] | 32) >= 'a' && (value.p[i] | 32) <= 'z')) i++;
    if (i == t0 || i >= value.n || value.p[i] != ' ') return NO;
    Span transport = sub(value, t0, i);
    Py_ssize_t h0 = ++i;
    if (i >= value.n || !(isalnum((unsigned char)value.p[i]) && (unsigned char)value.p[i] < 128)) return NO;
    while (i < value.n && ((unsigned char)value.p[i] < 128 && (isalnum((unsigned char)value.p[i]) || value.p[i] == '.' || value.p[i] == '-'))) i++;
    Span host = sub(value, h0, i);
    PyObject *port = Py_NewRef(Py_None);
    if (i < value.n && value.p[i] == ':') {
        Py_ssize_t p0 = ++i;
        while (i < value.n && value.p[i] >= '0' && value.p[i] <= '9' && i - p0 < 6) i++;
        unsigned long long number;
        if (i - p0 < 1 || i - p0 > 5 || !bounded(sub(value, p0, i), 65535, &number)) { Py_DECREF(port); return NO; }
        Py_DECREF(port);
        port = PyLong_FromUnsignedLongLong(number);
        if (port == NULL) return ERR;
    }
    Span params_text = sub(value, i, value.n);
    Span lead = params_text;
    while (lead.n && lead.p[0] == ' ') { lead.p++; lead.n--; }
    if (params_text.n && (!lead.n || lead.p[0] != ';' || find(params_text, '"') >= 0)) { Py_DECREF(port); return NO; }
    PyObject *params = NULL;
    int got = split_params(params_text, &params);
    if (got != OK) { Py_DECREF(port); return got; }
    PyObject *branch = PyDict_GetItemWithError(params, S_BRANCH);
    if (branch != NULL) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(branch, &n);
        if (p == NULL) { Py_DECREF(params); Py_DECREF(port); return ERR; }
        if (n <= 7 || memcmp(p, "z9hG4bK", 7) != 0) { Py_DECREF(params); Py_DECREF(port); return NO; }
    } else if (PyErr_Occurred()) { Py_DECREF(params); Py_DECREF(port); return ERR; }
    PyObject *received = PyDict_GetItemWithError(params, S_RECEIVED);
    PyObject *rport_text = PyErr_Occurred() ? NULL : PyDict_GetItemWithError(params, S_RPORT);
    if (PyErr_Occurred()) { Py_DECREF(params); Py_DECREF(port); return ERR; }
    PyObject *rport = Py_NewRef(Py_None);
    if (rport_text != NULL) {  /* a bad rport is None, without a problem (sipuri._via) */
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(rport_text, &n);
        unsigned long long number;
        Span r = {p, n};
        if (p == NULL) { Py_DECREF(params); Py_DECREF(port); Py_DECREF(rport); return ERR; }
        if (bounded(r, 65535, &number)) {
            Py_DECREF(rport);
            rport = PyLong_FromUnsignedLongLong(number);
        }
    }
    PyObject *v[8] = {str_case(transport, 1), str_case(host, 0), port,
                      Py_NewRef(branch ? branch : Py_None), Py_NewRef(received ? received : Py_None),
                      rport, params, Py_NewRef(S_SIP20)};
    *out = make(&R_VIA, v);
    return *out ? OK : ERR;
}

/* ``parse`` of ``text`` remembered in ``table`` (a new reference in *out when OK). */
static int remembered(Memo *table, Span text, int (*parse)(Span, PyObject **), PyObject **out) {
    unsigned long long h = memo_hash(text);
    PyObject *known = memo_get(table, text, h);
    if (known != NULL) {
        *out = Py_NewRef(known);
        return OK;
    }
    int got = parse(text, out);
    if (got == OK) memo_put(table, text, h, *out);
    return got;
}

static int name_addr(Span text, PyObject **out) { return remembered(memo_addr, text, parse_name_addr, out); }
static int via(Span text, PyObject **out) { return remembered(memo_via, text, parse_via, out); }

/* ---- SDP --------------------------------------------------------------------------------- */

#define MAX_PARTS 64
static int split_ws(Span s, Span *parts, int max) {  /* str.split() of text without tabs */
    int n = 0;
    Py_ssize_t i = 0;
    while (i < s.n) {
        while (i < s.n && s.p[i] == ' ') i++;
        if (i == s.n) break;
        Py_ssize_t j = i;
        while (j < s.n && s.p[j] != ' ') j++;
        if (n == max) return -1;
        parts[n].p = s.p + i;
        parts[n].n = j - i;
        n++;
        i = j;
    }
    return n;
}

typedef struct {
    PyObject *kind, *proto, *formats, *connection, *address_type, *direction;
    PyObject *rtpmap, *fmtp, *rtcp_port, *attributes;
    unsigned long long port, count;
    int rtcp_mux;
} Media;

#define MAX_MEDIA 16

static void media_clear(Media *m) {
    Py_CLEAR(m->kind); Py_CLEAR(m->proto); Py_CLEAR(m->formats); Py_CLEAR(m->connection);
    Py_CLEAR(m->address_type); Py_CLEAR(m->direction); Py_CLEAR(m->rtpmap); Py_CLEAR(m->fmtp);
    Py_CLEAR(m->rtcp_port); Py_CLEAR(m->attributes);
}

static int is_direction(Span s) {
    return eq_lit(s, "sendrecv") || eq_lit(s, "sendonly") || eq_lit(s, "recvonly") || eq_lit(s, "inactive");
}

static int set_int_key(PyObject *dict, unsigned long long key, PyObject *value) {
    PyObject *k = PyLong_FromUnsignedLongLong(key);
    int bad = k == NULL || value == NULL || PyDict_SetItem(dict, k, value) < 0;
    Py_XDECREF(k);
    Py_XDECREF(value);
    return bad ? ERR : OK;
}

/* a=rtpmap:<pt> <name>/<rate>[/<channels>] without a problem (sdp._rtpmap) */
static int rtpmap(Span value, PyObject *dict) {
    Span whole = value;
    unsigned long long h = memo_hash(whole);
    PyObject *known = memo_get(memo_rtpmap, whole, h);
    value = strip_sp(value);
    if (known != NULL) {  /* (name, rate, channels) of this very text: only the key to read again */
        Py_ssize_t sp = find(value, ' ');
        unsigned long long pt;
        if (!bounded(sp < 0 ? value : sub(value, 0, sp), 127, &pt)) return NO;  /* (cannot be) */
        return set_int_key(dict, pt, Py_NewRef(known));
    }
    Py_ssize_t sp = find(value, ' ');
    Span pt_text = sp < 0 ? value : sub(value, 0, sp);
    Span spec = strip_sp(sp < 0 ? sub(value, value.n, value.n) : sub(value, sp + 1, value.n));
    Span pieces[3];
    int n = 0;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i <= spec.n && n < 3; i++) {
        if (i < spec.n && spec.p[i] != '/') continue;
        pieces[n++] = sub(spec, start, i);
        start = i + 1;
    }
    unsigned long long pt, clock, channels = 1;
    if (!bounded(pt_text, 127, &pt) || n < 2 || pieces[0].n == 0) return NO;
    if (!bounded(strip_sp(pieces[1]), 4294967295ULL, &clock)) return NO;
    if (n > 2 && pieces[2].n && !bounded(strip_sp(pieces[2]), 255, &channels)) return NO;
    PyObject *entry = Py_BuildValue("(NKK)", str(pieces[0]), clock, channels);
    if (entry != NULL) memo_put(memo_rtpmap, whole, h, entry);
    return set_int_key(dict, pt, entry);
}

static int sdp_line_attr(Span value, Media *m, PyObject *attributes, PyObject **session_direction) {
    Py_ssize_t colon = find(value, ':');
    Span name = colon < 0 ? value : sub(value, 0, colon);
    Span attr = colon < 0 ? sub(value, value.n, value.n) : sub(value, colon + 1, value.n);
    /* (name, value) of the line, shared by its text */
    unsigned long long h = memo_hash(value);
    PyObject *entry = memo_get(memo_attr, value, h);
    if (entry != NULL) {
        Py_INCREF(entry);
    } else {
        entry = Py_BuildValue("(NN)", str(name), colon < 0 ? Py_NewRef(Py_None) : str(attr));
        if (entry == NULL) return ERR;
        memo_put(memo_attr, value, h, entry);
    }
    int bad = PyList_Append(m ? m->attributes : attributes, entry) < 0;
    PyObject *name_text = PyTuple_GET_ITEM(entry, 0);  /* (borrowed: the list holds the entry) */
    Py_DECREF(entry);
    if (bad) return ERR;
    if (is_direction(name)) {
        PyObject **slot = m ? &m->direction : session_direction;
        Py_XSETREF(*slot, Py_NewRef(name_text));
        return OK;
    }
    if (m == NULL) return OK;
    unsigned long long number;
    if (eq_lit(name, "rtpmap")) return rtpmap(attr, m->rtpmap);
    if (eq_lit(name, "fmtp")) {
        Py_ssize_t sp = find(attr, ' ');
        Span pt_text = sp < 0 ? attr : sub(attr, 0, sp);
        Span params = strip_sp(sp < 0 ? sub(attr, attr.n, attr.n) : sub(attr, sp + 1, attr.n));
        if (!bounded(pt_text, 127, &number)) return NO;
        return set_int_key(m->fmtp, number, str(params));
    }
    if (eq_lit(name, "rtcp")) {
        Py_ssize_t sp = find(attr, ' ');
        if (!bounded(strip_sp(sp < 0 ? attr : sub(attr, 0, sp)), 65535, &number)) return NO;
        Py_XSETREF(m->rtcp_port, PyLong_FromUnsignedLongLong(number));
        return m->rtcp_port ? OK : ERR;
    }
    if (eq_lit(name, "rtcp-mux")) m->rtcp_mux = 1;
    return OK;
}

static int sdp_media_line(Span value, Media *m) {
    Span parts[MAX_PARTS];
    int n = split_ws(value, parts, MAX_PARTS);
    if (n < 3) return NO;
    Py_ssize_t slash = find(parts[1], '/');
    if (!bounded(slash < 0 ? parts[1] : sub(parts[1], 0, slash), 65535, &m->port)) return NO;
    m->count = 1;
    if (slash >= 0 && (!bounded(sub(parts[1], slash + 1, parts[1].n), 65535, &m->count) || m->count == 0)) return NO;
    m->kind = str(parts[0]);
    m->proto = str(parts[2]);
    /* the formats' tuple, shared by the text of the list (from the first to the last) */
    Span list = n > 3 ? sub(value, parts[3].p - value.p, parts[n - 1].p + parts[n - 1].n - value.p)
                      : sub(value, value.n, value.n);
    unsigned long long h = memo_hash(list);
    PyObject *known = memo_get(memo_formats, list, h);
    if (known != NULL) {
        m->formats = Py_NewRef(known);
    } else {
        m->formats = PyTuple_New(n - 3);
        for (int i = 3; m->formats != NULL && i < n; i++) {
            PyObject *f = str(parts[i]);
            if (f == NULL) { Py_CLEAR(m->formats); break; }
            PyTuple_SET_ITEM(m->formats, i - 3, f);
        }
        if (m->formats != NULL) memo_put(memo_formats, list, h, m->formats);
    }
    m->rtpmap = PyDict_New();
    m->fmtp = PyDict_New();
    m->attributes = PyList_New(0);
    if (!m->kind || !m->proto || !m->formats || !m->rtpmap || !m->fmtp || !m->attributes) return ERR;
    return OK;
}

static int sdp_connection(Span value, PyObject **address, PyObject **address_type) {
    Span parts[4];
    if (split_ws(value, parts, 4) != 3) return NO;
    Py_ssize_t slash = find(parts[2], '/');
    Py_XSETREF(*address, str(slash < 0 ? parts[2] : sub(parts[2], 0, slash)));
    Py_XSETREF(*address_type, str_case(parts[1], 1));
    return *address && *address_type ? OK : ERR;
}

/* sdp.parse_sdp of a body of ASCII CRLF lines that has no problem, else NO. */
static int sdp(Span body, PyObject **out) {
    Span lines[512];
    int count = 0;
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < body.n; i++) {
        unsigned char c = (unsigned char)body.p[i];
        if (c == '\n') {
            if (i == start || body.p[i - 1] != '\r' || count == 512) return NO;
            lines[count++] = sub(body, start, i - 1);
            start = i + 1;
        } else if (c == '\r') {
            if (i + 1 >= body.n || body.p[i + 1] != '\n') return NO;
        } else if (c < 0x20 || c > 0x7e) return NO;
    }
    if (start < body.n) {
        if (count == 512) return NO;
        lines[count++] = sub(body, start, body.n);
    }
    while (count && strip_sp(lines[count - 1]).n == 0) count--;
    unsigned long long number;
    if (count == 0 || lines[0].n < 2 || memcmp(lines[0].p, "v=", 2) != 0
        || !bounded(strip_sp(sub(lines[0], 2, lines[0].n)), 255, &number) || number != 0)
        return NO;

    Media media[MAX_MEDIA];
    int nmedia = 0, result = NO;
    PyObject *origin = NULL, *session_name = NULL, *connection = NULL, *address_type = NULL;
    PyObject *session_direction = NULL, *attributes = PyList_New(0), *built = NULL;
    memset(media, 0, sizeof media);
    if (attributes == NULL) return ERR;
    for (int l = 1; l < count; l++) {
        Span line = lines[l];
        if (strip_sp(line).n == 0 || line.n < 2 || line.p[0] == '=' || line.p[1] != '=') goto done;
        Span value = sub(line, 2, line.n);
        Media *current = nmedia ? &media[nmedia - 1] : NULL;
        int got = OK;
        switch (line.p[0]) {
        case 'm':
            if (nmedia == MAX_MEDIA) goto done;
            got = sdp_media_line(value, &media[nmedia++]);
            break;
        case 'o': {
            Span parts[7];
            if (split_ws(value, parts, 7) != 6 || !bounded(parts[2], 18446744073709551615ULL, &number)) goto done;
            PyObject *v[6] = {str(parts[0]), str(parts[1]), PyLong_FromUnsignedLongLong(number),
                              str(parts[3]), str(parts[4]), str(parts[5])};
            Py_XSETREF(origin, make(&R_ORIG, v));
            got = origin ? OK : ERR;
            break;
        }
        case 's':
            Py_XSETREF(session_name, str(value));
            got = session_name ? OK : ERR;
            break;
        case 'c':
            got = current ? sdp_connection(value, &current->connection, &current->address_type)
                          : sdp_connection(value, &connection, &address_type);
            break;
        case 'a':
            got = sdp_line_attr(value, current, attributes, &session_direction);
            break;
        default:
            break;
        }
        if (got != OK) { result = got; goto done; }
    }
    if (origin == NULL) goto done;
    built = PyTuple_New(nmedia);
    if (built == NULL) { result = ERR; goto done; }
    for (int i = 0; i < nmedia; i++) {
        Media *m = &media[i];
        PyObject *conn = m->connection ? m->connection : connection;
        if (conn == NULL && m->port != 0) goto done;
        PyObject *dir = m->direction ? m->direction : session_direction ? session_direction : S_SENDRECV;
        PyObject *atype = m->address_type ? m->address_type : address_type;
        PyObject *v[13] = {Py_NewRef(m->kind), PyLong_FromUnsignedLongLong(m->port),
                           PyLong_FromUnsignedLongLong(m->count), Py_NewRef(m->proto), Py_NewRef(m->formats),
                           Py_NewRef(conn ? conn : Py_None), Py_NewRef(dir), Py_NewRef(m->rtpmap),
                           Py_NewRef(m->fmtp), Py_NewRef(m->rtcp_port ? m->rtcp_port : Py_None),
                           Py_NewRef(m->rtcp_mux ? Py_True : Py_False), PyList_AsTuple(m->attributes),
                           Py_NewRef(atype ? atype : Py_None)};
        PyObject *made = make(&R_MEDIA, v);
        if (made == NULL) { result = ERR; goto done; }
        PyTuple_SET_ITEM(built, i, made);
    }
    {
        PyObject *v[8] = {Py_NewRef(origin), Py_NewRef(session_name ? session_name : Py_None),
                          Py_NewRef(connection ? connection : Py_None),
                          Py_NewRef(session_direction ? session_direction : S_SENDRECV), Py_NewRef(built),
                          PyList_AsTuple(attributes), PyLong_FromLong(0), Py_NewRef(EMPTY_TUPLE)};
        *out = make(&R_SESS, v);
        result = *out ? OK : ERR;
    }
done:
    for (int i = 0; i < nmedia; i++) media_clear(&media[i]);
    Py_XDECREF(origin); Py_XDECREF(session_name); Py_XDECREF(connection); Py_XDECREF(address_type);
    Py_XDECREF(session_direction); Py_XDECREF(attributes); Py_XDECREF(built);
    return result;
}

/* ---- header names ------------------------------------------------------------------------ */

/* Which headers the parse reads; the rest are only kept. */
enum { H_OTHER, H_CALLID, H_CSEQ, H_FROM, H_TO, H_VIA, H_CONTACT, H_MAXFWD, H_CLEN, H_CTYPE,
       H_EXPIRES, H_DATE, H_WARNING, H_COUNT };
static const char *H_KEYS[H_COUNT] = {NULL, "call-id", "cseq", "from", "to", "via", "contact",
    "max-forwards", "content-length", "content-type", "expires", "date", "warning"};

/* Header names as written -> the shared name string, its canonical key and which header it is:
 * a small direct-mapped table (a name that collides replaces the other; bounded by design). */
#define NAME_SLOTS 512
#define NAME_LEN 40
typedef struct { Py_ssize_t n; char text[NAME_LEN]; PyObject *name, *key; int which; } NameEntry;
static NameEntry names[NAME_SLOTS];

static NameEntry *header_name(Span name) {
    if (name.n >= NAME_LEN) return NULL;
    unsigned h = 2166136261u;
    for (Py_ssize_t i = 0; i < name.n; i++) h = (h ^ (unsigned char)name.p[i]) * 16777619u;
    NameEntry *e = &names[h % NAME_SLOTS];
    if (e->name && e->n == name.n && memcmp(e->text, name.p, (size_t)name.n) == 0) return e;
    PyObject *text = str(name);
    if (text == NULL) return NULL;
    PyUnicode_InternInPlace(&text);
    PyObject *key = PyObject_CallOneArg(canonical_fn, text);
    if (key == NULL || !PyUnicode_Check(key)) { Py_DECREF(text); Py_XDECREF(key); return NULL; }
    Py_XSETREF(e->name, text);
    Py_XSETREF(e->key, key);
    e->n = name.n;
    memcpy(e->text, name.p, (size_t)name.n);
    e->which = H_OTHER;
    for (int k = 1; k < H_COUNT; k++)
        if (PyUnicode_CompareWithASCIIString(key, H_KEYS[k]) == 0) e->which = k;
    return e;
}

/* ---- the message ------------------------------------------------------------------------- */

#define MAX_LIST 16  /* Via and Contact values read; more goes to Python */

typedef struct {
    int count[H_COUNT];
    PyObject *first[H_COUNT];  /* borrowed: the value strings in ``headers`` */
    PyObject *list[2][MAX_LIST];  /* Via, Contact values (borrowed) */
} Seen;

static int span_of(PyObject *s, Span *out) {
    out->p = PyUnicode_AsUTF8AndSize(s, &out->n);
    return out->p != NULL;
}

static int parse_cseq(Span s, PyObject **out) {
    s = strip_sp(s);
    Py_ssize_t sp = find(s, ' ');
    if (sp < 0) return NO;
    Span method = strip_sp(sub(s, sp + 1, s.n));
    unsigned long long number;
    if (!bounded(sub(s, 0, sp), 2147483647ULL, &number) || !is_token(method)) return NO;
    *out = Py_BuildValue("(KN)", number, str(method));
    return *out ? OK : ERR;
}

/* (number, method) of a CSeq value; a request's must name its method (RFC 3261 §8.1.1.5). */
static int cseq(PyObject *value, PyObject *request_method, PyObject **out) {
    Span s;
    if (!span_of(value, &s)) return ERR;
    int got = remembered(memo_cseq, s, parse_cseq, out);
    if (got != OK || request_method == NULL) return got;
    int same = PyUnicode_Compare(PyTuple_GET_ITEM(*out, 1), request_method);
    if (same == 0) return OK;
    Py_CLEAR(*out);
    return same == -1 && PyErr_Occurred() ? ERR : NO;
}

/* The RequestLine or StatusLine of a start line without a problem (sip.py _parse_start). */
static int parse_start(Span line, PyObject **out) {
    if (line.n >= 4 && (line.p[0] | 32) == 's' && (line.p[1] | 32) == 'i' && (line.p[2] | 32) == 'p' && line.p[3] == '/') {
        /* SIP/2.0 SP 3DIGIT SP Reason-Phrase */
        unsigned long long code;
        if (line.n < 12 || memcmp(line.p, "SIP/2.0 ", 8) != 0 || line.p[11] != ' '
            || !bounded(sub(line, 8, 11), 999, &code) || code < 100)
            return NO;
        PyObject *v[3] = {Py_NewRef(S_SIP20), PyLong_FromUnsignedLongLong(code), str(sub(line, 12, line.n))};
        *out = make(&R_STAT, v);
        return *out ? OK : ERR;
    }
    Py_ssize_t sp1 = find(line, ' ');
    if (sp1 <= 0) return NO;
    Py_ssize_t sp2 = find(sub(line, sp1 + 1, line.n), ' ');
    if (sp2 <= 0) return NO;
    sp2 += sp1 + 1;
    Span m = sub(line, 0, sp1), uri = sub(line, sp1 + 1, sp2), version = sub(line, sp2 + 1, line.n);
    if (!is_token(m) || !eq_lit(version, "SIP/2.0") || !request_uri_ok(uri)) return NO;
    for (Py_ssize_t i = 0; i < m.n; i++)
        if (m.p[i] >= 'a' && m.p[i] <= 'z') return NO;  /* Python says when it is a known method */
    PyObject *v[3] = {str(m), str(uri), Py_NewRef(S_SIP20)};
    *out = make(&R_REQ, v);
    return *out ? OK : ERR;
}

/* parse_plain(data, src, dst, frames, ts_ns) -> SipMessage | None */
static PyObject *parse_plain(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "parse_plain(data, src, dst, frames, ts_ns)");
        return NULL;
    }
    PyObject *data = args[0];
    if (!ready || !PyBytes_CheckExact(data)) Py_RETURN_NONE;
    const char *s = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n == 0 || s[0] == '\r' || s[0] == '\n') Py_RETURN_NONE;

    /* the head: ASCII without tab or control byte, CRLF lines, ended by an empty line; its
     * header lines counted (the CRLFs before the last) */
    Py_ssize_t end = -1, lines = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
#ifdef __SSE2__
        /* 16 bytes at a time to the next byte that is not printable ASCII (a CR among them) */
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
            int odd = _mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),  /* (signed: >0x7f too) */
                                                     _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
            if (odd) { i += __builtin_ctz((unsigned)odd); break; }
            i += 16;
        }
        if (i >= n) break;
#endif
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n') Py_RETURN_NONE;
            if (i + 3 < n && s[i + 2] == '\r' && s[i + 3] == '\n') { end = i; break; }
            if (i + 2 < n && (s[i + 2] == ' ' || s[i + 2] == '\t')) Py_RETURN_NONE;  /* folded */
            lines++;
            i++;
        } else if (c < 0x20 || c > 0x7e) Py_RETURN_NONE;
    }
    if (end < 0) Py_RETURN_NONE;
    Py_ssize_t body_start = end + 4;

    PyObject *result = NULL, *start = NULL, *headers = NULL, *index = NULL, *method = NULL;
    PyObject *from_addr = NULL, *to_addr = NULL, *vias = NULL, *contacts = NULL, *cseq_v = NULL;
    PyObject *body = NULL, *sdp_v = NULL, *frames = NULL;
    int got = NO, is_request;
    Seen seen;
    memset(&seen, 0, sizeof seen);

    /* start line */
    Py_ssize_t line_end = (const char *)memchr(s, '\r', (size_t)n) - s;
    Span line = {s, line_end};
    if ((got = remembered(memo_start, line, parse_start, &start)) != OK) goto done;
    got = NO;
    is_request = Py_IS_TYPE(start, R_REQ.type);
    if (is_request) method = Py_NewRef(*(PyObject **)((char *)start + R_REQ.off[0]));

    /* headers: (name, value) in order, and the index of values by canonical key */
    /* (the tuple made at its size, filled in order; the index made at the size its keys need) */
    headers = PyTuple_New(lines);
    index = _PyDict_NewPresized(lines);
    if (headers == NULL || index == NULL) { got = ERR; goto done; }
    Py_ssize_t pos = line_end + 2, made = 0;
    while (pos < body_start - 2) {
        Py_ssize_t stop = (const char *)memchr(s + pos, '\r', (size_t)(n - pos)) - s;
        Span text = {s + pos, stop - pos};
        pos = stop + 2;
        Py_ssize_t colon = find(text, ':');
        if (colon < 0) goto done;
        Span name = sub(text, 0, colon);
        while (name.n && name.p[name.n - 1] == ' ') name.n--;
        if (!is_token(name)) goto done;
        NameEntry *entry = header_name(name);
        if (entry == NULL) {
            if (PyErr_Occurred()) { got = ERR; goto done; }
            goto done;  /* a name too long for the table */
        }
        unsigned long long h = memo_hash(text);
        Memo *known = memo_entry(memo_line, text, h);
        PyObject *pair, *one, *value;
        if (known != NULL) {
            pair = Py_NewRef(known->value);
            one = Py_NewRef(known->extra);
        } else {
            value = str(strip_sp(sub(text, colon + 1, text.n)));
            pair = value ? PyTuple_Pack(2, entry->name, value) : NULL;
            one = value ? PyTuple_Pack(1, value) : NULL;
            Py_XDECREF(value);
            if (pair != NULL && one != NULL) memo_put_with(memo_line, text, h, pair, one);
        }
        if (pair == NULL || one == NULL || made == lines) {
            Py_XDECREF(pair);
            Py_XDECREF(one);
            got = pair == NULL || one == NULL ? ERR : NO;
            goto done;
        }
        PyTuple_SET_ITEM(headers, made++, pair);  /* (``headers`` holds the pair now) */
        value = PyTuple_GET_ITEM(pair, 1);  /* borrowed: ``headers`` holds the pair */
        PyObject *had = PyDict_GetItemWithError(index, entry->key);
        int bad;
        if (had == NULL) {
            bad = PyErr_Occurred() || PyDict_SetItem(index, entry->key, one) < 0;
        } else if (PyTuple_CheckExact(had)) {  /* a repeat: a list until the end */
            PyObject *more = PyList_New(2);
            if (more != NULL) {
                PyList_SET_ITEM(more, 0, Py_NewRef(PyTuple_GET_ITEM(had, 0)));
                PyList_SET_ITEM(more, 1, Py_NewRef(value));
            }
            bad = more == NULL || PyDict_SetItem(index, entry->key, more) < 0;
            Py_XDECREF(more);
        } else {
            bad = PyList_Append(had, value) < 0;
        }
        Py_DECREF(one);
        if (bad) { got = ERR; goto done; }
        int w = entry->which, c = seen.count[w]++;
        if (c == 0) seen.first[w] = value;  /* borrowed: ``headers`` holds it */
        if (w == H_VIA || w == H_CONTACT) {
            if (c >= MAX_LIST) goto done;
            seen.list[w == H_CONTACT][c] = value;
        }
    }
    if (made != lines) goto done;  /* (cannot be: a line per CRLF counted) */
    {
        Py_ssize_t i = 0;
        PyObject *key, *values;
        while (PyDict_Next(index, &i, &key, &values)) {
            if (PyList_CheckExact(values)) {
                PyObject *t = PyList_AsTuple(values);
                if (t == NULL || PyDict_SetItem(index, key, t) < 0) { Py_XDECREF(t); got = ERR; goto done; }
                Py_DECREF(t);
            }
        }
    }

    /* one value each (a repeat, even the same, is left to Python); the required ones present */
    static const int singles[] = {H_CALLID, H_CSEQ, H_FROM, H_TO, H_CTYPE, H_EXPIRES, H_DATE, H_MAXFWD, H_CLEN};
    for (size_t k = 0; k < sizeof singles / sizeof singles[0]; k++)
        if (seen.count[singles[k]] > 1) goto done;
    if (!seen.count[H_TO] || !seen.count[H_FROM] || !seen.count[H_CSEQ] || !seen.count[H_CALLID]
        || !seen.count[H_VIA] || (is_request && !seen.count[H_MAXFWD]) || seen.count[H_WARNING])
        goto done;

    /* Content-Length: the body is exactly that long (or absent, and no body) */
    PyObject *content_length = NULL;
    Py_ssize_t body_len = n - body_start;
    Span value;
    if (seen.count[H_CLEN]) {
        unsigned long long length;
        if (!span_of(seen.first[H_CLEN], &value)) { got = ERR; goto done; }
        if (!bounded(value, 4294967296ULL, &length) || (unsigned long long)body_len != length) goto done;
        content_length = PyLong_FromUnsignedLongLong(length);
    } else {
        if (body_len) goto done;
        content_length = Py_NewRef(Py_None);
    }
    if (content_length == NULL) { got = ERR; goto done; }

    if ((got = cseq(seen.first[H_CSEQ], method, &cseq_v)) != OK) goto done_cl;
    got = NO;
    {
        Span v;
        if (!span_of(seen.first[H_FROM], &v)) { got = ERR; goto done_cl; }
        if ((got = name_addr(v, &from_addr)) != OK) goto done_cl;
        got = NO;
        PyObject *tag = PyDict_GetItemWithError(((PyObject **)((char *)from_addr + R_NA.off[2]))[0], S_TAG);
        if (tag == NULL) { if (PyErr_Occurred()) got = ERR; goto done_cl; }
        if (!span_of(seen.first[H_TO], &v)) { got = ERR; goto done_cl; }
        if ((got = name_addr(v, &to_addr)) != OK) goto done_cl;
        got = NO;
    }
    vias = PyTuple_New(seen.count[H_VIA]);
    if (vias == NULL) { got = ERR; goto done_cl; }
    for (int i = 0; i < seen.count[H_VIA]; i++) {
        Span v;
        PyObject *made = NULL;
        if (!span_of(seen.list[0][i], &v)) { got = ERR; goto done_cl; }
        if ((got = via(v, &made)) != OK) goto done_cl;
        PyTuple_SET_ITEM(vias, i, made);
    }
    got = NO;
    contacts = PyList_New(0);
    if (contacts == NULL) { got = ERR; goto done_cl; }
    for (int i = 0; i < seen.count[H_CONTACT]; i++) {
        Span v;
        PyObject *made = NULL;
        if (!span_of(seen.list[1][i], &v)) { got = ERR; goto done_cl; }
        if (find(v, ',') >= 0) goto done_cl;
        v = strip_sp(v);
        if (v.n == 0 || eq_lit(v, "*")) continue;
        if ((got = name_addr(v, &made)) != OK) goto done_cl;
        got = NO;
        int bad = PyList_Append(contacts, made) < 0;
        Py_DECREF(made);
        if (bad) { got = ERR; goto done_cl; }
    }
    if (seen.count[H_DATE]) {  /* in GMT (RFC 3261 §20.17) */
        if (!span_of(seen.first[H_DATE], &value)) { got = ERR; goto done_cl; }
        if (value.n < 4 || memcmp(value.p + value.n - 4, " GMT", 4) != 0) goto done_cl;
    }
    unsigned long long number;
    if (seen.count[H_EXPIRES]) {
        if (!span_of(seen.first[H_EXPIRES], &value)) { got = ERR; goto done_cl; }
        if (!bounded(value, 4294967295ULL, &number)) goto done_cl;
    }
    PyObject *max_forwards = Py_None;
    if (seen.count[H_MAXFWD]) {
        if (!span_of(seen.first[H_MAXFWD], &value)) { got = ERR; goto done_cl; }
        if (!bounded(value, 255, &number)) goto done_cl;
        max_forwards = PyLong_FromUnsignedLongLong(number);
        if (max_forwards == NULL) { got = ERR; goto done_cl; }
    } else Py_INCREF(max_forwards);

    /* the body, and its SDP */
    body = body_len ? PyBytes_FromStringAndSize(s + body_start, body_len) : Py_NewRef(EMPTY_BYTES);
    if (body == NULL) { got = ERR; goto done_mf; }
    PyObject *content_type = seen.count[H_CTYPE] ? seen.first[H_CTYPE] : Py_None;
    if (body_len) {
        if (content_type == Py_None || PyUnicode_GET_LENGTH(content_type) == 0) {  /* no media type */
            Py_ssize_t i = body_start;
            while (i < n && strchr(" \t\n\r\x0b\x0c", s[i]) && s[i]) i++;
            if (n - i >= 4 && memcmp(s + i, "v=0", 3) == 0 && (s[i + 3] == '\r' || s[i + 3] == '\n')) goto done_mf;
        } else {
            if (!span_of(content_type, &value)) { got = ERR; goto done_mf; }
            Py_ssize_t semi = find(value, ';');
            Span media_type = strip_sp(semi < 0 ? value : sub(value, 0, semi));
            if (media_type.n >= 10 && strncasecmp(media_type.p, "multipart/", 10) == 0) goto done_mf;
            if (media_type.n == 15 && strncasecmp(media_type.p, "application/sdp", 15) == 0) {
                Span b = {s + body_start, body_len};
                if ((got = sdp(b, &sdp_v)) != OK) goto done_mf;
            }
        }
    }
    frames = PyTuple_CheckExact(args[3]) ? Py_NewRef(args[3]) : PySequence_Tuple(args[3]);
    if (frames == NULL) { got = ERR; goto done_mf; }
    {
        PyObject *from_params = *(PyObject **)((char *)from_addr + R_NA.off[2]);
        PyObject *to_params = *(PyObject **)((char *)to_addr + R_NA.off[2]);
        PyObject *from_tag = PyDict_GetItemWithError(from_params, S_TAG);
        PyObject *to_tag = from_tag ? PyDict_GetItemWithError(to_params, S_TAG) : NULL;
        if (PyErr_Occurred()) { got = ERR; goto done_mf; }
        PyObject *start_field = *(PyObject **)((char *)start + (is_request ? R_REQ.off[0] : R_STAT.off[1]));
        PyObject *v[25] = {
            Py_NewRef(start), Py_NewRef(headers), Py_NewRef(body), Py_NewRef(data), Py_NewRef(args[1]),
            Py_NewRef(args[2]), Py_NewRef(frames), Py_NewRef(args[4]), Py_NewRef(EMPTY_TUPLE),
            Py_NewRef(seen.first[H_CALLID]), Py_NewRef(cseq_v), Py_NewRef(from_addr), Py_NewRef(to_addr),
            Py_NewRef(vias), PyList_AsTuple(contacts), Py_NewRef(max_forwards), Py_NewRef(content_length),
            Py_NewRef(content_type), Py_NewRef(sdp_v ? sdp_v : Py_None), Py_NewRef(index),
            Py_NewRef(is_request ? Py_True : Py_False),
            Py_NewRef(is_request ? start_field : PyTuple_GET_ITEM(cseq_v, 1)),
            Py_NewRef(is_request ? Py_None : start_field), Py_NewRef(from_tag),
            Py_NewRef(to_tag ? to_tag : Py_None)};
        result = make(&R_MSG, v);
        got = result ? OK : ERR;
    }
done_mf:
    Py_DECREF(max_forwards);
done_cl:
    Py_DECREF(content_length);
done:
    Py_XDECREF(start); Py_XDECREF(headers); Py_XDECREF(index); Py_XDECREF(method);
    Py_XDECREF(from_addr); Py_XDECREF(to_addr); Py_XDECREF(vias); Py_XDECREF(contacts);
    Py_XDECREF(cseq_v); Py_XDECREF(body); Py_XDECREF(sdp_v); Py_XDECREF(frames);
    if (got == ERR) { Py_XDECREF(result); return NULL; }
    if (got == NO) Py_RETURN_NONE;
    return result;
}

/* parse_at(data, src, dst, number, ts_ns, offset) -> SipMessage | None: parse_plain of a
 * message carried by one frame, its frames (FrameRef(number, ts_ns, offset),) made here as
 * FrameRef's __init__ makes them (each field in its slot) and its time that frame's. */
static PyObject *parse_at(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "parse_at(data, src, dst, number, ts_ns, offset)");
        return NULL;
    }
    if (!ready) Py_RETURN_NONE;
    PyObject *v[3] = {Py_NewRef(args[3]), Py_NewRef(args[4]), Py_NewRef(args[5])};
    PyObject *frame = make(&R_FRAME, v);
    PyObject *frames = frame ? PyTuple_Pack(1, frame) : NULL;
    Py_XDECREF(frame);
    if (frames == NULL) return NULL;
    PyObject *plain_args[5] = {args[0], args[1], args[2], frames, args[4]};
    PyObject *message = parse_plain(self, plain_args, 5);
    Py_DECREF(frames);
    return message;
}

/* setup(classes: dict[str, type], canonical_name) -> bool: whether the records have the
 * fields this file stores (False: it answers None for everything, Python parses). */
static PyObject *setup(PyObject *self, PyObject *args) {
    PyObject *classes, *canonical;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &classes, &canonical)) return NULL;
    struct { Rec *r; const char *cls; const char **fields; } all[] = {
        {&R_MSG, "SipMessage", F_MSG}, {&R_REQ, "RequestLine", F_REQ}, {&R_STAT, "StatusLine", F_STAT},
        {&R_NA, "NameAddr", F_NA}, {&R_VIA, "Via", F_VIA}, {&R_SESS, "SdpSession", F_SESS},
        {&R_ORIG, "SdpOrigin", F_ORIG}, {&R_MEDIA, "SdpMedia", F_MEDIA}, {&R_FRAME, "FrameRef", F_FRAME}};
    ready = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        PyObject *cls = PyDict_GetItemString(classes, all[i].cls);
        if (cls == NULL || !rec_setup(all[i].r, cls, all[i].fields)) Py_RETURN_FALSE;
    }
    Py_XSETREF(canonical_fn, Py_NewRef(canonical));
    ready = 1;
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"parse_plain", (PyCFunction)(void (*)(void))parse_plain, METH_FASTCALL,
     "parse_plain(data, src, dst, frames, ts_ns): the SipMessage parse_sip makes of a plain message, or None."},
    {"parse_at", (PyCFunction)(void (*)(void))parse_at, METH_FASTCALL,
     "parse_at(data, src, dst, number, ts_ns, offset): parse_plain(data, src, dst, (FrameRef(number, ts_ns, offset),), ts_ns)."},
    {"setup", setup, METH_VARARGS, "setup(classes, canonical_name) -> bool"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sipparse", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sipparse(void) {
    tables_init();
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(S_TAG, "tag");
    INTERN(S_EXPIRES, "expires");
    INTERN(S_BRANCH, "branch");
    INTERN(S_RECEIVED, "received");
    INTERN(S_RPORT, "rport");
    INTERN(S_SIP20, "SIP/2.0");
    INTERN(S_SENDRECV, "sendrecv");
    if ((EMPTY_TUPLE = PyTuple_New(0)) == NULL || (EMPTY_BYTES = PyBytes_FromStringAndSize("", 0)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
