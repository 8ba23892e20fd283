/* ladder._accel: the RTP-heavy part of the ingest hot loop, compiled.
 *
 * Real captures are mostly RTP, and in pure Python each RTP packet costs a record unpack, a
 * header unpack, a dict lookup and ~40 attribute updates. This module takes over exactly the
 * packets that ladder/media/streams.py's own fast path takes ("the next packet of a confirmed
 * stream": next sequence number, same payload type, no marker, timestamp moving forward), and
 * nothing else:
 *
 *   * ``Accelerator.arm(state, base_ns, counting)`` copies a confirmed stream's fast-path
 *     state (a ``rtp_streams._State``) into a C slot; Python marks the state ``fast_pt = -2``
 *     while the slot owns it. ``pull(state)`` writes the slot back and frees it, so Python sees
 *     exactly the attributes its own fast path would have left. ``pull_all()`` at the end.
 *   * ``Accelerator(udp_only=True)`` (media analysis off) takes every such datagram only to
 *     count it, as the pipeline would count it ``udp-other``.
 *   * ``scan_pcap(buf, pos, end, frames)`` walks classic pcap records in ``buf[pos:end]`` and
 *     consumes each one that is Ethernet (802.1Q/QinQ tags too) / Linux SLL / SLL2 / raw IP /
 *     BSD loopback, IPv4
 *     without options or fragmentation, UDP whose length agrees with IP's, carrying the next
 *     packet of an armed stream. It stops at the first record it does not take, which the
 *     Python pipeline then handles; ``scan_pcapng`` does the same over pcapng EPBs.
 *
 *   * ``enable_sip(media)`` (a pipeline loaded with ``messages=False``: ``ladder stats``) makes
 *     the scans take, too, each such UDP datagram whose payload is a plainly written SIP message:
 *     ``sip_scan`` below (decoders/sipscan.py's scan_sip, stricter) reads it, and its SipIndex
 *     record goes to column buffers that ``take_sip()`` hands over after the run. With
 *     ``locate`` (``ladder calls``/``check``: a MessageStore) also where each message is in the
 *     file, its CRC-32, endpoints and correlation flag (``take_locations()``).
 *
 * The arithmetic is Python's, operation for operation, on IEEE doubles (the build disables
 * floating-point contraction), so every figure is bit-identical with the pure-Python path;
 * tests/unit/capture/test_accel.py compares both on every capture. The scan loop touches no Python object,
 * so it runs without the GIL and a TUI keeps its event loop while a capture loads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

/* The constants Python owns, given once by set_constants() (ladder/media/streams.py does it at
 * import), so the two paths cannot drift apart; no Accelerator is made before. */
static int constants_set = 0;
static int64_t MAX_RECORD;        /* ladder.capture.reader.MAX_RECORD */
static int64_t MAX_TS_NS;         /* ladder.capture.reader.MAX_TS_NS: at most 2**62 - 1, so two add up */
static int MAX_VLAN_TAGS;         /* decoders.linklayer.MAX_VLAN_TAGS */
static double TIMESTAMP_JUMP_MS;  /* ladder.media.streams.TIMESTAMP_JUMP_MS */
static double JITTER_BUFFER_MS;   /* ladder.media.streams.JITTER_BUFFER_MS */
#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW_12 12
#define LINKTYPE_RAW_14 14
#define LINKTYPE_RAW 101
#define LINKTYPE_LOOP 108
#define LINKTYPE_IPV4 228
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_LINUX_SLL2 276
#define RELEASE_GIL_BYTES (64 * 1024)
#define MAX_IFACES 64             /* pcapng interfaces the scan times (exported: ladder.capture.reader reads it) */

/* Attribute names of rtp_streams._State and series.SeriesBuilder, interned once. */
enum {
    A_SRC_IP, A_SRC_PORT, A_DST_IP, A_DST_PORT, A_SSRC, A_FAST_PT, A_FAST_LIMIT, A_FAST_CLOCK,
    A_TS_OFF, A_NEXT_SEQ, A_LAST_TS32, A_TIME_MS, A_DELTA, A_JITTER, A_LAST_NOMINAL,
    A_MIN_TRANSIT, A_MAX_JITTER, A_MIN_JITTER, A_MEAN_JITTER, A_MAX_DELTA, A_MIN_DELTA,
    A_MEAN_DELTA, A_TS_JUMPS, A_LATE, A_MAX_DELTA_FRAME, A_PACKETS, A_PAYLOAD_BYTES, A_LAST_NS,
    A_LAST_FRAME, A_SERIES, A_ORIGIN_NS, A_WIDTH_NS, A_INDEX, A_END_NS, A_LOST, A_MAX_POINTS,
    A_COL_DELTA, A_COL_JITTER, A_COL_LOST, A_COL_PACKETS, A_COUNT
};
static const char *attr_names[A_COUNT] = {
    "src_ip", "src_port", "dst_ip", "dst_port", "ssrc", "fast_pt", "fast_limit", "fast_clock",
    "ts_off", "next_seq", "last_ts32", "time_ms", "delta", "jitter", "last_nominal",
    "min_transit", "max_jitter", "min_jitter", "mean_jitter", "max_delta", "min_delta",
    "mean_delta", "ts_jumps", "late", "max_delta_frame", "packets", "payload_bytes", "last_ns",
    "last_frame", "series", "origin_ns", "width_ns", "index", "end_ns", "lost", "max_points",
    "_delta", "_jitter", "_lost", "_packets",
};
static PyObject *attr[A_COUNT];

typedef struct {
    /* key */
    uint32_t src, dst, ssrc;
    uint16_t sport, dport;
    int counting;              /* only count packets (the benchmark's baseline table) */
    PyObject *state;           /* the rtp_streams._State this slot stands in for */
    PyObject *series;          /* its SeriesBuilder */
    Py_buffer cols[4];         /* the builder's columns: delta, jitter (d), lost, packets (q) */
    /* read-only while armed */
    int fast_pt;
    int64_t fast_limit, fast_clock, ts_off, base_ns;
    /* the fast path's state */
    int64_t next_seq, last_ts32;
    double time_ms, delta, jitter, last_nominal, min_transit, max_jitter, min_jitter;
    double mean_jitter, max_delta, min_delta, mean_delta;
    int64_t ts_jumps, late, max_delta_frame, packets, payload_bytes, last_ns, last_frame;
    /* the series builder's open bucket and grid */
    int64_t s_origin, s_width, s_index, s_end, s_lost, s_packets, s_max_points;
    double s_delta, s_jitter;
} Slot;

/* -- the SIP first pass (decoders/sipscan.py scan_sip, in C) ---------------------------------
 *
 * sip_scan() answers for a subset of what scan_sip answers for, and then with the same fields:
 * it is scan_sip made stricter wherever the Python rules need care (any control byte but HT
 * in the head, any folded line, a start line other than "METHOD uri SIP/2.0" or
 * "SIP/2.0 NNN reason", HT inside From/To/Via), so it never has to decide a case scan_sip
 * decides by a subtle rule: it gives up (0) and the message goes the Python way.
 * tests/unit/capture/test_sipaccel.py compares both on every corpus, sample and RFC 4475 message. */

typedef struct { const uint8_t *p; Py_ssize_t n; } Span;  /* p == NULL: absent */

typedef struct {
    int is_request, status, has_cseq;
    Span method;  /* the request's method, or the CSeq method of a response */
    Span call_id, cseq_method, branch, sent_by, from_tag, to_tag, content_type;
    int64_t cseq, content_length;
    const uint8_t *body;
    Py_ssize_t body_len;
} SipScan;

/* Each byte's classes, filled once (char_init, at import): a head's bytes are tested one table
 * load each, not a chain of compares (the first pass tests every header name and Via value). */
enum { C_ALNUM = 1, C_TOKEN = 2, C_VIA_REFUSED = 4 };
static uint8_t char_class[256];

static void char_init(void)
{
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        /* RFC 3261 §25.1 token: alphanumerics and "-.!%*_+`'~" */
        int token = alnum || (c != 0 && strchr("-.!%*_+`'~", c) != NULL);
        /* what read_via leaves to Python: several via-parms, quotes, IPv6, comments, HT */
        int refused = c == ',' || c == '"' || c == '[' || c == '(' || c == '\t';
        char_class[c] = (uint8_t)((alnum ? C_ALNUM : 0) | (token ? C_TOKEN : 0) | (refused ? C_VIA_REFUSED : 0));
    }
}

static inline int is_alnum(uint8_t c) { return char_class[c] & C_ALNUM; }
static inline int is_token(uint8_t c) { return char_class[c] & C_TOKEN; }
static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static inline uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static Span strip(const uint8_t *p, Py_ssize_t n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    Span s = {p, n};
    return s;
}

static int span_ieq(Span s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != (uint8_t)word[i])
            return 0;
    return 1;
}

static const uint8_t *span_chr(Span s, uint8_t c) { return s.n ? memchr(s.p, c, s.n) : NULL; }
static Py_ssize_t span_count(Span s, uint8_t c)
{
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < s.n; i++)
        k += s.p[i] == c;
    return k;
}

/* One ``name=value`` of a ``;``-separated list as _tag/_via read it: ok = 0 when not understood;
 * *hit the value when the name is ``wanted`` (case-insensitive). */
static int read_param(Span piece, const char *wanted, Span *hit, int *seen)
{
    const uint8_t *eq = span_chr(piece, '=');
    Span name = strip(piece.p, eq ? eq - piece.p : piece.n);
    Span text = eq ? strip(eq + 1, piece.p + piece.n - eq - 1) : strip(piece.p, 0);
    if (name.n == 0 || span_chr(text, ' ') != NULL)
        return 0;
    for (Py_ssize_t i = 0; i < name.n; i++)
        if (!is_token(name.p[i]))
            return 0;  /* parse_sip refuses the whole value (RFC 3261 §25.1 generic-param) */
    if (span_ieq(name, wanted)) {
        if (*seen || eq == NULL || text.n == 0)
            return 0;
        *seen = 1;
        *hit = text;
    }
    return 1;
}

/* _tag: the tag of a plain ``[display] <uri>;params`` From/To value (tag->p NULL: none). */
static int read_tag(Span v, Span *tag)
{
    tag->p = NULL;
    tag->n = 0;
    /* no HT, one "<" and one ">", in that order (libc's memchr: many bytes a step) */
    const uint8_t *end_of_value = v.p + v.n;
    const uint8_t *lt = span_chr(v, '<'), *gt = span_chr(v, '>');
    if (lt == NULL || gt == NULL || lt > gt || span_chr(v, '\t') != NULL
        || memchr(lt + 1, '<', end_of_value - lt - 1) != NULL || memchr(gt + 1, '>', end_of_value - gt - 1) != NULL)
        return 0;
    Span display = {v.p, lt - v.p};
    if (span_chr(display, '\\') != NULL)
        return 0;
    if (span_chr(display, '"') != NULL) {
        Span d = strip(display.p, display.n);
        if (span_count(display, '"') != 2 || d.p[0] != '"' || d.p[d.n - 1] != '"')
            return 0;
    }
    Span params = strip(gt + 1, v.p + v.n - gt - 1);
    if (params.n == 0)
        return 1;
    if (params.p[0] != ';')
        return 0;
    int seen = 0;
    const uint8_t *q = params.p + 1, *end = params.p + params.n;
    for (;;) {
        const uint8_t *semi = memchr(q, ';', end - q);
        Span piece = {q, (semi ? semi : end) - q};
        if (span_chr(piece, '"') != NULL || !read_param(piece, "tag", tag, &seen))
            return 0;
        if (semi == NULL)
            return 1;
        q = semi + 1;
    }
}

/* _via: branch and sent-by of a plain ``SIP/2.0/UDP host[:port];params`` top Via. */
static int read_via(Span v, Span *branch, Span *sent_by)
{
    branch->p = NULL;
    branch->n = 0;
    for (Py_ssize_t i = 0; i < v.n; i++)
        if (char_class[v.p[i]] & C_VIA_REFUSED)
            return 0;
    const uint8_t *sp = span_chr(v, ' ');
    if (sp == NULL)
        return 0;
    Span protocol = {v.p, sp - v.p};
    if (protocol.n < 8 || span_count(protocol, '/') != 2)
        return 0;
    Span head = {protocol.p, 8};
    if (!span_ieq(head, "sip/2.0/") || protocol.n == 8)
        return 0;
    for (Py_ssize_t i = 8; i < protocol.n; i++)
        if (!is_token(protocol.p[i]))
            return 0;  /* parse_sip refuses a transport that is not a token (RFC 3261 §20.42) */
    Span rest = strip(sp + 1, v.p + v.n - sp - 1);
    const uint8_t *semi = span_chr(rest, ';');
    *sent_by = strip(rest.p, semi ? semi - rest.p : rest.n);
    if (sent_by->n == 0 || span_chr(*sent_by, ' ') != NULL)
        return 0;
    const uint8_t *colon = span_chr(*sent_by, ':');
    Py_ssize_t host_n = colon ? colon - sent_by->p : sent_by->n;
    if (host_n == 0)
        return 0;
    for (Py_ssize_t i = 0; i < host_n; i++)
        if (!is_alnum(sent_by->p[i]) && sent_by->p[i] != '-' && sent_by->p[i] != '.')
            return 0;
    if (colon != NULL) {
        const uint8_t *port = colon + 1;
        Py_ssize_t n = sent_by->p + sent_by->n - port;
        if (n < 1 || n > 5 || port[0] == '0')
            return 0;
        long value = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!is_digit(port[i]))
                return 0;
            value = value * 10 + (port[i] - '0');
        }
        if (value >= 65536)
            return 0;
    }
    int seen = 0;
    while (semi != NULL) {
        const uint8_t *q = semi + 1, *end = rest.p + rest.n;
        semi = memchr(q, ';', end - q);
        Span piece = {q, (semi ? semi : end) - q};
        if (!read_param(piece, "branch", branch, &seen))
            return 0;
    }
    return 1;
}

enum { H_OTHER, H_CALL_ID, H_CSEQ, H_VIA, H_FROM, H_TO, H_LENGTH, H_TYPE, H_COUNT };

static int header_key(Span name)
{
    if (name.n == 1) {
        switch (lower(name.p[0])) {
        case 'i': return H_CALL_ID;
        case 'v': return H_VIA;
        case 'f': return H_FROM;
        case 't': return H_TO;
        case 'l': return H_LENGTH;
        case 'c': return H_TYPE;
        default: return H_OTHER;
        }
    }
    if (span_ieq(name, "call-id")) return H_CALL_ID;
    if (span_ieq(name, "cseq")) return H_CSEQ;
    if (span_ieq(name, "via")) return H_VIA;
    if (span_ieq(name, "from")) return H_FROM;
    if (span_ieq(name, "to")) return H_TO;
    if (span_ieq(name, "content-length")) return H_LENGTH;
    if (span_ieq(name, "content-type")) return H_TYPE;
    return H_OTHER;
}

/* The start line d[0:n]: 1 when it is one of the two plain forms. */
static int read_start(const uint8_t *d, Py_ssize_t n, SipScan *out)
{
    if (n >= 4 && lower(d[0]) == 's' && lower(d[1]) == 'i' && lower(d[2]) == 'p' && d[3] == '/') {
        /* _parse_status_line; only "SIP/2.0 NNN[ reason]" */
        if (n < 11 || memcmp(d, "SIP/2.0 ", 8) != 0 || !is_digit(d[8]) || !is_digit(d[9]) || !is_digit(d[10])
            || (n > 11 && d[11] != ' '))
            return 0;
        out->status = (d[8] - '0') * 100 + (d[9] - '0') * 10 + (d[10] - '0');
        out->is_request = 0;
        return out->status >= 100;
    }
    /* _parse_request_line; only "token SP uri SP SIP/2.0" */
    Py_ssize_t i = 0;
    while (i < n && is_token(d[i]))
        i++;
    if (i == 0 || i >= n || d[i] != ' ')
        return 0;
    out->method.p = d;
    out->method.n = i;
    Py_ssize_t u = ++i;
    int colon = 0;
    while (i < n && d[i] != ' ') {
        if (d[i] == '\t')
            return 0;
        colon |= d[i] == ':';
        i++;
    }
    if (i == u || !colon || (d[u] == '<' && d[i - 1] == '>'))
        return 0;
    if (n - i != 8 || memcmp(d + i, " SIP/2.0", 8) != 0)
        return 0;
    out->is_request = 1;
    out->status = 0;
    return 1;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The first position from pos of a CR or of a byte a head may not hold (a control byte but HT,
 * DEL, or any byte above 0x7F), else n: the loop of sip_scan's lines, 16 bytes at a time where
 * SSE2 is (every x86-64). Signed bytes 0x80-0xFF are below 0x20 as the controls are, so one
 * compare takes both; loads stay inside d[0:n] (the last 0-15 bytes go one at a time).
 * tests/unit/capture/test_sipaccel.py puts every byte value at every position of a message. */
static inline Py_ssize_t head_stop(const uint8_t *d, Py_ssize_t pos, Py_ssize_t n)
{
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7F), tab = _mm_set1_epi8('\t');
    while (pos + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(d + pos));
        __m128i stop = _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del));
        int mask = _mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), stop));
        if (mask)
            return pos + __builtin_ctz((unsigned)mask);
        pos += 16;
    }
#endif
    for (; pos < n; pos++) {
        uint8_t c = d[pos];
        if (c == '\r' || (c < 0x20 && c != '\t') || c >= 0x7F)
            return pos;
    }
    return n;
}

/* sip_scan(d[0:n]): 1 with *out filled when it answers (see above), else 0. */
static int sip_scan(const uint8_t *d, Py_ssize_t n, SipScan *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0 || d[0] == '\r' || d[0] == '\n')
        return 0;
    Span value[H_COUNT];
    memset(value, 0, sizeof(value));
    Py_ssize_t pos = 0;
    int line_no = 0, kept = 0;  /* kept: the last header line is a value scan_sip keeps */
    for (;;) {
        Py_ssize_t start = pos;
        pos = head_stop(d, pos, n);
        if (pos < n && d[pos] != '\r')
            return 0;  /* a byte a head may not hold */
        if (pos + 1 >= n || d[pos + 1] != '\n')
            return 0;  /* no CRLF CRLF, or a lone CR */
        Py_ssize_t end = pos;
        pos += 2;
        if (end == start)
            break;  /* the empty line: the head is over */
        if (line_no++ == 0) {
            if (!read_start(d + start, end - start, out))
                return 0;
            continue;
        }
        if (d[start] == ' ' || d[start] == '\t') {
            if (kept)
                return 0;  /* a folded key header: scan_sip unfolds it, C leaves it to Python */
            continue;  /* the fold of a header scan_sip does not keep */
        }
        kept = 0;
        const uint8_t *colon = memchr(d + start, ':', end - start);
        if (colon == NULL)
            return 0;
        Span name = strip(d + start, colon - (d + start));
        if (name.p != d + start || name.n == 0)
            return 0;
        for (Py_ssize_t i = 0; i < name.n; i++)
            if (!is_token(name.p[i]))
                return 0;
        int key = header_key(name);
        if (key == H_OTHER)
            continue;
        if (value[key].p != NULL) {
            if (key == H_VIA)
                continue;  /* only the top Via counts */
            return 0;
        }
        value[key] = strip(colon + 1, d + end - colon - 1);
        kept = 1;
    }
    if (value[H_CSEQ].p != NULL) {
        Span text = value[H_CSEQ];
        Py_ssize_t i = 0;
        int64_t number = 0;
        while (i < text.n && is_digit(text.p[i]) && i <= 10)
            number = number * 10 + (text.p[i++] - '0');
        if (i == 0 || i > 10 || i >= text.n || text.p[i] != ' ' || number > 2147483647)
            return 0;
        Span method = strip(text.p + i + 1, text.n - i - 1);
        if (method.n == 0)
            return 0;
        for (Py_ssize_t k = 0; k < method.n; k++)
            if (!is_token(method.p[k]))
                return 0;
        out->has_cseq = 1;
        out->cseq = number;
        out->cseq_method = method;
    }
    Span length = value[H_LENGTH];
    if (length.p == NULL || length.n == 0 || length.n > 9)
        return 0;
    int64_t content_length = 0;
    for (Py_ssize_t i = 0; i < length.n; i++) {
        if (!is_digit(length.p[i]))
            return 0;
        content_length = content_length * 10 + (length.p[i] - '0');
    }
    if (n - pos != content_length)
        return 0;
    if (value[H_FROM].p != NULL && !read_tag(value[H_FROM], &out->from_tag))
        return 0;
    if (value[H_TO].p != NULL && !read_tag(value[H_TO], &out->to_tag))
        return 0;
    if (value[H_VIA].p != NULL && !read_via(value[H_VIA], &out->branch, &out->sent_by))
        return 0;
    if (!out->is_request && out->has_cseq)
        out->method = out->cseq_method;
    out->call_id = value[H_CALL_ID];
    out->content_type = value[H_TYPE];
    out->content_length = content_length;
    out->body = d + pos;
    out->body_len = n - pos;
    return 1;
}

/* -- the first pass's answer kept per message (MessageStore.marks, enable_sip(locate=True)) ---
 *
 * sip_scan's spans as offsets into the message, with its numbers: SIP_MARKS_SIZE bytes a message,
 * so that the fast lane of ``ladder calls`` (simple_calls, below) reads a message back without
 * scanning it again. marks_scan() gives, of the bytes read back, the SipScan fields the lane
 * reads (all but the body, Content-Type and Content-Length): sip_scan's own answer at load, its
 * spans' offsets taken against the start of the same bytes (the lane reads a message only when
 * its CRC-32 is the load's). A message the load did not scan in C, or of more than 65535 bytes,
 * has no marks (flags 0): the lane scans it. test_simple_calls.py compares the facts of every
 * group both ways. */
enum { K_METHOD, K_CALL_ID, K_CSEQ_METHOD, K_BRANCH, K_SENT_BY, K_FROM_TAG, K_TO_TAG, K_COUNT };
static const size_t mark_field[K_COUNT] = {
    offsetof(SipScan, method), offsetof(SipScan, call_id), offsetof(SipScan, cseq_method), offsetof(SipScan, branch),
    offsetof(SipScan, sent_by), offsetof(SipScan, from_tag), offsetof(SipScan, to_tag),
};
typedef struct {
    uint16_t off[K_COUNT], len[K_COUNT];
    uint32_t cseq;
    uint16_t status;
    uint8_t flags;    /* MARK_SET, MARK_REQUEST, MARK_CSEQ */
    uint8_t present;  /* bit k: span k is there (even empty) */
} SipMarks;
enum { MARK_SET = 1, MARK_REQUEST = 2, MARK_CSEQ = 4 };
#define SIP_MARKS_SIZE ((Py_ssize_t)sizeof(SipMarks))

static void marks_of(const uint8_t *d, Py_ssize_t n, const SipScan *m, SipMarks *out)
{
    memset(out, 0, sizeof(*out));
    if (n > 65535 || m->cseq < 0 || m->cseq > UINT32_MAX)
        return;  /* (no marks: the lane scans it) */
    for (int k = 0; k < K_COUNT; k++) {
        const Span *s = (const Span *)((const char *)m + mark_field[k]);
        if (s->p == NULL)
            continue;
        out->off[k] = (uint16_t)(s->p - d);
        out->len[k] = (uint16_t)s->n;
        out->present |= (uint8_t)(1 << k);
    }
    out->cseq = (uint32_t)m->cseq;
    out->status = (uint16_t)m->status;
    out->flags = (uint8_t)(MARK_SET | (m->is_request ? MARK_REQUEST : 0) | (m->has_cseq ? MARK_CSEQ : 0));
}

/* 1 with *out filled from the marks of d[0:n] (a span outside d: 0, as no marks: the lane scans). */
static int marks_scan(const uint8_t *d, Py_ssize_t n, const uint8_t *packed, SipScan *out)
{
    SipMarks k;
    memcpy(&k, packed, sizeof(k));  /* (the column is bytes: no alignment) */
    if (!(k.flags & MARK_SET))
        return 0;
    memset(out, 0, sizeof(*out));
    for (int f = 0; f < K_COUNT; f++) {
        if (!(k.present & (1 << f)))
            continue;
        if ((Py_ssize_t)k.off[f] + k.len[f] > n)
            return 0;
        Span *s = (Span *)((char *)out + mark_field[f]);
        s->p = d + k.off[f];
        s->n = k.len[f];
    }
    out->is_request = (k.flags & MARK_REQUEST) != 0;
    out->has_cseq = (k.flags & MARK_CSEQ) != 0;
    out->status = k.status;
    out->cseq = k.cseq;
    return 1;
}

/* Whether _body_sdp could find SDP in the body (media type application/sdp, multipart/..., or
 * none): the RTP table must then hear of it. A yes that is wrong only costs a look. */
static int may_carry_sdp(const SipScan *m)
{
    if (m->body_len == 0)
        return 0;
    if (m->content_type.p == NULL || m->content_type.n == 0)
        return 1;  /* no media type: _body_sdp looks at the body itself */
    const uint8_t *semi = span_chr(m->content_type, ';');
    Span type = strip(m->content_type.p, semi ? semi - m->content_type.p : m->content_type.n);
    if (span_ieq(type, "application/sdp"))
        return 1;
    Span prefix = {type.p, type.n < 10 ? type.n : 10};
    return type.n >= 10 && span_ieq(prefix, "multipart/");
}

/* CRC-32 (IEEE 802.3, zlib.crc32's), slice by 8: the MessageStore checks each message read back
 * against it, so a capture changed under us is an error, not wrong calls. */
static uint32_t crc_table[8][256];
#if defined(__x86_64__) && defined(__GNUC__)
static int crc_clmul;  /* whether the CPU has PCLMULQDQ and SSE4.1 (``crc_init``): crc32_of folds */
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 255];
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")
                && getenv("PCAPLADDER_CRC_TABLE") == NULL;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC_CLMUL 1
/* The same CRC by carry-less multiplication (PCLMULQDQ), for CPUs that have it (nearly all
 * x86-64 since 2010; ``crc_init`` asks): "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ Instruction" (V. Gopal, E. Ozturk et al., Intel, 2009), its bit-reflected constants
 * for the IEEE polynomial: x^(4*128+32) and x^(4*128-32) mod P (folding 4 x 128 bits at once),
 * x^(128+32) and x^(128-32) (one 128-bit block), x^64 (128 to 64 bits), then Barrett's
 * reduction by floor(x^64 / P) and P itself. ``c`` is the running register (not inverted);
 * ``n`` at least 64 and a multiple of 16, read as 16-byte loads that never pass p + n. Message
 * bytes are read back and checked with this against the load's CRC of the same bytes; the tests
 * hold it equal to zlib.crc32 (``_accel.crc32``) at every length and alignment. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_folded(uint32_t c, const uint8_t *p, size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124LL);
    const __m128i poly = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i a = _mm_loadu_si128((const __m128i *)p), b = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i d = _mm_loadu_si128((const __m128i *)(p + 32)), e = _mm_loadu_si128((const __m128i *)(p + 48));
    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)c));
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64) {  /* four lanes, each folded 512 bits on */
        __m128i t;
        t = _mm_clmulepi64_si128(a, k1k2, 0x00);
        a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k1k2, 0x11), t),
                          _mm_loadu_si128((const __m128i *)p));
        t = _mm_clmulepi64_si128(b, k1k2, 0x00);
        b = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(b, k1k2, 0x11), t),
                          _mm_loadu_si128((const __m128i *)(p + 16)));
        t = _mm_clmulepi64_si128(d, k1k2, 0x00);
        d = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(d, k1k2, 0x11), t),
                          _mm_loadu_si128((const __m128i *)(p + 32)));
        t = _mm_clmulepi64_si128(e, k1k2, 0x00);
        e = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(e, k1k2, 0x11), t),
                          _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    /* the four lanes into one, then each further 16 bytes into it */
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), _mm_clmulepi64_si128(a, k3k4, 0x00)), b);
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), _mm_clmulepi64_si128(a, k3k4, 0x00)), d);
    a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), _mm_clmulepi64_si128(a, k3k4, 0x00)), e);
    for (; n >= 16; p += 16, n -= 16)
        a = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x11), _mm_clmulepi64_si128(a, k3k4, 0x00)),
                          _mm_loadu_si128((const __m128i *)p));
    /* 128 bits to 64, then Barrett's reduction to 32 */
    a = _mm_xor_si128(_mm_srli_si128(a, 8), _mm_clmulepi64_si128(a, k3k4, 0x10));
    a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), _mm_srli_si128(a, 4));
    __m128i q = _mm_clmulepi64_si128(_mm_and_si128(a, low32), poly, 0x10);
    q = _mm_clmulepi64_si128(_mm_and_si128(q, low32), poly, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(a, q), 1);
}
#endif

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
#ifdef CRC_CLMUL
    if (crc_clmul && n >= 64) {
        size_t folded = n & ~(size_t)15;
        c = crc32_folded(c, p, folded);
        p += folded;
        n -= folded;
    }
#endif
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t a = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = crc_table[7][a & 255] ^ crc_table[6][(a >> 8) & 255] ^ crc_table[5][(a >> 16) & 255]
            ^ crc_table[4][a >> 24] ^ crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]]
            ^ crc_table[0][p[7]];
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 255] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Whether lower-cased p[0:n] has `word` at q (within p[0:n]). */
static int has_at(const uint8_t *q, const uint8_t *end, const char *word)
{
    size_t k = strlen(word);
    if ((size_t)(end - q) < k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (lower(q[i]) != (uint8_t)word[i])
            return 0;
    return 1;
}

/* messagestore.CORRELATION: "x-call-id", "x-cid" or "session-id" anywhere in the lower-cased
 * message (MessageStore.add's test, the same generous one). */
static int may_correlate(const uint8_t *p, Py_ssize_t n)
{
    const uint8_t *end = p + n;
    for (const uint8_t *q = p; (q = memchr(q, '-', end - q)) != NULL; q++) {
        if (q > p && lower(q[-1]) == 'x' && (has_at(q + 1, end, "call-id") || has_at(q + 1, end, "cid")))
            return 1;
        if (q - p >= 7 && has_at(q - 7, end, "session-id"))
            return 1;
    }
    return 0;
}

/* -- interned strings and the batch of records handed to Python ------------------------------
 * Raw allocators only: the scan runs without the GIL. An allocation that fails leaves the frame
 * to Python (return 0), which then raises MemoryError its own way. */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = PyMem_RawRealloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void buf_put(Buf *b, const void *src, size_t n)  /* after buf_reserve */
{
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void buf_free(Buf *b)
{
    PyMem_RawFree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Strings by id, in the order they were first met (SipIndex.strings mirrors it); id 0 is "". */
typedef struct {
    Buf text;          /* every string's bytes, back to back */
    size_t *off;
    uint32_t *size;
    uint64_t *hash;
    uint8_t *as_call;  /* met as a Call-ID already */
    uint32_t count, cap;
    uint64_t *slots;   /* open addressing: id in the low 32 bits, the hash's high 32 above it; 0 = empty */
    size_t nslots;
} Interner;

/* The interner's hash: 8 bytes a step (a Call-ID is 30-60 bytes, and every SIP message interns
 * one, its method and two endpoints at load), then MurmurHash3's 64-bit finalizer, so the low bits
 * the table indexes by depend on every byte. Only where a string sits in the table depends on it:
 * ids are given in first-met order, whatever the hash. */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n, w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p, n);  /* the last 0-7 bytes */
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static int interner_grow(Interner *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    size_t *off = PyMem_RawRealloc(t->off, cap * sizeof(size_t));
    if (off == NULL)
        return -1;
    t->off = off;
    uint32_t *size = PyMem_RawRealloc(t->size, cap * sizeof(uint32_t));
    if (size == NULL)
        return -1;
    t->size = size;
    uint64_t *hash = PyMem_RawRealloc(t->hash, cap * sizeof(uint64_t));
    if (hash == NULL)
        return -1;
    t->hash = hash;
    uint8_t *as_call = PyMem_RawRealloc(t->as_call, cap);
    if (as_call == NULL)
        return -1;
    t->as_call = as_call;
    size_t nslots = (size_t)cap * 2;
    uint64_t *slots = PyMem_RawCalloc(nslots, sizeof(uint64_t));
    if (slots == NULL)
        return -1;
    for (uint32_t id = 1; id < t->count; id++) {
        size_t i = t->hash[id] & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = (t->hash[id] >> 32) << 32 | id;
    }
    PyMem_RawFree(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    t->cap = cap;
    if (t->count == 0) {  /* id 0: "" */
        t->off[0] = 0;
        t->size[0] = 0;
        t->hash[0] = 0;
        t->as_call[0] = 1;
        t->count = 1;
    }
    return 0;
}

/* The id of p[0:n] (0 for ""), made when new; -1 when memory ran out. *fresh: made now. */
static int64_t intern(Interner *t, const uint8_t *p, size_t n, int *fresh)
{
    *fresh = 0;
    if (n == 0)
        return 0;
    if (n > UINT32_MAX || ((t->count + 1) >= t->cap && interner_grow(t) < 0))
        return -1;
    uint64_t h = hash_bytes(p, n), tag = h >> 32 << 32;
    size_t i = h & (t->nslots - 1);
    /* (the slot's copy of the hash's high bits is compared first: a string of another slot is
     * told apart without reading its entry, a cache miss each on a busy capture's Call-IDs) */
    for (uint64_t slot; (slot = t->slots[i]) != 0; i = (i + 1) & (t->nslots - 1)) {
        uint32_t id = (uint32_t)slot;
        if ((slot & ~(uint64_t)UINT32_MAX) == tag && t->size[id] == n
            && memcmp(t->text.p + t->off[id], p, n) == 0)
            return id;
    }
    if (buf_reserve(&t->text, n) < 0)
        return -1;
    uint32_t id = t->count++;
    t->off[id] = t->text.len;
    buf_put(&t->text, p, n);
    t->size[id] = (uint32_t)n;
    t->hash[id] = h;
    t->as_call[id] = 0;
    t->slots[i] = tag | id;
    *fresh = 1;
    return id;
}

static void interner_free(Interner *t)
{
    buf_free(&t->text);
    PyMem_RawFree(t->off);
    PyMem_RawFree(t->size);
    PyMem_RawFree(t->hash);
    PyMem_RawFree(t->as_call);
    PyMem_RawFree(t->slots);
    memset(t, 0, sizeof(*t));
}

static PyObject *interned_text(Interner *t, uint32_t id)
{
    return PyUnicode_DecodeUTF8((const char *)t->text.p + t->off[id], t->size[id], "surrogatepass");
}

typedef struct {
    PyObject_HEAD
    Slot **table;              /* open addressing, linear probing; NULL = empty */
    size_t capacity;           /* a power of two */
    size_t used;
    int udp_only;              /* media off: take every fast-path datagram, only to count it */
    /* the record format configured for the scan functions */
    int swapped, nano, hlen, linktype;
    PyObject *interfaces;      /* pcapng: tuple of (linktype, units per second or 0, offset_ns) */
    long long iface_counts[MAX_IFACES];  /* pcapng: frames taken per interface, until taken */
    /* results of the last scan */
    Py_ssize_t count;
    int64_t first_ts, last_ts;
    /* frames consumed over the whole capture (RTP-looking ones: SIP is counted apart) */
    long long fed;
    /* the SIP first pass (enable_sip): its records since the last take_sip(), the strings
     * they name, and the SDP bodies the RTP table has yet to hear of (take_announcements) */
    int sip, sip_media;
    Interner strings;
    Buf col[5];
    Buf new_calls;
    Buf announcements;
    Py_ssize_t sip_count, announced, scan_sip;
    long long sip_total;
    /* enable_sip(locate=True) (``ladder calls``/``check``: a MessageStore): per record also where
     * its bytes are in the file, their CRC, both endpoints (ids of ``endpoints``: 6-byte keys,
     * IPv4 address and port), the correlation flag and the first pass's marks (take_locations) */
    int sip_locate;
    const uint8_t *scan_buf;   /* the buffer of the running scan, */
    int64_t scan_base;         /* the file offset of its byte 0 (the scan's ``base``) */
    Py_ssize_t record_pos;     /* and where the record being taken starts in it */
    Buf loc[8];  /* L_COUNT (a static assertion holds them equal) */
    Interner endpoints;
    uint32_t endpoints_given;  /* endpoint ids take_locations() has named so far */
    /* SDP bodies beyond spill_bytes go to a temporary file, in chunks read back in order, so
     * memory stays flat in a signalling capture that never has a datagram to apply them to */
    size_t spill_bytes;
    FILE *spill;
    Buf spill_chunks;     /* the size_t length of each chunk written */
    size_t spill_next;    /* chunks given back so far */
    long spill_offset;    /* where the next one starts */
    int spill_failed;     /* no more spilling: what is left stays in memory */
} Accelerator;

/* -- the slot table ------------------------------------------------------------------------ */

static size_t slot_hash(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t ssrc)
{
    uint64_t a = ((uint64_t)src << 32) | dst;
    uint64_t b = ((uint64_t)sport << 48) | ((uint64_t)dport << 32) | ssrc;
    uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL + (a << 6) + (a >> 2));
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (size_t)h;
}

static inline int slot_is(const Slot *s, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t ssrc)
{
    return s->ssrc == ssrc && s->src == src && s->dst == dst && s->sport == sport && s->dport == dport;
}

static size_t find_index(Accelerator *self, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                         uint32_t ssrc)
{
    size_t mask = self->capacity - 1;
    size_t i = slot_hash(src, dst, sport, dport, ssrc) & mask;
    while (self->table[i] != NULL && !slot_is(self->table[i], src, dst, sport, dport, ssrc))
        i = (i + 1) & mask;
    return i;
}

static int grow(Accelerator *self)
{
    size_t old_capacity = self->capacity;
    Slot **old = self->table;
    size_t capacity = old_capacity ? old_capacity * 2 : 64;
    Slot **table = PyMem_Calloc(capacity, sizeof(Slot *));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->table = table;
    self->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++) {
        Slot *s = old[i];
        if (s != NULL)
            table[find_index(self, s->src, s->dst, s->sport, s->dport, s->ssrc)] = s;
    }
    PyMem_Free(old);
    return 0;
}

/* Remove the entry at i, shifting later entries of its probe run back (no tombstones). */
static void remove_at(Accelerator *self, size_t i)
{
    size_t mask = self->capacity - 1;
    size_t j = i;
    self->table[i] = NULL;
    self->used--;
    for (;;) {
        j = (j + 1) & mask;
        Slot *s = self->table[j];
        if (s == NULL)
            return;
        size_t home = slot_hash(s->src, s->dst, s->sport, s->dport, s->ssrc) & mask;
        /* s may move to i when i lies cyclically in [home, j) */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            self->table[i] = s;
            self->table[j] = NULL;
            i = j;
        }
    }
}

static void free_slot(Slot *s)
{
    for (int c = 0; c < 4; c++)
        if (s->cols[c].obj != NULL)
            PyBuffer_Release(&s->cols[c]);
    Py_XDECREF(s->state);
    Py_XDECREF(s->series);
    PyMem_Free(s);
}

/* -- reading and writing Python attributes ------------------------------------------------ */

static int get_i64(PyObject *obj, int name, int64_t *out)
{
    PyObject *value = PyObject_GetAttr(obj, attr[name]);
    if (value == NULL)
        return -1;
    long long v = PyLong_AsLongLong(value);
    Py_DECREF(value);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static int get_f64(PyObject *obj, int name, double *out)
{
    PyObject *value = PyObject_GetAttr(obj, attr[name]);
    if (value == NULL)
        return -1;
    double v = PyFloat_AsDouble(value);
    Py_DECREF(value);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static int set_i64(PyObject *obj, int name, int64_t v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL)
        return -1;
    int rc = PyObject_SetAttr(obj, attr[name], value);
    Py_DECREF(value);
    return rc;
}

static int set_f64(PyObject *obj, int name, double v)
{
    PyObject *value = PyFloat_FromDouble(v);
    if (value == NULL)
        return -1;
    int rc = PyObject_SetAttr(obj, attr[name], value);
    Py_DECREF(value);
    return rc;
}

/* An IPv4 address in dotted form, as network-order bits; 0 with no error for anything else
 * (IPv6 streams stay with Python: the scan only decodes IPv4). */
static int get_ipv4(PyObject *obj, int name, uint32_t *out, int *is_v4)
{
    PyObject *value = PyObject_GetAttr(obj, attr[name]);
    if (value == NULL)
        return -1;
    const char *text = PyUnicode_Check(value) ? PyUnicode_AsUTF8(value) : NULL;
    struct in_addr addr;
    *is_v4 = text != NULL && inet_pton(AF_INET, text, &addr) == 1;
    if (*is_v4)
        *out = ntohl(addr.s_addr);
    Py_DECREF(value);
    if (text == NULL && PyErr_Occurred())
        return -1;
    return 0;
}

static int get_column(PyObject *series, int name, Py_buffer *view, Py_ssize_t points)
{
    PyObject *column = PyObject_GetAttr(series, attr[name]);
    if (column == NULL)
        return -1;
    int rc = PyObject_GetBuffer(column, view, PyBUF_WRITABLE | PyBUF_FORMAT);
    Py_DECREF(column);
    if (rc < 0) {
        view->obj = NULL;  /* nothing to release */
        return -1;
    }
    if (view->itemsize != 8 || view->len != points * 8) {
        PyBuffer_Release(view);
        view->obj = NULL;
        PyErr_SetString(PyExc_ValueError, "series columns must hold max_points 8-byte items");
        return -1;
    }
    return 0;
}

/* Fill s from state (everything but the key); -1 with an exception set on failure. */
static int load_slot(Slot *s, PyObject *state)
{
    int64_t fast_pt;
    if (get_i64(state, A_FAST_PT, &fast_pt) < 0)
        return -1;
    s->fast_pt = (int)fast_pt;
    if (s->counting)
        return get_i64(state, A_PACKETS, &s->packets) < 0 ? -1 : 0;
    if (get_i64(state, A_FAST_LIMIT, &s->fast_limit) < 0 || get_i64(state, A_FAST_CLOCK, &s->fast_clock) < 0
        || get_i64(state, A_TS_OFF, &s->ts_off) < 0 || get_i64(state, A_NEXT_SEQ, &s->next_seq) < 0
        || get_i64(state, A_LAST_TS32, &s->last_ts32) < 0 || get_f64(state, A_TIME_MS, &s->time_ms) < 0
        || get_f64(state, A_DELTA, &s->delta) < 0 || get_f64(state, A_JITTER, &s->jitter) < 0
        || get_f64(state, A_LAST_NOMINAL, &s->last_nominal) < 0
        || get_f64(state, A_MIN_TRANSIT, &s->min_transit) < 0
        || get_f64(state, A_MAX_JITTER, &s->max_jitter) < 0 || get_f64(state, A_MIN_JITTER, &s->min_jitter) < 0
        || get_f64(state, A_MEAN_JITTER, &s->mean_jitter) < 0 || get_f64(state, A_MAX_DELTA, &s->max_delta) < 0
        || get_f64(state, A_MIN_DELTA, &s->min_delta) < 0 || get_f64(state, A_MEAN_DELTA, &s->mean_delta) < 0
        || get_i64(state, A_TS_JUMPS, &s->ts_jumps) < 0 || get_i64(state, A_LATE, &s->late) < 0
        || get_i64(state, A_MAX_DELTA_FRAME, &s->max_delta_frame) < 0
        || get_i64(state, A_PACKETS, &s->packets) < 0 || get_i64(state, A_PAYLOAD_BYTES, &s->payload_bytes) < 0
        || get_i64(state, A_LAST_NS, &s->last_ns) < 0 || get_i64(state, A_LAST_FRAME, &s->last_frame) < 0)
        return -1;
    PyObject *series = PyObject_GetAttr(state, attr[A_SERIES]);
    if (series == NULL)
        return -1;
    s->series = series;
    if (get_i64(series, A_ORIGIN_NS, &s->s_origin) < 0 || get_i64(series, A_WIDTH_NS, &s->s_width) < 0
        || get_i64(series, A_INDEX, &s->s_index) < 0 || get_i64(series, A_END_NS, &s->s_end) < 0
        || get_f64(series, A_DELTA, &s->s_delta) < 0 || get_f64(series, A_JITTER, &s->s_jitter) < 0
        || get_i64(series, A_LOST, &s->s_lost) < 0 || get_i64(series, A_PACKETS, &s->s_packets) < 0
        || get_i64(series, A_MAX_POINTS, &s->s_max_points) < 0)
        return -1;
    if (s->s_width <= 0 || s->s_max_points < 2 || s->s_index < 0 || s->s_index >= s->s_max_points) {
        PyErr_SetString(PyExc_ValueError, "series builder out of range");
        return -1;
    }
    for (int c = 0; c < 4; c++)
        if (get_column(series, A_COL_DELTA + c, &s->cols[c], (Py_ssize_t)s->s_max_points) < 0)
            return -1;
    return 0;
}

/* Write s back into its state; the state's fast_pt gets its own value again. */
static int store_slot(Slot *s)
{
    PyObject *st = s->state;
    if (s->counting) {
        /* A counting slot counts from zero: Python may have counted packets meanwhile. */
        int64_t packets;
        if (get_i64(st, A_PACKETS, &packets) < 0)
            return -1;
        return set_i64(st, A_PACKETS, packets + s->packets);
    }
    if (set_i64(st, A_NEXT_SEQ, s->next_seq) < 0 || set_i64(st, A_LAST_TS32, s->last_ts32) < 0
        || set_f64(st, A_TIME_MS, s->time_ms) < 0 || set_f64(st, A_DELTA, s->delta) < 0
        || set_f64(st, A_JITTER, s->jitter) < 0 || set_f64(st, A_LAST_NOMINAL, s->last_nominal) < 0
        || set_f64(st, A_MIN_TRANSIT, s->min_transit) < 0 || set_f64(st, A_MAX_JITTER, s->max_jitter) < 0
        || set_f64(st, A_MIN_JITTER, s->min_jitter) < 0 || set_f64(st, A_MEAN_JITTER, s->mean_jitter) < 0
        || set_f64(st, A_MAX_DELTA, s->max_delta) < 0 || set_f64(st, A_MIN_DELTA, s->min_delta) < 0
        || set_f64(st, A_MEAN_DELTA, s->mean_delta) < 0 || set_i64(st, A_TS_JUMPS, s->ts_jumps) < 0
        || set_i64(st, A_LATE, s->late) < 0 || set_i64(st, A_MAX_DELTA_FRAME, s->max_delta_frame) < 0
        || set_i64(st, A_PACKETS, s->packets) < 0 || set_i64(st, A_PAYLOAD_BYTES, s->payload_bytes) < 0
        || set_i64(st, A_LAST_NS, s->last_ns) < 0 || set_i64(st, A_LAST_FRAME, s->last_frame) < 0)
        return -1;
    PyObject *se = s->series;
    if (set_i64(se, A_WIDTH_NS, s->s_width) < 0 || set_i64(se, A_INDEX, s->s_index) < 0
        || set_i64(se, A_END_NS, s->s_end) < 0 || set_f64(se, A_DELTA, s->s_delta) < 0
        || set_f64(se, A_JITTER, s->s_jitter) < 0 || set_i64(se, A_LOST, s->s_lost) < 0
        || set_i64(se, A_PACKETS, s->s_packets) < 0)
        return -1;
    return set_i64(st, A_FAST_PT, s->fast_pt);
}

/* -- the series builder (ladder/media/series.py SeriesBuilder.open, _close, _halve) -------------- */

static void series_halve(Slot *s)
{
    double *delta = s->cols[0].buf, *jitter = s->cols[1].buf;
    int64_t *lost = s->cols[2].buf, *packets = s->cols[3].buf;
    int64_t half = s->s_max_points / 2;
    s->s_width *= 2;
    for (int64_t k = 0; k < half; k++) {
        /* max(a, b) is a unless b > a, as Python's max */
        delta[k] = delta[2 * k + 1] > delta[2 * k] ? delta[2 * k + 1] : delta[2 * k];
        jitter[k] = jitter[2 * k + 1] > jitter[2 * k] ? jitter[2 * k + 1] : jitter[2 * k];
        lost[k] = lost[2 * k] + lost[2 * k + 1];
        packets[k] = packets[2 * k] + packets[2 * k + 1];
    }
    for (int64_t k = half; k < s->s_max_points; k++) {
        delta[k] = 0.0;
        jitter[k] = 0.0;
        lost[k] = 0;
        packets[k] = 0;
    }
}

static void series_open(Slot *s, int64_t ts_ns, double delta, double jitter)
{
    if (s->s_packets) {
        int64_t i = s->s_index;
        ((double *)s->cols[0].buf)[i] = s->s_delta;
        ((double *)s->cols[1].buf)[i] = s->s_jitter;
        ((int64_t *)s->cols[2].buf)[i] = s->s_lost;
        ((int64_t *)s->cols[3].buf)[i] = s->s_packets;
        s->s_packets = 0;
    }
    int64_t index = (ts_ns - s->s_origin) / s->s_width;  /* ts_ns >= end_ns > origin, both in [0, MAX_TS_NS] */
    while (index >= s->s_max_points) {
        series_halve(s);
        index >>= 1;
    }
    s->s_index = index;
    /* origin + (index + 1) * width; past INT64_MAX it is no bound at all, as in Python */
    int64_t span, end;
    if (__builtin_mul_overflow(index + 1, s->s_width, &span) || __builtin_add_overflow(s->s_origin, span, &end))
        end = INT64_MAX;
    s->s_end = end;
    s->s_delta = delta;
    s->s_jitter = jitter;
    s->s_lost = 0;
    s->s_packets = 1;
}

/* -- one RTP packet on the fast path (rtp_streams.RtpStreamTable.feed_udp's first branch) -- */

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* rtp_header_end's check: CSRCs, extension and padding fit in the datagram. */
static int rtp_header_fits(const uint8_t *p, int64_t size)
{
    uint8_t first = p[0];
    int64_t pos = 12 + 4 * (first & 0x0F);
    if (pos > size)
        return 0;
    if (first & 0x10) {
        if (pos + 4 > size)
            return 0;
        pos += 4 + 4 * (int64_t)be16(p + pos + 2);
        if (pos > size)
            return 0;
    }
    if (first & 0x20) {
        uint8_t padding = p[size - 1];
        if (padding == 0 || pos + padding > size)
            return 0;
    }
    return 1;
}

/* Take the RTP datagram p[0:size] for an armed stream; 0 when Python must see it. */
static int take_rtp(Accelerator *self, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                    const uint8_t *p, int64_t size, int64_t ts_ns, int64_t frame_no)
{
    if (size < 12 || self->used == 0)
        return 0;
    uint8_t first = p[0], second = p[1];
    uint32_t ssrc = be32(p + 8);
    Slot *st = self->table[find_index(self, src, dst, sport, dport, ssrc)];
    if (st == NULL)
        return 0;
    if (st->counting) {
        if (second >= 200 && second <= 207)
            return 0;
        if (first != 0x80 && !rtp_header_fits(p, size))
            return 0;
        st->packets++;
        return 1;
    }
    int64_t seq = be16(p + 2), ts32 = be32(p + 4);
    if (second != st->fast_pt || seq != st->next_seq || seq > st->fast_limit)
        return 0;
    if (!(ts32 - st->last_ts32 >= 0 && ts32 - st->last_ts32 < 0x80000000LL))
        return 0;
    if (first != 0x80 && !rtp_header_fits(p, size))
        return 0;
    double now_ms = (double)(ts_ns - st->base_ns) / 1e6;
    st->last_ts32 = ts32;
    st->next_seq = seq + 1;
    double delta = now_ms - st->time_ms;
    st->time_ms = now_ms;
    st->delta = delta;
    double jitter;
    if (st->fast_clock) {
        double nominal = (double)(ts32 + st->ts_off) / (double)st->fast_clock;
        double step = nominal - st->last_nominal;
        st->last_nominal = nominal;
        double d = delta - step;
        if (d < 0)
            d = -d;
        st->jitter = jitter = (15 * st->jitter + d) / 16;
        if (step > TIMESTAMP_JUMP_MS)
            st->ts_jumps++;
        double transit = now_ms - nominal;
        double best = st->min_transit;
        if (transit < best)
            st->min_transit = transit;
        else if (transit - best > JITTER_BUFFER_MS)
            st->late++;
        if (jitter > st->max_jitter)
            st->max_jitter = jitter;
        if (jitter < st->min_jitter)
            st->min_jitter = jitter;
        st->mean_jitter += jitter;
    } else {
        jitter = st->jitter;
        int64_t total = st->packets;
        if (total > 1)
            st->mean_jitter *= (double)total / (double)(total - 1);
    }
    if (delta > st->max_delta) {
        st->max_delta = delta;
        st->max_delta_frame = frame_no;
    }
    if (delta < st->min_delta)
        st->min_delta = delta;
    st->mean_delta += delta;
    st->packets++;
    st->payload_bytes += size;
    st->last_ns = ts_ns;
    st->last_frame = frame_no;
    if (ts_ns < st->s_end) {
        if (delta > st->s_delta)
            st->s_delta = delta;
        if (jitter > st->s_jitter)
            st->s_jitter = jitter;
        st->s_packets++;
    } else {
        series_open(st, ts_ns, delta, jitter);
    }
    return 1;
}

/* -- one SIP message on the first pass (pipeline.Pipeline._sip with messages=False) ---------- */

enum { C_FRAME, C_TS, C_METHOD, C_STATUS, C_CALL, C_COUNT };
static const size_t column_size[C_COUNT] = {8, 8, 4, 2, 4};
/* MessageStore's columns (enable_sip(locate=True)): where, length, crc, record, src, dst, flags, marks */
enum { L_WHERE, L_LENGTH, L_CRC, L_RECORD, L_SRC, L_DST, L_FLAGS, L_MARKS, L_COUNT };
static const size_t location_size[L_COUNT] = {8, 4, 4, 8, 4, 4, 1, sizeof(SipMarks)};
_Static_assert(L_COUNT == sizeof(((Accelerator *)0)->loc) / sizeof(Buf), "Accelerator.loc holds L_COUNT columns");
/* src/dst of those rows: C_ENDPOINT + the endpoint's id here (messagestore.C_ENDPOINT) */
#define C_ENDPOINT 0x80000000LL
#define ABSENT UINT32_MAX
#define SPILL_BYTES (8 << 20)  /* SDP bodies held in memory before they go to the spill file */

/* Move the SDP bodies held in memory to the end of the spill file, as one chunk. A failure
 * leaves them (and every later one) in memory; the file keeps the chunks written whole. */
static void spill(Accelerator *self)
{
    if (self->spill_failed || buf_reserve(&self->spill_chunks, sizeof(size_t)) < 0)
        return;
    if (self->spill == NULL && (self->spill = tmpfile()) == NULL) {
        self->spill_failed = 1;
        return;
    }
    size_t len = self->announcements.len;
    if (fseek(self->spill, 0, SEEK_END) != 0 || fwrite(self->announcements.p, 1, len, self->spill) != len
        || fflush(self->spill) != 0) {
        self->spill_failed = 1;
        return;
    }
    buf_put(&self->spill_chunks, &len, sizeof(size_t));
    self->announcements.len = 0;
}

/* The endpoint id of IPv4 address ip (4 bytes, network order) and port port (2 bytes). */
static int64_t endpoint_id(Accelerator *self, const uint8_t *ip, const uint8_t *port)
{
    uint8_t key[6];
    int fresh;
    memcpy(key, ip, 4);
    memcpy(key + 4, port, 2);
    return intern(&self->endpoints, key, 6, &fresh);
}

/* Take the UDP payload p[0:size] of the IPv4 packet ip (its UDP header udp) when the first pass
 * answers for it. */
static int take_sip(Accelerator *self, const uint8_t *ip, const uint8_t *udp, const uint8_t *p, int64_t size,
                    int64_t ts_ns, int64_t frame_no)
{
    uint32_t src = be32(ip + 12);
    if (p[0] == 'H')
        return 0;  /* maybe HEP (pipeline._udp looks for it first): Python's to tell */
    SipScan m;
    if (!sip_scan(p, size, &m))
        return 0;
    int announce = self->sip_media && may_carry_sdp(&m);
    if (announce && self->used)
        return 0;  /* streams held here: the SDP must reach them first, through Python */
    size_t record = 24 + (m.content_type.p ? m.content_type.n : 0) + m.body_len;
    for (int c = 0; c < C_COUNT; c++)
        if (buf_reserve(&self->col[c], column_size[c]) < 0)
            return 0;
    if (buf_reserve(&self->new_calls, 4) < 0 || (announce && buf_reserve(&self->announcements, record) < 0))
        return 0;
    if (self->sip_locate) {
        for (int c = 0; c < L_COUNT; c++)
            if (buf_reserve(&self->loc[c], location_size[c]) < 0)
                return 0;
        int64_t from = endpoint_id(self, ip + 12, udp), to = endpoint_id(self, ip + 16, udp + 2);
        if (from < 0 || to < 0 || from >= C_ENDPOINT || to >= C_ENDPOINT)
            return 0;
        int64_t where = self->scan_base + (p - self->scan_buf), at = self->scan_base + self->record_pos;
        uint32_t length = (uint32_t)size, crc = crc32_of(p, (size_t)size);
        uint32_t from32 = (uint32_t)(C_ENDPOINT + from), to32 = (uint32_t)(C_ENDPOINT + to);
        uint8_t flags = (uint8_t)may_correlate(p, size);
        buf_put(&self->loc[L_WHERE], &where, 8);
        buf_put(&self->loc[L_LENGTH], &length, 4);
        buf_put(&self->loc[L_CRC], &crc, 4);
        buf_put(&self->loc[L_RECORD], &at, 8);
        buf_put(&self->loc[L_SRC], &from32, 4);
        buf_put(&self->loc[L_DST], &to32, 4);
        buf_put(&self->loc[L_FLAGS], &flags, 1);
        SipMarks marks;
        marks_of(p, size, &m, &marks);
        buf_put(&self->loc[L_MARKS], &marks, sizeof(marks));
    }
    int fresh;
    int64_t method = intern(&self->strings, m.method.p, m.method.n, &fresh);
    int64_t call = method < 0 ? -1 : intern(&self->strings, m.call_id.p, m.call_id.n, &fresh);
    if (call < 0) {
        if (self->sip_locate)  /* the location columns were written: take them back */
            for (int c = 0; c < L_COUNT; c++)
                self->loc[c].len -= location_size[c];
        return 0;
    }
    uint32_t method32 = (uint32_t)method, call32 = (uint32_t)call;
    uint16_t status = (uint16_t)m.status;
    buf_put(&self->col[C_FRAME], &frame_no, 8);
    buf_put(&self->col[C_TS], &ts_ns, 8);
    buf_put(&self->col[C_METHOD], &method32, 4);
    buf_put(&self->col[C_STATUS], &status, 2);
    buf_put(&self->col[C_CALL], &call32, 4);
    if (!self->strings.as_call[call32]) {
        self->strings.as_call[call32] = 1;
        buf_put(&self->new_calls, &call32, 4);
    }
    if (announce) {
        /* body length, source, Call-ID (ABSENT: no header), Content-Type length (ABSENT: none), time */
        uint32_t head[4] = {(uint32_t)m.body_len, src, m.call_id.p ? call32 : ABSENT,
                            m.content_type.p ? (uint32_t)m.content_type.n : ABSENT};
        buf_put(&self->announcements, head, 16);
        buf_put(&self->announcements, &ts_ns, 8);
        if (m.content_type.p)
            buf_put(&self->announcements, m.content_type.p, m.content_type.n);
        buf_put(&self->announcements, m.body, m.body_len);
        self->announced++;
        if (self->announcements.len >= self->spill_bytes)
            spill(self);
    }
    self->sip_count++;
    self->scan_sip++;
    self->sip_total++;
    return 1;
}

/* One frame (link header first): taken when it is the fast path's IPv4/UDP/RTP, or (enable_sip)
 * a SIP message the first pass answers for. */
static int take_frame(Accelerator *self, int linktype, const uint8_t *p, int64_t caplen, int64_t ts_ns,
                      int64_t frame_no)
{
    int64_t off;
    uint16_t ethertype;
    if (linktype == LINKTYPE_ETHERNET) {
        if (caplen < 14)
            return 0;
        ethertype = be16(p + 12);
        off = 14;
        for (int tags = 0; ethertype == 0x8100 || ethertype == 0x88A8 || ethertype == 0x9100
                           || ethertype == 0x9200; tags++) {
            if (tags >= MAX_VLAN_TAGS || caplen - off < 4)
                return 0;
            ethertype = be16(p + off + 2);
            off += 4;
        }
    } else if (linktype == LINKTYPE_LINUX_SLL) {
        if (caplen < 16)
            return 0;
        ethertype = be16(p + 14);
        off = 16;
    } else if (linktype == LINKTYPE_LINUX_SLL2) {
        if (caplen < 20)
            return 0;
        ethertype = be16(p);
        off = 20;
    } else if (linktype == LINKTYPE_RAW || linktype == LINKTYPE_IPV4 || linktype == LINKTYPE_RAW_12
               || linktype == LINKTYPE_RAW_14) {
        ethertype = 0x0800;  /* the version nibble is checked with the IPv4 header below */
        off = 0;
    } else if (linktype == LINKTYPE_NULL || linktype == LINKTYPE_LOOP) {
        if (caplen < 4)
            return 0;
        /* AF_INET is 2 on every BSD; NULL writes it in the capturing host's byte order. */
        uint32_t family = be32(p);
        if (linktype == LINKTYPE_NULL) {
            uint32_t little = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
            if (little <= 0xFFFF)
                family = little;
        }
        if (family != 2)
            return 0;
        ethertype = 0x0800;
        off = 4;
    } else {
        return 0;
    }
    if (ethertype != 0x0800 || caplen - off < 28)
        return 0;
    const uint8_t *ip = p + off;
    int64_t total = be16(ip + 2);
    if (ip[0] != 0x45 || ip[9] != 17 || (be16(ip + 6) & 0x3FFF) || total > caplen - off)
        return 0;
    const uint8_t *udp = ip + 20;
    int64_t ulen = be16(udp + 4);
    if (ulen != total - 20 || ulen < 8 + 12)
        return 0;
    const uint8_t *payload = udp + 8;
    if (payload[0] < 0x80 || payload[0] >= 0xC0)
        return self->sip ? take_sip(self, ip, udp, payload, ulen - 8, ts_ns, frame_no) : 0;
    if (self->udp_only)
        return 1;
    return take_rtp(self, be32(ip + 12), be32(ip + 16), be16(udp), be16(udp + 2), payload, ulen - 8, ts_ns,
                    frame_no);
}

/* -- the Python type ----------------------------------------------------------------------- */

static void Accelerator_clear_slots(Accelerator *self)
{
    for (size_t i = 0; i < self->capacity; i++)
        if (self->table[i] != NULL) {
            free_slot(self->table[i]);
            self->table[i] = NULL;
        }
    self->used = 0;
}

static void Accelerator_dealloc(Accelerator *self)
{
    Accelerator_clear_slots(self);
    PyMem_Free(self->table);
    Py_XDECREF(self->interfaces);
    interner_free(&self->strings);
    for (int c = 0; c < C_COUNT; c++)
        buf_free(&self->col[c]);
    for (int c = 0; c < L_COUNT; c++)
        buf_free(&self->loc[c]);
    interner_free(&self->endpoints);
    buf_free(&self->new_calls);
    buf_free(&self->announcements);
    buf_free(&self->spill_chunks);
    if (self->spill != NULL)
        fclose(self->spill);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Accelerator_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"udp_only", NULL};
    int udp_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p", keywords, &udp_only))
        return NULL;
    if (!constants_set) {
        PyErr_SetString(PyExc_RuntimeError, "ladder._accel.set_constants() first");
        return NULL;
    }
    Accelerator *self = (Accelerator *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->udp_only = udp_only;
    if (grow(self) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->hlen = 16;
    self->linktype = -1;
    return (PyObject *)self;
}

/* The slot key of state; *ok = 0 when it is not an IPv4 stream. */
static int state_key(PyObject *state, uint32_t *src, uint32_t *dst, uint16_t *sport, uint16_t *dport,
                     uint32_t *ssrc, int *ok)
{
    int src_v4, dst_v4;
    int64_t sp, dp, ss;
    if (get_ipv4(state, A_SRC_IP, src, &src_v4) < 0 || get_ipv4(state, A_DST_IP, dst, &dst_v4) < 0
        || get_i64(state, A_SRC_PORT, &sp) < 0 || get_i64(state, A_DST_PORT, &dp) < 0
        || get_i64(state, A_SSRC, &ss) < 0)
        return -1;
    *ok = src_v4 && dst_v4 && sp >= 0 && sp <= 0xFFFF && dp >= 0 && dp <= 0xFFFF && ss >= 0 && ss <= 0xFFFFFFFFLL;
    *sport = (uint16_t)sp;
    *dport = (uint16_t)dp;
    *ssrc = (uint32_t)ss;
    return 0;
}

static int pull_index(Accelerator *self, size_t i)
{
    Slot *s = self->table[i];
    int rc = store_slot(s);
    remove_at(self, i);
    free_slot(s);
    return rc;
}

static PyObject *Accelerator_pull(Accelerator *self, PyObject *state)
{
    uint32_t src, dst, ssrc;
    uint16_t sport, dport;
    int ok;
    if (state_key(state, &src, &dst, &sport, &dport, &ssrc, &ok) < 0)
        return NULL;
    if (ok) {
        size_t i = find_index(self, src, dst, sport, dport, ssrc);
        if (self->table[i] != NULL && self->table[i]->state == state) {
            if (pull_index(self, i) < 0)
                return NULL;
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *Accelerator_arm(Accelerator *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"state", "base_ns", "counting", NULL};
    PyObject *state;
    long long base_ns;
    int counting = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OL|p", keywords, &state, &base_ns, &counting))
        return NULL;
    uint32_t src, dst, ssrc;
    uint16_t sport, dport;
    int ok;
    if (state_key(state, &src, &dst, &sport, &dport, &ssrc, &ok) < 0)
        return NULL;
    if (!ok)
        Py_RETURN_FALSE;
    size_t i = find_index(self, src, dst, sport, dport, ssrc);
    if (self->table[i] != NULL) {  /* armed before: Python's view first becomes current */
        if (pull_index(self, i) < 0)
            return NULL;
    }
    if ((self->used + 1) * 2 > self->capacity && grow(self) < 0)
        return NULL;
    Slot *s = PyMem_Calloc(1, sizeof(Slot));
    if (s == NULL)
        return PyErr_NoMemory();
    s->src = src;
    s->dst = dst;
    s->sport = sport;
    s->dport = dport;
    s->ssrc = ssrc;
    s->counting = counting;
    s->base_ns = base_ns;
    if (load_slot(s, state) < 0) {
        free_slot(s);
        return NULL;
    }
    Py_INCREF(state);
    s->state = state;
    if (!counting) {
        PyObject *minus_two = PyLong_FromLong(-2);
        int rc = minus_two == NULL ? -1 : PyObject_SetAttr(state, attr[A_FAST_PT], minus_two);
        Py_XDECREF(minus_two);
        if (rc < 0) {
            free_slot(s);
            return NULL;
        }
    }
    self->table[find_index(self, src, dst, sport, dport, ssrc)] = s;
    self->used++;
    Py_RETURN_TRUE;
}

static PyObject *Accelerator_pull_all(Accelerator *self, PyObject *unused)
{
    int failed = 0;
    for (size_t i = 0; i < self->capacity; i++) {
        Slot *s = self->table[i];
        if (s == NULL)
            continue;
        if (store_slot(s) < 0)
            failed = 1;
        free_slot(s);
        self->table[i] = NULL;
    }
    self->used = 0;
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Accelerator_configure_pcap(Accelerator *self, PyObject *args)
{
    int swapped, nano, hlen, linktype;
    if (!PyArg_ParseTuple(args, "ppii", &swapped, &nano, &hlen, &linktype))
        return NULL;
    self->swapped = swapped;
    self->nano = nano;
    self->hlen = hlen;
    self->linktype = linktype;
    Py_RETURN_NONE;
}

static PyObject *Accelerator_configure_pcapng(Accelerator *self, PyObject *args)
{
    int swapped;
    PyObject *interfaces;
    if (!PyArg_ParseTuple(args, "pO!", &swapped, &PyTuple_Type, &interfaces))
        return NULL;
    self->swapped = swapped;
    Py_INCREF(interfaces);
    Py_XSETREF(self->interfaces, interfaces);
    memset(self->iface_counts, 0, sizeof(self->iface_counts));
    Py_RETURN_NONE;
}

static inline uint32_t rd32(const uint8_t *p, int swapped)
{
    return swapped ? be32(p) : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* The arguments of both scans: (buf, pos, end, frames[, base]), the range checked; base, the file
 * offset of buf[0], is where the SIP records' locations count from. */
static int begin_scan(Accelerator *self, PyObject *args, Py_buffer *view, Py_ssize_t *pos, Py_ssize_t *end,
                      long long *frames)
{
    long long base = 0;
    if (!PyArg_ParseTuple(args, "y*nnL|L", view, pos, end, frames, &base))
        return -1;
    if (*pos < 0 || *end > view->len || *pos > *end || base < 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "scan range outside the buffer");
        return -1;
    }
    self->scan_buf = view->buf;
    self->scan_base = base;
    return 0;
}

/* What both scans do at the end: the GIL back, the results stored, the stop position. */
static PyObject *end_scan(Accelerator *self, PyThreadState *released, Py_buffer *view, Py_ssize_t pos,
                          Py_ssize_t count, int64_t first_ts, int64_t last_ts)
{
    if (released != NULL)
        PyEval_RestoreThread(released);
    PyBuffer_Release(view);
    self->count = count;
    self->first_ts = first_ts;
    self->last_ts = last_ts;
    self->fed += count - self->scan_sip;
    self->scan_sip = 0;
    return PyLong_FromSsize_t(pos);
}

/* scan_pcap(buf, pos, end, frames) -> the position of the first record not taken. */
static PyObject *Accelerator_scan_pcap(Accelerator *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, end;
    long long frames;
    if (begin_scan(self, args, &view, &pos, &end, &frames) < 0)
        return NULL;
    const uint8_t *buf = view.buf;
    int64_t hlen = self->hlen, scale = self->nano ? 1 : 1000;
    int swapped = self->swapped, linktype = self->linktype;
    Py_ssize_t count = 0;
    int64_t first_ts = 0, last_ts = 0;
    PyThreadState *released = end - pos >= RELEASE_GIL_BYTES ? PyEval_SaveThread() : NULL;
    while (pos + hlen <= end) {
        const uint8_t *h = buf + pos;
        int64_t caplen = rd32(h + 8, swapped), origlen = rd32(h + 12, swapped);
        if (caplen > MAX_RECORD || caplen != origlen || pos + hlen + caplen > end)
            break;
        int64_t ts_ns = (int64_t)rd32(h, swapped) * 1000000000LL + (int64_t)rd32(h + 4, swapped) * scale;
        self->record_pos = pos;
        if (!take_frame(self, linktype, h + hlen, caplen, ts_ns, frames + count + 1))
            break;
        if (count == 0)
            first_ts = ts_ns;
        last_ts = ts_ns;
        count++;
        pos += hlen + caplen;
    }
    return end_scan(self, released, &view, pos, count, first_ts, last_ts);
}

/* scan_pcapng(buf, pos, end, frames): the same over Enhanced Packet Blocks; any other block,
 * an interface it cannot time, or a block that does not fit ends the scan. */
static PyObject *Accelerator_scan_pcapng(Accelerator *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, end;
    long long frames;
    if (self->interfaces == NULL) {
        PyErr_SetString(PyExc_ValueError, "configure_pcapng first");
        return NULL;
    }
    if (begin_scan(self, args, &view, &pos, &end, &frames) < 0)
        return NULL;
    /* The interfaces as C arrays, so the loop needs no Python object. */
    int64_t links[MAX_IFACES], units[MAX_IFACES], offsets[MAX_IFACES];
    Py_ssize_t n_ifaces = PyTuple_GET_SIZE(self->interfaces);
    if (n_ifaces > MAX_IFACES)
        n_ifaces = MAX_IFACES;
    for (Py_ssize_t k = 0; k < n_ifaces; k++) {
        PyObject *item = PyTuple_GET_ITEM(self->interfaces, k);
        long long l, u, o;
        if (!PyArg_ParseTuple(item, "LLL", &l, &u, &o)) {
            PyBuffer_Release(&view);
            return NULL;
        }
        links[k] = l;
        /* An offset outside the timestamp range would let the sum overflow: never taken. */
        units[k] = o < -MAX_TS_NS || o > MAX_TS_NS ? 0 : u;
        offsets[k] = o;
    }
    const uint8_t *buf = view.buf;
    int swapped = self->swapped;
    Py_ssize_t count = 0;
    int64_t first_ts = 0, last_ts = 0;
    PyThreadState *released = end - pos >= RELEASE_GIL_BYTES ? PyEval_SaveThread() : NULL;
    while (pos + 32 <= end) {
        const uint8_t *b = buf + pos;
        int64_t block_type = rd32(b, swapped), block_len = rd32(b + 4, swapped);
        if (block_type != 6 || block_len < 32 || block_len % 4 || block_len > MAX_RECORD + 64
            || pos + block_len > end)
            break;
        int64_t iface = rd32(b + 8, swapped);
        int64_t caplen = rd32(b + 20, swapped), origlen = rd32(b + 24, swapped);
        if (iface >= n_ifaces || caplen != origlen || 28 + caplen > block_len - 4)
            break;
        int64_t unit = units[iface];
        uint64_t ticks = (uint64_t)rd32(b + 12, swapped) << 32 | rd32(b + 16, swapped);
        int64_t ts_ns;
        /* Both terms within +-MAX_TS_NS, so the sum cannot overflow; a time outside
         * [0, MAX_TS_NS] goes to Python, which clamps it with a warning. Other resolutions
         * (units 0) too: Python's exact integer arithmetic. */
        if (unit == 1000000 && ticks <= (uint64_t)MAX_TS_NS / 1000)
            ts_ns = (int64_t)ticks * 1000;
        else if (unit == 1000000000 && ticks <= (uint64_t)MAX_TS_NS)
            ts_ns = (int64_t)ticks;
        else
            break;
        ts_ns += offsets[iface];  /* nanoseconds, |offset| <= MAX_TS_NS (ingest checks) */
        if (ts_ns < 0 || ts_ns > MAX_TS_NS)
            break;
        self->record_pos = pos;
        if (!take_frame(self, (int)links[iface], b + 28, caplen, ts_ns, frames + count + 1))
            break;
        if (count == 0)
            first_ts = ts_ns;
        last_ts = ts_ns;
        count++;
        self->iface_counts[iface]++;
        pos += block_len;
    }
    return end_scan(self, released, &view, pos, count, first_ts, last_ts);
}

/* take_interface_counts() -> frames taken per configured pcapng interface since the last call. */
static PyObject *Accelerator_take_interface_counts(Accelerator *self, PyObject *unused)
{
    Py_ssize_t n = self->interfaces == NULL ? 0 : PyTuple_GET_SIZE(self->interfaces);
    if (n > MAX_IFACES)
        n = MAX_IFACES;
    PyObject *counts = PyTuple_New(n);
    if (counts == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *value = PyLong_FromLongLong(self->iface_counts[k]);
        if (value == NULL) {
            Py_DECREF(counts);
            return NULL;
        }
        PyTuple_SET_ITEM(counts, k, value);
        self->iface_counts[k] = 0;
    }
    return counts;
}

/* -- the SIP first pass, seen from Python --------------------------------------------------- */

static PyObject *Accelerator_enable_sip(Accelerator *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"media", "spill_bytes", "locate", NULL};
    int media = 0, locate = 0;
    Py_ssize_t spill_bytes = SPILL_BYTES;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pnp", keywords, &media, &spill_bytes, &locate))
        return NULL;
    if (spill_bytes < 1) {
        PyErr_SetString(PyExc_ValueError, "spill_bytes must be positive");
        return NULL;
    }
    self->spill_bytes = (size_t)spill_bytes;
    if (self->strings.cap == 0 && interner_grow(&self->strings) < 0)
        return PyErr_NoMemory();
    if (locate && self->endpoints.cap == 0 && interner_grow(&self->endpoints) < 0)
        return PyErr_NoMemory();
    self->sip_locate = locate;
    self->sip = 1;
    self->sip_media = media;
    Py_RETURN_NONE;
}

static PyObject *take_column(Buf *b)
{
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)b->p, (Py_ssize_t)b->len);
    b->len = 0;
    return bytes;
}

/* take_sip() -> (records, frame, ts_ns, method, status, call, new_call_ids, announcements waiting) */
static PyObject *Accelerator_take_sip(Accelerator *self, PyObject *unused)
{
    PyObject *calls = PyList_New(0);
    if (calls == NULL)
        return NULL;
    const uint32_t *ids = (const uint32_t *)self->new_calls.p;
    for (size_t k = 0; k < self->new_calls.len / 4; k++) {
        PyObject *text = interned_text(&self->strings, ids[k]);
        if (text == NULL || PyList_Append(calls, text) < 0) {
            Py_XDECREF(text);
            Py_DECREF(calls);
            return NULL;
        }
        Py_DECREF(text);
    }
    self->new_calls.len = 0;
    PyObject *result = Py_BuildValue("nNNNNNNn", self->sip_count, take_column(&self->col[C_FRAME]),
                                     take_column(&self->col[C_TS]), take_column(&self->col[C_METHOD]),
                                     take_column(&self->col[C_STATUS]), take_column(&self->col[C_CALL]), calls,
                                     self->announced);
    self->sip_count = 0;
    return result;
}

/* take_locations() -> (where, length, crc, record, src, dst, flags, marks, addresses, ports): the
 * MessageStore columns of the records take_sip() just gave (enable_sip(locate=True)), as native
 * bytes; then the IPv4 address (uint32) and port (uint16) of each endpoint id not named before,
 * in id order (ids from 1). */
static PyObject *Accelerator_take_locations(Accelerator *self, PyObject *unused)
{
    if (self->endpoints_given == 0)
        self->endpoints_given = 1;  /* id 0 is "" */
    uint32_t fresh = self->endpoints.count > self->endpoints_given ? self->endpoints.count - self->endpoints_given : 0;
    PyObject *addresses = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)fresh * 4);
    PyObject *ports = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)fresh * 2);
    if (addresses == NULL || ports == NULL) {
        Py_XDECREF(addresses);
        Py_XDECREF(ports);
        return NULL;
    }
    uint8_t *a = (uint8_t *)PyBytes_AS_STRING(addresses), *b = (uint8_t *)PyBytes_AS_STRING(ports);
    for (uint32_t k = 0; k < fresh; k++) {
        const uint8_t *key = self->endpoints.text.p + self->endpoints.off[self->endpoints_given + k];
        uint32_t address = be32(key);
        uint16_t port = be16(key + 4);
        memcpy(a + 4 * k, &address, 4);
        memcpy(b + 2 * k, &port, 2);
    }
    self->endpoints_given += fresh;
    return Py_BuildValue("NNNNNNNNNN", take_column(&self->loc[L_WHERE]), take_column(&self->loc[L_LENGTH]),
                         take_column(&self->loc[L_CRC]), take_column(&self->loc[L_RECORD]),
                         take_column(&self->loc[L_SRC]), take_column(&self->loc[L_DST]),
                         take_column(&self->loc[L_FLAGS]), take_column(&self->loc[L_MARKS]), addresses, ports);
}

/* The announcement records of p[0:len] as a list of tuples. */
static PyObject *announcement_list(Accelerator *self, const uint8_t *p, size_t len)
{
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    const uint8_t *end = p + len;
    while (p < end) {
        uint32_t head[4];
        int64_t ts_ns;
        memcpy(head, p, 16);
        memcpy(&ts_ns, p + 16, 8);
        p += 24;
        char ip[16];
        snprintf(ip, sizeof(ip), "%u.%u.%u.%u", head[1] >> 24, (head[1] >> 16) & 255, (head[1] >> 8) & 255,
                 head[1] & 255);
        PyObject *call = head[2] == ABSENT ? Py_NewRef(Py_None) : interned_text(&self->strings, head[2]);
        PyObject *type = Py_None;
        Py_INCREF(type);
        if (head[3] != ABSENT) {
            Py_DECREF(type);
            type = PyUnicode_DecodeASCII((const char *)p, head[3], NULL);
            p += head[3];
        }
        PyObject *item = call && type ? Py_BuildValue("sOLOy#", ip, call, (long long)ts_ns, type, p,
                                                      (Py_ssize_t)head[0]) : NULL;
        p += head[0];
        Py_XDECREF(call);
        Py_XDECREF(type);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

/* take_announcements() -> [(src_ip, call_id, ts_ns, content_type, body)]: the next chunk of the
 * SDP bodies kept, oldest first (spilled ones before those in memory); [] when none is left. */
static PyObject *Accelerator_take_announcements(Accelerator *self, PyObject *unused)
{
    size_t chunks = self->spill_chunks.len / sizeof(size_t);
    if (self->spill_next < chunks) {
        size_t len;
        memcpy(&len, self->spill_chunks.p + self->spill_next * sizeof(size_t), sizeof(size_t));
        uint8_t *chunk = PyMem_RawMalloc(len);
        if (chunk == NULL)
            return PyErr_NoMemory();
        if (fseek(self->spill, self->spill_offset, SEEK_SET) != 0 || fread(chunk, 1, len, self->spill) != len) {
            PyMem_RawFree(chunk);
            PyErr_SetString(PyExc_OSError, "the temporary file of SDP bodies could not be read back");
            return NULL;
        }
        PyObject *list = announcement_list(self, chunk, len);
        PyMem_RawFree(chunk);
        if (list == NULL)
            return NULL;
        self->spill_offset += (long)len;
        if (++self->spill_next == chunks) {  /* all read: the file starts over */
            fclose(self->spill);
            self->spill = NULL;
            self->spill_chunks.len = 0;
            self->spill_next = 0;
            self->spill_offset = 0;
        }
        return list;
    }
    PyObject *list = announcement_list(self, self->announcements.p, self->announcements.len);
    if (list != NULL) {
        self->announcements.len = 0;
        self->announced = 0;
    }
    return list;
}

/* strings_from(start) -> the interned strings with ids start, start + 1, ... */
static PyObject *Accelerator_strings_from(Accelerator *self, PyObject *arg)
{
    Py_ssize_t start = PyLong_AsSsize_t(arg);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (start < 1)
        start = 1;
    Py_ssize_t count = self->strings.count;
    PyObject *list = PyList_New(start < count ? count - start : 0);
    if (list == NULL)
        return NULL;
    for (Py_ssize_t id = start; id < count; id++) {
        PyObject *text = interned_text(&self->strings, (uint32_t)id);
        if (text == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, id - start, text);
    }
    return list;
}

/* intern(text) -> its id in the one string table the C records use. */
static PyObject *Accelerator_intern(Accelerator *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "intern() takes a str");
        return NULL;
    }
    PyObject *bytes = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
    if (bytes == NULL)
        return NULL;
    if (self->strings.cap == 0 && interner_grow(&self->strings) < 0) {
        Py_DECREF(bytes);
        return PyErr_NoMemory();
    }
    int fresh;
    int64_t id = intern(&self->strings, (const uint8_t *)PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes), &fresh);
    Py_DECREF(bytes);
    if (id < 0)
        return PyErr_NoMemory();
    return PyLong_FromLongLong(id);
}

static PyObject *span_text(Span s)
{
    if (s.p == NULL)
        Py_RETURN_NONE;
    return PyUnicode_DecodeASCII((const char *)s.p, s.n, NULL);
}

/* scan_sip(data) -> the fields of decoders.sipscan.SipFields, in its order, or None. */
static PyObject *accel_scan_sip(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    SipScan m;
    PyObject *result;
    if (!sip_scan(view.buf, view.len, &m)) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *cseq = m.has_cseq ? Py_BuildValue("LN", (long long)m.cseq, span_text(m.cseq_method))
                                    : Py_NewRef(Py_None);
        PyObject *status = m.is_request ? Py_NewRef(Py_None) : PyLong_FromLong(m.status);
        result = cseq && status ? Py_BuildValue("ONONNNNNNLNy#", m.is_request ? Py_True : Py_False,
                                                span_text(m.method), status, span_text(m.call_id), cseq,
                                                span_text(m.branch), span_text(m.sent_by), span_text(m.from_tag),
                                                span_text(m.to_tag), (long long)m.content_length,
                                                span_text(m.content_type), m.body, m.body_len)
                                : NULL;
        if (result == NULL) {
            Py_XDECREF(cseq);
            Py_XDECREF(status);
        }
    }
    PyBuffer_Release(&view);
    return result;
}

static PyObject *Accelerator_get_count(Accelerator *self, void *closure) { return PyLong_FromSsize_t(self->count); }
static PyObject *Accelerator_get_first_ts(Accelerator *self, void *closure) { return PyLong_FromLongLong(self->first_ts); }
static PyObject *Accelerator_get_last_ts(Accelerator *self, void *closure) { return PyLong_FromLongLong(self->last_ts); }
static PyObject *Accelerator_get_fed(Accelerator *self, void *closure) { return PyLong_FromLongLong(self->fed); }
static PyObject *Accelerator_get_sip_taken(Accelerator *self, void *closure) { return PyLong_FromLongLong(self->sip_total); }
static PyObject *Accelerator_get_spilled(Accelerator *self, void *closure)
{
    return PyLong_FromSize_t(self->spill_chunks.len / sizeof(size_t) - self->spill_next);
}
static PyObject *Accelerator_get_sip_waiting(Accelerator *self, void *closure) { return PyLong_FromSsize_t(self->sip_count); }
static PyObject *Accelerator_get_armed(Accelerator *self, void *closure) { return PyLong_FromSize_t(self->used); }

static PyGetSetDef Accelerator_getset[] = {
    {"count", (getter)Accelerator_get_count, NULL, "frames the last scan took", NULL},
    {"first_ts", (getter)Accelerator_get_first_ts, NULL, "the first of them's time (ns)", NULL},
    {"last_ts", (getter)Accelerator_get_last_ts, NULL, "the last of them's time (ns)", NULL},
    {"fed", (getter)Accelerator_get_fed, NULL, "frames taken by every scan so far", NULL},
    {"armed", (getter)Accelerator_get_armed, NULL, "streams held in C now", NULL},
    {"sip_taken", (getter)Accelerator_get_sip_taken, NULL, "SIP messages the first pass took so far", NULL},
    {"sip_waiting", (getter)Accelerator_get_sip_waiting, NULL, "SIP records take_sip() has yet to give", NULL},
    {"spilled", (getter)Accelerator_get_spilled, NULL, "chunks of SDP bodies waiting in the spill file", NULL},
    {NULL},
};

static PyMethodDef Accelerator_methods[] = {
    {"arm", (PyCFunction)(void (*)(void))Accelerator_arm, METH_VARARGS | METH_KEYWORDS,
     "arm(state, base_ns, counting=False) -> bool: take over a confirmed stream's fast path"},
    {"pull", (PyCFunction)Accelerator_pull, METH_O, "pull(state) -> bool: hand the stream back to Python"},
    {"pull_all", (PyCFunction)Accelerator_pull_all, METH_NOARGS, "hand every stream back to Python"},
    {"configure_pcap", (PyCFunction)Accelerator_configure_pcap, METH_VARARGS,
     "configure_pcap(big_endian, nano, record_header_len, linktype)"},
    {"configure_pcapng", (PyCFunction)Accelerator_configure_pcapng, METH_VARARGS,
     "configure_pcapng(big_endian, ((linktype, units_per_second or 0, offset_ns), ...))"},
    {"scan_pcap", (PyCFunction)Accelerator_scan_pcap, METH_VARARGS,
     "scan_pcap(buf, pos, end, frames, base=0) -> position of the first record not taken (base: the file "
     "offset of buf[0], for take_locations)"},
    {"scan_pcapng", (PyCFunction)Accelerator_scan_pcapng, METH_VARARGS,
     "scan_pcapng(buf, pos, end, frames, base=0) -> position of the first block not taken (base: the file "
     "offset of buf[0], for take_locations)"},
    {"take_interface_counts", (PyCFunction)Accelerator_take_interface_counts, METH_NOARGS,
     "frames taken per configured pcapng interface since the last call"},
    {"enable_sip", (PyCFunction)(void (*)(void))Accelerator_enable_sip, METH_VARARGS | METH_KEYWORDS,
     "enable_sip(media=False, spill_bytes=8 MiB, locate=False): take the SIP messages the first pass answers "
     "for too (media: keep the SDP bodies for take_announcements, beyond spill_bytes in a temporary file; "
     "locate: where each is in the file, for take_locations)"},
    {"take_sip", (PyCFunction)Accelerator_take_sip, METH_NOARGS,
     "take_sip() -> (records, frame, ts_ns, method, status, call, new Call-IDs, announcements waiting): the "
     "SIP records since the last call, columns as native bytes"},
    {"take_locations", (PyCFunction)Accelerator_take_locations, METH_NOARGS,
     "take_locations() -> (where, length, crc, record, src, dst, flags, marks, addresses, ports): the MessageStore "
     "columns of the records take_sip() just gave (enable_sip(locate=True)), and the new endpoints"},
    {"take_announcements", (PyCFunction)Accelerator_take_announcements, METH_NOARGS,
     "take_announcements() -> [(src_ip, call_id, ts_ns, content_type, body)]: the next chunk of the SDP "
     "bodies kept, oldest first; [] when none is left"},
    {"strings_from", (PyCFunction)Accelerator_strings_from, METH_O,
     "strings_from(start) -> the interned strings from id start on"},
    {"intern", (PyCFunction)Accelerator_intern, METH_O, "intern(text) -> its id in the string table"},
    {NULL},
};

static PyTypeObject AcceleratorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ladder._accel.Accelerator",
    .tp_basicsize = sizeof(Accelerator),
    .tp_dealloc = (destructor)Accelerator_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Accelerator(udp_only=False): the compiled fast path of one capture's RTP table, or with\n"
              "udp_only (media analysis off) a counter of the datagrams the pipeline would call udp-other.",
    .tp_methods = Accelerator_methods,
    .tp_getset = Accelerator_getset,
    .tp_new = Accelerator_new,
};

/* set_constants(max_record, max_ts_ns, max_vlan_tags, timestamp_jump_ms, jitter_buffer_ms) */
static PyObject *accel_set_constants(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"max_record", "max_ts_ns", "max_vlan_tags", "timestamp_jump_ms",
                               "jitter_buffer_ms", NULL};
    long long max_record, max_ts_ns;
    int max_vlan_tags;
    double jump, buffer;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "LLidd", keywords, &max_record, &max_ts_ns, &max_vlan_tags,
                                     &jump, &buffer))
        return NULL;
    /* The overflow-freedom of the scans rests on these bounds. */
    if (max_record <= 0 || max_record > (1 << 30) || max_ts_ns <= 0 || max_ts_ns > (INT64_C(1) << 62) - 1
        || max_vlan_tags < 0) {
        PyErr_SetString(PyExc_ValueError, "constants out of the range the scans are safe for");
        return NULL;
    }
    MAX_RECORD = max_record;
    MAX_TS_NS = max_ts_ns;
    MAX_VLAN_TAGS = max_vlan_tags;
    TIMESTAMP_JUMP_MS = jump;
    JITTER_BUFFER_MS = buffer;
    constants_set = 1;
    Py_RETURN_NONE;
}

/* -- the fast lane of ``ladder calls`` (ladder/calls/simple_calls.py) -------------------------
 *
 * simple_calls(fd, columns, members, starts, first, wanted) reads back, for each group g of
 * first .. first + len(wanted) - 1 with wanted[g - first] set, the messages
 * members[starts[g]:starts[g + 1]] from the capture file (fd, by the store's where/length, each
 * checked against its CRC), takes each one's sip_scan (the load's, kept as marks: marks_scan; else
 * scanned again) and decides whether the group is "simple":
 * the common call shape whose row Python can make without reading a message (the predicate and
 * why it gives exactly the slow lane's row are in simple_calls.py). For a simple group it gives
 * the facts the row needs, else None: anything odd (a message in the spill file, one sip_scan
 * does not answer for, a read that fails) is simply not simple, and the slow lane decides. */

#include <errno.h>
#include <unistd.h>

#define SIMPLE_MAX_MESSAGES 32
#define SIMPLE_MAX_LENGTH 65535
#define SIMPLE_WINDOW (32 << 20)  /* a batch's messages read at once (simple_calls.BATCH) */
#define SIMPLE_COOKIE "z9hG4bK"
/* ladder.calls.duplicates.DUPLICATE_WINDOW_NS: the same bytes the same way within it are a
 * capture copy (folded), later a retransmission (kept; the module exports it for a test) */
#define SIMPLE_DUPLICATE_WINDOW_NS 10000000

typedef struct {
    SipScan m;
    size_t at;  /* where its bytes are in the group's buffer, when read there */
    const uint8_t *raw;
    Py_ssize_t n;
    uint32_t addr[2];  /* source, destination: IPv4 address and port; or Python's endpoint id, port 0 */
    uint16_t port[2];
    int c_ends;  /* its endpoints are C's (UDP/IPv4, by address and port), else Python's (by id) */
    int64_t ts;
    int repeat;  /* the bytes of an earlier message again: a retransmission */
} SimpleMessage;

static int span_eq(Span a, Span b)
{
    return a.p != NULL && b.p != NULL && a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static int span_is(Span s, const char *word)
{
    size_t n = strlen(word);
    return s.p != NULL && (size_t)s.n == n && memcmp(s.p, word, n) == 0;
}

static int read_at(int fd, uint8_t *into, size_t n, int64_t where)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, into + done, n - done, (off_t)(where + (int64_t)done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        done += (size_t)got;
    }
    return 1;
}

/* The From and To values of a head sip_scan answered for (each one line, stripped, as
 * head_values gives them), and how many Via lines it has. */
static void simple_head(const uint8_t *d, Py_ssize_t n, Span *from, Span *to, int *vias)
{
    from->p = to->p = NULL;
    from->n = to->n = 0;
    *vias = 0;
    Py_ssize_t pos = 0;
    int line_no = 0;
    while (pos < n) {
        const uint8_t *cr = memchr(d + pos, '\r', n - pos);
        Py_ssize_t end = cr ? cr - d : n;
        Py_ssize_t start = pos;
        pos = end + 2;
        if (end == start)
            return;
        if (line_no++ == 0 || d[start] == ' ' || d[start] == '\t')
            continue;
        const uint8_t *colon = memchr(d + start, ':', end - start);
        if (colon == NULL)
            continue;
        Span name = strip(d + start, colon - (d + start));
        int key = header_key(name);
        Span value = strip(colon + 1, d + end - colon - 1);
        if (key == H_VIA)
            (*vias)++;
        else if (key == H_FROM && from->p == NULL)
            *from = value;
        else if (key == H_TO && to->p == NULL)
            *to = value;
    }
}

/* Whether message i goes from the INVITE's source to its destination (the caller's way). */
static int simple_forward(SimpleMessage *ms, int i)
{
    return ms[i].addr[0] == ms[0].addr[0] && ms[i].port[0] == ms[0].port[0] && ms[i].addr[1] == ms[0].addr[1]
           && ms[i].port[1] == ms[0].port[1];
}

/* Whether the n messages of one group (read and scanned into ms) are simple; the facts go to
 * f: [first response, ringing, final response, BYE] positions (-1: none), the final's status,
 * whether there is a BYE, whether there is a CANCEL, the position of the challenge (the first
 * INVITE's 401/407 when a second INVITE followed it with credentials, RFC 3261 §22.2; -1: none).
 * "The INVITE" is the current one: the first, or the second from its arrival on. */
static int simple_group(SimpleMessage *ms, int n, int *f)
{
    SimpleMessage *invite = &ms[0];
    /* every message: Call-ID (the same bytes), CSeq, From tag, a top Via with the cookie */
    for (int i = 0; i < n; i++) {
        SipScan *m = &ms[i].m;
        if (m->call_id.p == NULL || m->call_id.n == 0 || !span_eq(m->call_id, invite->m.call_id) || !m->has_cseq
            || m->from_tag.p == NULL || m->branch.p == NULL || m->sent_by.p == NULL
            || m->branch.n < 7 || memcmp(m->branch.p, SIMPLE_COOKIE, 7) != 0)
            return 0;
        if (i > 0 && ms[i].ts <= ms[i - 1].ts)
            return 0;  /* strictly increasing times */
        /* two endpoints, every message between them */
        int backward = ms[i].addr[0] == invite->addr[1] && ms[i].port[0] == invite->port[1]
                       && ms[i].addr[1] == invite->addr[0] && ms[i].port[1] == invite->port[0];
        if (!simple_forward(ms, i) && !backward)
            return 0;
        /* The same bytes again: an exact retransmission (RFC 3261 §17), the same way more than
         * the duplicate window after the last time, so fold_duplicates keeps it and
         * build_transactions marks it (the same key and _signature; a 1xx the same RSeq) */
        ms[i].repeat = 0;
        for (int k = 0; k < i; k++)
            if (ms[k].n == ms[i].n && memcmp(ms[k].raw, ms[i].raw, ms[i].n) == 0) {
                if (ms[k].addr[0] != ms[i].addr[0] || ms[k].port[0] != ms[i].port[0] || ms[k].addr[1] != ms[i].addr[1]
                    || ms[k].port[1] != ms[i].port[1] || ms[i].ts - ms[k].ts <= SIMPLE_DUPLICATE_WINDOW_NS)
                    return 0;  /* a capture copy; or the same bytes the other way */
                ms[i].repeat = 1;
            }
    }
    if (invite->addr[0] == invite->addr[1] && invite->port[0] == invite->port[1])
        return 0;  /* two endpoints (one address with two ports is two: SIPp on loopback) */
    /* the first message is the only INVITE, without a To tag */
    if (!invite->m.is_request || !span_is(invite->m.method, "INVITE") || !span_is(invite->m.cseq_method, "INVITE")
        || invite->m.to_tag.p != NULL)
        return 0;
    Span caller_tag = invite->m.from_tag, callee_tag = {NULL, 0};
    f[0] = f[1] = f[2] = f[3] = -1;
    f[4] = 0;
    int has_bye = 0, cancel = -1, cur = 0, challenge = -1;  /* cur: the current INVITE's position */
    for (int i = 1; i < n; i++) {
        SipScan *m = &ms[i].m;
        if (ms[i].repeat)
            continue;  /* its first sending was weighed (the earlier bytes); the loops below skip it */
        if (m->is_request) {
            int is_ack = span_is(m->method, "ACK"), is_cancel = span_is(m->method, "CANCEL");
            int is_invite = span_is(m->method, "INVITE");
            if (!(is_ack || is_cancel || is_invite || span_is(m->method, "BYE") || span_is(m->method, "PRACK"))
                || !span_eq(m->method, m->cseq_method))
                return 0;
            if (is_invite) {
                /* The one retry of a challenged INVITE (RFC 3261 §22.2, RFC 3665 §3.2 F4): the first
                 * INVITE's final a 401 or 407, already ACKed; from the caller, the same From tag,
                 * no To tag, a higher CSeq number, a branch unlike any earlier request's (a
                 * transaction of its own, initial: find_legs passes over it, its hop the first's).
                 * Before it, only the first INVITE, its responses and that ACK (so no CANCEL, PRACK
                 * or BYE of the first). The dialog starts again: the challenge's To tag is a proxy's. */
                if (cur != 0 || f[2] < 0 || (f[4] != 401 && f[4] != 407) || m->to_tag.p != NULL
                    || !span_eq(m->from_tag, caller_tag) || m->cseq <= invite->m.cseq || !simple_forward(ms, i))
                    return 0;
                int acked = 0;
                for (int k = 1; k < i; k++) {
                    if (ms[k].repeat || !ms[k].m.is_request)
                        continue;
                    if (!span_is(ms[k].m.method, "ACK") || !span_eq(ms[k].m.branch, invite->m.branch))
                        return 0;
                    acked = 1;
                }
                for (int k = 0; k < i; k++)
                    if (!ms[k].repeat && ms[k].m.is_request && span_eq(ms[k].m.branch, m->branch))
                        return 0;
                if (!acked)
                    return 0;
                challenge = f[2];
                cur = i;
                f[2] = -1;
                f[4] = 0;
                callee_tag.p = NULL;
                callee_tag.n = 0;
                continue;  /* (no To tag, the caller's From tag: checked above) */
            }
            if (is_cancel) {
                /* The one CANCEL of the INVITE (RFC 3261 §9.1): from the caller, its top Via,
                 * CSeq number and To (no tag) the INVITE's; build_transactions makes it a
                 * transaction of its own (key: branch, sent-by, CANCEL) that cancels the
                 * INVITE's. Before the ACK of a failure (the only other request of its branch). */
                if (cancel >= 0 || m->to_tag.p != NULL || !span_eq(m->branch, ms[cur].m.branch)
                    || !span_eq(m->sent_by, ms[cur].m.sent_by) || m->cseq != ms[cur].m.cseq || !simple_forward(ms, i))
                    return 0;
                for (int k = 1; k < i; k++)
                    if (k != cur && !ms[k].repeat && ms[k].m.is_request && span_eq(ms[k].m.branch, m->branch))
                        return 0;
                cancel = i;
            } else {
                /* ACK, BYE and PRACK (RFC 3262 §7.1) in the dialog (a To tag), each of its own
                 * branch; but the one ACK of a non-2xx final, which shares the INVITE's branch and
                 * sent-by (RFC 3261 §17.1.1.3: build_transactions puts it in the INVITE's
                 * transaction, ``_acks_non_2xx``), and so the CANCEL's */
                if (m->to_tag.p == NULL)
                    return 0;
                for (int k = 0; k < i; k++) {
                    if (ms[k].repeat || !ms[k].m.is_request || !span_eq(ms[k].m.branch, m->branch))
                        continue;
                    if ((k == cur || k == cancel) && is_ack && f[2] >= 0 && f[4] >= 300
                        && span_eq(m->sent_by, ms[cur].m.sent_by) && m->cseq == ms[cur].m.cseq && simple_forward(ms, i))
                        continue;
                    return 0;  /* (a second ACK of that branch meets the first here) */
                }
                has_bye |= span_is(m->method, "BYE");
            }
        } else {
            /* a response to INVITE, CANCEL, PRACK or BYE, of exactly one earlier request (branch,
             * sent-by, CSeq number and method: the INVITE and its CANCEL share a branch, not a
             * method), going the other way, no status twice in its transaction */
            if (!(span_is(m->cseq_method, "INVITE") || span_is(m->cseq_method, "BYE")
                  || span_is(m->cseq_method, "CANCEL") || span_is(m->cseq_method, "PRACK")))
                return 0;
            int q = -1;
            for (int k = 0; k < i && q < 0; k++)
                if (ms[k].m.is_request && span_eq(ms[k].m.branch, m->branch) && span_eq(ms[k].m.method, m->cseq_method))
                    q = k;
            if (q < 0 || ms[q].m.cseq != m->cseq || !span_eq(ms[q].m.sent_by, m->sent_by)
                || ms[q].addr[0] != ms[i].addr[1] || ms[q].port[0] != ms[i].port[1] || ms[q].addr[1] != ms[i].addr[0]
                || ms[q].port[1] != ms[i].port[0])
                return 0;
            for (int k = q + 1; k < i; k++)
                if (!ms[k].repeat && !ms[k].m.is_request && span_eq(ms[k].m.branch, m->branch)
                    && span_eq(ms[k].m.cseq_method, m->cseq_method) && ms[k].m.status == m->status)
                    return 0;
            if (q == 0 && cur != 0)
                return 0;  /* the first INVITE answered again after its retry */
            if (q == cur) {  /* an INVITE's: call_timings' first response, ringing, final (answer) */
                if (f[0] < 0)
                    f[0] = i;
                if (f[1] < 0 && (m->status == 180 || m->status == 183))
                    f[1] = i;
                if (m->status >= 200 && f[2] >= 0 && f[4] >= 300)
                    return 0;  /* a final after a failure: call_timings' answer would be a later 2xx */
                if (f[2] < 0 && m->status >= 200) {
                    f[2] = i;
                    f[4] = m->status;
                }
            }
        }
        /* one dialog: a To tag is the callee's, the same in every message */
        if (m->to_tag.p == NULL) {
            if ((m->is_request ? i != cancel : m->status >= 200) || !span_eq(m->from_tag, caller_tag))
                return 0;  /* only a provisional answer or the CANCEL may come without one */
            continue;
        }
        if (callee_tag.p == NULL) {
            if (!span_eq(m->from_tag, caller_tag))
                return 0;
            callee_tag = m->to_tag;
        }
        if (!((span_eq(m->from_tag, caller_tag) && span_eq(m->to_tag, callee_tag))
              || (span_eq(m->from_tag, callee_tag) && span_eq(m->to_tag, caller_tag))))
            return 0;
    }
    if (f[2] < 0 || (f[4] >= 300 && has_bye))
        return 0;  /* no final response; a BYE after a failure */
    if (has_bye)  /* call_timings' BYE: the first after the answer */
        for (int i = f[2] + 1; i < n && f[3] < 0; i++)
            if (ms[i].m.is_request && span_is(ms[i].m.method, "BYE"))
                f[3] = i;
    f[5] = has_bye;
    f[6] = cancel >= 0;
    f[7] = challenge;
    return 1;
}

/* A plain SIP URI: ``sip:`` or ``sips:``, a user of unreserved characters and "+", "@", a host
 * of letters, digits, "." and "-", perhaps a port (at most 65535) and ";" parameters of token
 * characters and "=" (each name a token). decoders.sipuri.parse_uri reads it as user and host
 * without a doubt (no escapes, password, IPv6, quotes or headers), so grouping._party of it is
 * user@host with the host lower-cased (written to party: fewer than u.n bytes). */
static int plain_uri(Span u, uint8_t *party, Py_ssize_t *party_n)
{
    Py_ssize_t i = u.n >= 4 && memcmp(u.p, "sip:", 4) == 0 ? 4 : u.n >= 5 && memcmp(u.p, "sips:", 5) == 0 ? 5 : 0;
    if (i == 0)
        return 0;
    Py_ssize_t user = i;
    while (i < u.n && (is_alnum(u.p[i]) || (u.p[i] && strchr("-_.!~*'+", u.p[i]) != NULL)))
        i++;
    if (i == user || i >= u.n || u.p[i] != '@')
        return 0;
    Py_ssize_t n = i - user + 1;
    memcpy(party, u.p + user, n);  /* user@ */
    Py_ssize_t host = ++i;
    while (i < u.n && (is_alnum(u.p[i]) || u.p[i] == '.' || u.p[i] == '-'))
        party[n++] = lower(u.p[i++]);
    if (i == host)
        return 0;
    if (i < u.n && u.p[i] == ':') {
        Py_ssize_t port = ++i;
        long value = 0;
        while (i < u.n && is_digit(u.p[i]) && i - port < 5)
            value = value * 10 + (u.p[i++] - '0');
        if (i == port || value > 65535)
            return 0;
    }
    if (i < u.n && u.p[i] == ';') {
        for (Py_ssize_t k = i; k < u.n; k++)
            if (!(is_token(u.p[k]) || u.p[k] == '=' || u.p[k] == ';') || (u.p[k] == '=' && u.p[k - 1] == ';'))
                return 0;  /* (a piece "=value" has no name) */
        i = u.n;
    }
    *party_n = n;
    return i == u.n;
}

/* The URI of a From/To value sip_scan read (read_tag took it: one "<" and ">", a display name
 * without "\\", at most one quoted string, ";name[=value]" parameters without quotes or spaces)
 * when decoders.sip._checked_name_addr cannot but read it as that text: a display name quoted
 * or of token words, a plain URI (plain_uri), parameter names that are tokens. */
static int plain_name_addr(Span v, Span *uri, uint8_t *party, Py_ssize_t *party_n)
{
    const uint8_t *lt = span_chr(v, '<'), *gt = span_chr(v, '>');
    if (lt == NULL || gt == NULL || gt < lt)
        return 0;
    Span display = {v.p, lt - v.p};
    if (span_chr(display, '"') == NULL)
        for (Py_ssize_t k = 0; k < display.n; k++)
            if (!is_token(display.p[k]) && display.p[k] != ' ')
                return 0;
    uri->p = lt + 1;
    uri->n = gt - lt - 1;
    if (!plain_uri(*uri, party, party_n))
        return 0;
    const uint8_t *q = gt + 1, *end = v.p + v.n;
    while (q < end) {  /* each ";" piece: a name of token characters (split_params), any value */
        const uint8_t *semi = memchr(q, ';', end - q), *stop = semi ? semi : end;
        const uint8_t *eq = memchr(q, '=', stop - q);
        Span name = strip(q, (eq ? eq : stop) - q);
        q = semi ? semi + 1 : end;
        if (name.n == 0) {
            if (eq != NULL)
                return 0;
            continue;  /* the empty piece before the first ";" */
        }
        for (Py_ssize_t k = 0; k < name.n; k++)
            if (!is_token(name.p[k]))
                return 0;
    }
    return 1;
}

/* The user of a Request-URI that decoders.sipuser's _PLAIN_SIP_URI matches, read as it reads it
 * (uri_user: the regex's group 1), for a subset of its forms: plain_uri's, with a port the regex's
 * _PORT takes (1-4 digits, or 10000-65535) and each ";" followed by a parameter name (a token).
 * The regex's user class holds plain_uri's and no "@", so its group 1 is the text before the "@". */
static int plain_request_user(Span u, Span *user)
{
    uint8_t party[512];
    Py_ssize_t party_n;
    if (u.n > 256 || !plain_uri(u, party, &party_n))
        return 0;
    const uint8_t *at = memchr(u.p, '@', u.n), *end = u.p + u.n;
    const uint8_t *q = at + 1;
    while (q < end && *q != ':' && *q != ';')
        q++;
    if (q < end && *q == ':') {
        const uint8_t *port = ++q;
        while (q < end && is_digit(*q))
            q++;
        if (q - port == 5 && port[0] == '0')
            return 0;  /* (plain_uri took 5 digits up to 65535: the regex, 10000 on) */
    }
    for (; q < end; q++)
        if (*q == ';' && (q + 1 == end || !is_token(q[1])))
            return 0;  /* ";" without a name after it */
    const uint8_t *colon = memchr(u.p, ':', u.n);
    user->p = colon + 1;
    user->n = at - colon - 1;
    return 1;
}

/* legs.compared_user of an ASCII user: without its leading "+"s, lower-cased (into out). */
static PyObject *compared_user(Span user)
{
    uint8_t out[256];
    Py_ssize_t i = 0, n = 0;
    while (i < user.n && user.p[i] == '+')
        i++;
    for (; i < user.n && n < (Py_ssize_t)sizeof(out); i++)
        out[n++] = lower(user.p[i]);
    return PyUnicode_FromStringAndSize((const char *)out, n);
}

/* Whether every message without a To tag has a plain To (plain_name_addr): then
 * MessageStore.damaged answers False for each message of the group from the first pass alone
 * (its _to_parses reads that value with _checked_name_addr), as the TUI counts them. */
static int plain_untagged_to(SimpleMessage *ms, int n)
{
    uint8_t party[512];
    for (int i = 0; i < n; i++) {
        Span from_value, to_value, uri;
        Py_ssize_t party_n;
        int vias;
        if (ms[i].m.to_tag.p != NULL)
            continue;
        simple_head(ms[i].raw, ms[i].n, &from_value, &to_value, &vias);
        if (to_value.p == NULL || to_value.n > 256 || !plain_name_addr(to_value, &uri, party, &party_n))
            return 0;
    }
    return 1;
}

typedef struct {
    Py_buffer where, length, crc, src, dst, flags, ts, address, port, usable, marks;
} SimpleColumns;

/* "%u.%u.%u.%u" of address a (what inet_ntoa writes) into text (16 bytes); its length. */
static int dotted_quad(uint32_t a, char *text)
{
    int len = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned byte = (a >> shift) & 255;
        if (byte >= 100)
            text[len++] = (char)('0' + byte / 100);
        if (byte >= 10)
            text[len++] = (char)('0' + byte / 10 % 10);
        text[len++] = (char)('0' + byte % 10);
        if (shift)
            text[len++] = '.';
    }
    return len;
}

static PyObject *accel_simple_calls(PyObject *module, PyObject *args)
{
    int fd, spill_fd;
    Py_ssize_t first;
    SimpleColumns c;
    Py_buffer members, starts, wanted;
    memset(&c, 0, sizeof(c));
    if (!PyArg_ParseTuple(args, "ii(y*y*y*y*y*y*y*y*y*y*y*)y*y*ny*", &fd, &spill_fd, &c.where, &c.length, &c.crc,
                          &c.src, &c.dst, &c.flags, &c.ts, &c.address, &c.port, &c.usable, &c.marks, &members, &starts,
                          &first, &wanted))
        return NULL;
    PyObject *result = NULL;
    uint8_t *buf = NULL, *window = NULL;
    size_t cap = 0;
    Py_buffer *views[] = {&c.where, &c.length, &c.crc, &c.src, &c.dst, &c.flags, &c.ts, &c.address, &c.port,
                          &c.usable, &c.marks, &members, &starts, &wanted};
    const int64_t *where = c.where.buf, *ts = c.ts.buf;
    const uint32_t *length = c.length.buf, *crc = c.crc.buf, *src = c.src.buf, *dst = c.dst.buf;
    const uint32_t *address = c.address.buf, *member = members.buf, *start = starts.buf;
    const uint16_t *port = c.port.buf;
    const uint8_t *want = wanted.buf;  /* (flags: checked for length only; a correlation header is read in Python) */
    const uint8_t *usable = c.usable.buf;  /* per Python endpoint id: 1 when UDP or TCP (simple_calls.py, S2) */
    const uint8_t *marks = c.marks.buf;  /* per message: the load's sip_scan (SipMarks), or flags 0 */
    Py_ssize_t rows = c.where.len / 8, endpoints = c.address.len / 4, groups = starts.len / 4 - 1;
    Py_ssize_t count = wanted.len;
    if (c.length.len != rows * 4 || c.crc.len != rows * 4 || c.src.len != rows * 4 || c.dst.len != rows * 4
        || c.flags.len != rows || c.ts.len < rows * 8 || c.port.len != endpoints * 2 || first < 0
        || c.marks.len != rows * SIP_MARKS_SIZE
        || first + count > groups || members.len % 4 != 0) {
        PyErr_SetString(PyExc_ValueError, "simple_calls: the columns do not fit together");
        goto done;
    }
    result = PyList_New(count);
    if (result == NULL)
        goto done;
    /* The batch's messages are near each other in the file (its calls started close in time):
     * read at once when they lie within SIMPLE_WINDOW bytes, not one pread each. */
    int64_t lo = INT64_MAX, hi = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        uint32_t from = start[first + k], to = start[first + k + 1];
        if (!want[k] || to < from || to - from < 2 || to - from > SIMPLE_MAX_MESSAGES
            || (Py_ssize_t)to > members.len / 4)
            continue;
        for (uint32_t i = from; i < to; i++) {
            uint32_t row = member[i];
            if ((Py_ssize_t)row < rows && where[row] >= 0) {
                lo = where[row] < lo ? where[row] : lo;
                hi = where[row] + length[row] > hi ? where[row] + length[row] : hi;
            }
        }
    }
    if (hi > lo && hi - lo <= SIMPLE_WINDOW) {
        window = malloc((size_t)(hi - lo));
        if (window != NULL && !read_at(fd, window, (size_t)(hi - lo), lo)) {
            free(window);  /* (a file cut short: each message is read alone, and fails alone) */
            window = NULL;
        }
    }
    SimpleMessage ms[SIMPLE_MAX_MESSAGES];
    for (Py_ssize_t k = 0; k < count; k++) {
        PyList_SET_ITEM(result, k, Py_NewRef(Py_None));
        if (!want[k])
            continue;
        uint32_t from = start[first + k], to = start[first + k + 1];
        if (to < from || (Py_ssize_t)to > members.len / 4) {
            PyErr_SetString(PyExc_ValueError, "simple_calls: a group outside the members");
            Py_CLEAR(result);
            goto done;
        }
        int n = (int)(to - from);
        if (n < 2 || n > SIMPLE_MAX_MESSAGES)
            continue;
        size_t total = 0;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            uint32_t row = member[from + i];
            if ((Py_ssize_t)row >= rows) {
                PyErr_SetString(PyExc_ValueError, "simple_calls: a message outside the columns");
                Py_CLEAR(result);
                goto done;
            }
            int64_t s = (int64_t)src[row] - C_ENDPOINT, d = (int64_t)dst[row] - C_ENDPOINT;
            /* In the capture file or the spill file (reassembled TCP, IPv6...); both endpoints C's
             * (UDP/IPv4: compared by address and port), or both Python's of UDP or TCP (compared by
             * id: MessageStore interns each Endpoint, transport included, once), as the first
             * message's: a group mixing the two is left to the slow lane. */
            int c_ends = s >= 0 && d >= 0;
            ok = (where[row] >= 0 ? fd >= 0 : spill_fd >= 0) && length[row] <= SIMPLE_MAX_LENGTH
                 && (c_ends ? s < endpoints && d < endpoints
                            : s < 0 && d < 0 && src[row] < (uint64_t)c.usable.len && dst[row] < (uint64_t)c.usable.len
                              && usable[src[row]] && usable[dst[row]])
                 && (i == 0 || c_ends == ms[0].c_ends);
            if (ok) {
                ms[i].at = total;
                ms[i].n = length[row];
                ms[i].c_ends = c_ends;
                ms[i].addr[0] = c_ends ? address[s] : src[row];
                ms[i].addr[1] = c_ends ? address[d] : dst[row];
                ms[i].port[0] = c_ends ? port[s] : 0;
                ms[i].port[1] = c_ends ? port[d] : 0;
                ms[i].ts = ts[row];
                total += length[row];
            }
        }
        if (!ok)
            continue;
        if (total > cap) {
            uint8_t *grown = realloc(buf, total);
            if (grown == NULL) {
                PyErr_NoMemory();
                Py_CLEAR(result);
                goto done;
            }
            buf = grown;
            cap = total;
        }
        for (int i = 0; i < n && ok; i++) {
            uint32_t row = member[from + i];
            int64_t at = where[row];
            if (window != NULL && at >= 0 && at >= lo && at + ms[i].n <= hi) {
                ms[i].raw = window + (at - lo);
            } else {
                ms[i].raw = buf + ms[i].at;  /* (the spill file: where = -1 - its offset) */
                ok = at >= 0 ? read_at(fd, buf + ms[i].at, ms[i].n, at)
                             : read_at(spill_fd, buf + ms[i].at, ms[i].n, -1 - at);
            }
            /* (the load's scan, kept as marks, where it was C's; else scanned now) */
            ok = ok && crc32_of(ms[i].raw, ms[i].n) == crc[row]
                 && (marks_scan(ms[i].raw, ms[i].n, marks + (size_t)row * SIP_MARKS_SIZE, &ms[i].m)
                     || sip_scan(ms[i].raw, ms[i].n, &ms[i].m));
        }
        int f[8];
        if (!ok || !simple_group(ms, n, f) || !plain_untagged_to(ms, n))
            continue;
        Span from_value, to_value;
        int vias;
        simple_head(ms[0].raw, ms[0].n, &from_value, &to_value, &vias);
        if (vias != 1 || from_value.p == NULL || to_value.p == NULL)
            continue;  /* KeptRequest's one Via; From and To as head_values reads them */
        /* Request-URI: the second of the request line's three parts */
        const uint8_t *line = ms[0].raw, *sp = memchr(line, ' ', ms[0].n);
        const uint8_t *sp2 = memchr(sp + 1, ' ', ms[0].n - (sp + 1 - line));
        Span uri = {sp + 1, sp2 - sp - 1};
        /* From and To URIs and grouping._party of each, when plain (else None: Python reads them) */
        Span from_uri = {NULL, 0}, to_uri = {NULL, 0}, caller = {NULL, 0}, callee = {NULL, 0};
        uint8_t parties[2 * 2 * 256];
        Py_ssize_t caller_n, callee_n;
        if (from_value.n <= 256 && to_value.n <= 256
            && plain_name_addr(from_value, &from_uri, parties, &caller_n)
            && plain_name_addr(to_value, &to_uri, parties + 512, &callee_n)) {
            caller.p = parties;
            caller.n = caller_n;
            callee.p = parties + 512;
            callee.n = callee_n;
        } else {
            from_uri.p = to_uri.p = NULL;
        }
        /* a failure's Reason-Phrase: the status line after "SIP/2.0 NNN " (_parse_status_line) */
        Span reason = {NULL, 0};
        if (f[4] >= 300) {
            const uint8_t *status_line = ms[f[2]].raw, *cr = memchr(status_line, '\r', ms[f[2]].n);
            reason.p = status_line + 12;
            reason.n = cr - status_line > 12 ? cr - status_line - 12 : 0;
        }
        /* the INVITE's ends, when C's: the address texts MessageStore.endpoint makes (inet_ntoa of
         * the same address) and the ports, so that Python makes each Endpoint without the store */
        PyObject *ends[2] = {Py_NewRef(Py_None), Py_NewRef(Py_None)};
        for (int e = 0; e < 2 && ms[0].c_ends; e++) {
            char text[16];
            Py_SETREF(ends[e], PyUnicode_FromStringAndSize(text, dotted_quad(ms[0].addr[e], text)));
        }
        /* the links' window's (caller, target) of the INVITE (simple_calls.window_parties) when
         * From and To are plain and the Request-URI's user is read as uri_user reads it */
        PyObject *window_caller = Py_NewRef(Py_None), *window_target = Py_NewRef(Py_None);
        Span request_user;
        if (caller.p != NULL && plain_request_user(uri, &request_user)) {
            Span caller_user = {caller.p, (const uint8_t *)memchr(caller.p, '@', caller.n) - caller.p};
            Py_SETREF(window_caller, compared_user(caller_user));
            Py_SETREF(window_target, compared_user(request_user));
        }
        /* the call's times, of the same ts_ns column Python would read them from: the INVITE's (its
         * start), the last message's, the INVITE leg's final (the challenge's, if any, else the
         * deciding final's), and the delays SimpleCall keeps (None where Python's is) */
        /* (a position of -1 is the last message, as Python's numbers[-1]; S8 sets first and final) */
#define SIMPLE_TS(i) (ms[(i) >= 0 ? (i) : n - 1].ts)
        int64_t start_ns = ms[0].ts, final_ns = SIMPLE_TS(f[2]);
        PyObject *delays[3] = {
            f[1] >= 0 ? PyLong_FromLongLong(SIMPLE_TS(f[1]) - start_ns) : Py_NewRef(Py_None),  /* post-dial delay */
            f[4] < 300 ? PyLong_FromLongLong(final_ns - start_ns) : Py_NewRef(Py_None),   /* setup time */
            f[3] >= 0 ? PyLong_FromLongLong(SIMPLE_TS(f[3]) - final_ns) : Py_NewRef(Py_None),  /* talk time */
        };
        PyObject *facts = NULL;
        if (ends[0] != NULL && ends[1] != NULL && window_caller != NULL && window_target != NULL
            && delays[0] != NULL && delays[1] != NULL && delays[2] != NULL)
            facts = Py_BuildValue("(NiiiiiONNNNNNNNNOiOiOiOOLLLOOOL)", span_text(ms[0].m.call_id), f[4], f[0], f[1],
                                  f[2], f[3], f[5] ? Py_True : Py_False, span_text(ms[0].m.from_tag), span_text(uri),
                                  span_text(from_value), span_text(to_value), span_text(from_uri),
                                  span_text(to_uri), span_text(caller), span_text(callee), span_text(reason),
                                  f[6] ? Py_True : Py_False, f[7], ends[0], (int)ms[0].port[0], ends[1],
                                  (int)ms[0].port[1], window_caller, window_target, (long long)start_ns,
                                  (long long)ms[n - 1].ts, (long long)(f[7] >= 0 ? SIMPLE_TS(f[7]) : final_ns),
                                  delays[0], delays[1], delays[2], (long long)(SIMPLE_TS(f[0]) - start_ns));
#undef SIMPLE_TS
        Py_XDECREF(ends[0]);
        Py_XDECREF(ends[1]);
        Py_XDECREF(window_caller);
        Py_XDECREF(window_target);
        for (int d = 0; d < 3; d++)
            Py_XDECREF(delays[d]);
        if (facts == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SetItem(result, k, facts);  /* (steals facts, releases the None) */
    }
done:
    free(buf);
    free(window);
    for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++)
        if (views[v]->obj != NULL)
            PyBuffer_Release(views[v]);
    return result;
}

/* ---- Call-ID groups of ``ladder calls`` (ladder/calls/bounded.py ``_Groups``) -------------------
 *
 * call_groups(call, ts_ns, frame, method, method_kinds, members, starts, first_call, kinds) -> groups
 *
 * The Call-ID groups of a capture's SipIndex columns, as ``_Groups``' pure-Python path makes them:
 * messages taken in ``_ordered``'s order (time, then frame; ties in capture order), a group per
 * Call-ID string id in first-met order, a group of its own for each message without one (id 0).
 * Writes ``members`` (every message number, group by group, each group in that order), ``starts``
 * (group g is members[starts[g]:starts[g + 1]]), ``first_call`` (each group's Call-ID id) and
 * ``kinds`` (``method_kinds[method id]`` folded over the group as ``kind_of_methods`` folds the
 * names: 1 if any is 1 (INVITE), else the first nonzero code, else 0); returns the group count.
 * The output buffers are Python's, sized for one group per message. Two walks over the messages,
 * holding beside the columns only a Call-ID id -> group table (and the order, when the times are
 * not in capture order): members are placed by counting, each group's start its write cursor. */

typedef struct { const int64_t *ts, *frame; } GroupOrder;
#define GROUP_NONE UINT32_MAX       /* a Call-ID id not met yet */
#define GROUP_MET (UINT32_C(1) << 31) /* of a Call-ID id's group: met again in the second walk */

static int group_before(const GroupOrder *o, uint32_t a, uint32_t b)
{
    if (o->ts[a] != o->ts[b])
        return o->ts[a] < o->ts[b];
    return o->frame[a] < o->frame[b];
}

/* Stable bottom-up merge sort of message numbers by (time, frame): ``sorted``'s order. */
static int group_sort(const GroupOrder *o, uint32_t *order, Py_ssize_t n)
{
    uint32_t *tmp = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
    if (tmp == NULL)
        return -1;
    uint32_t *src = order, *dst = tmp;
    for (Py_ssize_t width = 1; width < n; width *= 2) {
        for (Py_ssize_t lo = 0; lo < n; lo += 2 * width) {
            Py_ssize_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            Py_ssize_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = group_before(o, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        uint32_t *swap = src; src = dst; dst = swap;
    }
    if (src != order)
        memcpy(order, src, (size_t)n * sizeof(uint32_t));
    PyMem_Free(tmp);
    return 0;
}

static int group_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t item, Py_ssize_t count,
                        const char *name)
{
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len < item * count || (item > 1 && view->len % item)) {
        PyErr_Format(PyExc_ValueError, "call_groups: %s is too short", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *accel_call_groups(PyObject *module, PyObject *args)
{
    PyObject *objs[9];
    if (!PyArg_UnpackTuple(args, "call_groups", 9, 9, &objs[0], &objs[1], &objs[2], &objs[3], &objs[4],
                           &objs[5], &objs[6], &objs[7], &objs[8]))
        return NULL;
    static const char *names[9] = {"call", "ts_ns", "frame", "method", "method_kinds", "members", "starts",
                                   "first_call", "kinds"};
    Py_buffer v[9];
    int got = 0;
    PyObject *result = NULL;
    uint32_t *order = NULL, *of_call = NULL;
    if (PyObject_GetBuffer(objs[0], &v[0], PyBUF_SIMPLE) < 0)
        return NULL;
    got = 1;
    Py_ssize_t n = v[0].len / 4;
    /* item sizes: call/method/members/starts/first_call uint32, ts/frame int64, kinds bytes */
    static const Py_ssize_t items[9] = {4, 8, 8, 4, 1, 4, 4, 4, 1};
    static const int writable[9] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    for (; got < 9; got++) {
        Py_ssize_t count = got == 4 ? 0 : got == 6 ? n + 1 : n;
        if (group_buffer(objs[got], &v[got], writable[got], items[got], count, names[got]) < 0)
            goto done;
    }
    const uint32_t *call = v[0].buf, *method = v[3].buf;
    const uint8_t *method_kinds = v[4].buf;
    Py_ssize_t kinds_len = v[4].len;
    uint32_t *members = v[5].buf, *starts = v[6].buf, *first_call = v[7].buf;
    uint8_t *kinds = v[8].buf;
    GroupOrder o = {v[1].buf, v[2].buf};

    if (n >= (Py_ssize_t)GROUP_MET) {
        PyErr_SetString(PyExc_OverflowError, "call_groups: too many messages");
        goto done;
    }
    uint32_t max_call = 0;
    int sorted = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (call[i] > max_call)
            max_call = call[i];
        if (i && group_before(&o, (uint32_t)i, (uint32_t)(i - 1)))
            sorted = 0;
    }
    /* Only a Call-ID id -> group table, and the order when the times are not already in it:
     * a busy capture's columns are what memory holds, so no other column is made. */
    of_call = PyMem_Malloc(((size_t)max_call + 1) * sizeof(uint32_t));
    if (of_call == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if (!sorted) {
        order = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
        if (order == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            order[i] = (uint32_t)i;
        if (group_sort(&o, order, n) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (uint32_t c = 0; c <= max_call; c++)
        of_call[c] = GROUP_NONE;
    /* First walk: the groups in first-met order, each one's size in starts[g + 1], its kind. */
    uint32_t groups = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint32_t i = order ? order[k] : (uint32_t)k, cid = call[i];
        uint32_t g = cid ? of_call[cid] : GROUP_NONE;
        if (g == GROUP_NONE) {
            g = groups++;
            first_call[g] = cid;
            kinds[g] = 0;
            starts[g + 1] = 0;
            if (cid)
                of_call[cid] = g;
        }
        starts[g + 1]++;
        uint8_t code = method[i] < (uint64_t)kinds_len ? method_kinds[method[i]] : 0;
        if (code == 1 || (code && !kinds[g]))
            kinds[g] = code;
    }
    /* starts[g + 1] becomes group g's start, the place its next member goes: after the second
     * walk it is group g + 1's start. */
    starts[0] = 0;
    uint32_t at = 0;
    for (uint32_t g = 0; g < groups; g++) {
        uint32_t size = starts[g + 1];
        starts[g + 1] = at;
        at += size;
    }
    /* Second walk, in the same order, so groups start in the same order: a message without a
     * Call-ID, or the first of its Call-ID (marked in of_call), starts the next group. */
    uint32_t started = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        uint32_t i = order ? order[k] : (uint32_t)k, cid = call[i], g;
        if (!cid) {
            g = started++;
        } else if (of_call[cid] & GROUP_MET) {
            g = of_call[cid] & ~GROUP_MET;
        } else {
            g = of_call[cid];
            of_call[cid] |= GROUP_MET;
            started++;
        }
        members[starts[g + 1]++] = i;
    }
    result = PyLong_FromUnsignedLong(groups);
done:
    PyMem_Free(order);
    PyMem_Free(of_call);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&v[i]);
    return result;
}

/* ---- The indented JSON writer of ladder/textsafe.py (``_indented``), compiled. ----

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
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) /* (a legacy string of an old C API: made canonical first) */
        return -1;
#endif
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

/* crc32(data) -> zlib.crc32(data) as the MessageStore's column holds it (for the tests). */
static PyObject *accel_crc32(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    uint32_t c = crc32_of(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef accel_functions[] = {
    {"crc32", (PyCFunction)accel_crc32, METH_O,
     "crc32(data) -> zlib.crc32(data): the CRC the load keeps of each SIP message and the lane checks"},
    {"scan_sip", (PyCFunction)accel_scan_sip, METH_O,
     "scan_sip(data) -> decoders.sipscan.SipFields's fields as a tuple, or None: the compiled first pass"},
    {"simple_calls", (PyCFunction)accel_simple_calls, METH_VARARGS,
     "simple_calls(fd, columns, members, starts, first, wanted) -> per group None or the facts of its row "
     "(ladder.calls.simple_calls)"},
    {"set_constants", (PyCFunction)(void (*)(void))accel_set_constants, METH_VARARGS | METH_KEYWORDS,
     "set_constants(max_record, max_ts_ns, max_vlan_tags, timestamp_jump_ms, jitter_buffer_ms): the values "
     "Python owns, once before the first Accelerator"},
    {"call_groups", (PyCFunction)accel_call_groups, METH_VARARGS,
     "call_groups(call, ts_ns, frame, method, method_kinds, members, starts, first_call, kinds) -> the number "
     "of Call-ID groups: ladder.calls.bounded._Groups' grouping, compiled"},
    {"indented_json", (PyCFunction)accel_indented_json, METH_VARARGS,
     "indented_json(value, pad, ensure_ascii) -> textsafe._indented's text of value, or None: left to Python"},
    {NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT, "ladder._accel",
    "The compiled RTP fast path of the ingest loop (optional: ladder falls back to Python).", -1, accel_functions,
};

PyMODINIT_FUNC PyInit__accel(void)
{
    for (int i = 0; i < A_COUNT; i++) {
        attr[i] = PyUnicode_InternFromString(attr_names[i]);
        if (attr[i] == NULL)
            return NULL;
    }
    crc_init();
    char_init();
    if (PyType_Ready(&AcceleratorType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&accel_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddIntConstant(module, "MAX_IFACES", MAX_IFACES) < 0
        || PyModule_AddIntConstant(module, "DUPLICATE_WINDOW_NS", SIMPLE_DUPLICATE_WINDOW_NS) < 0
        || PyModule_AddIntConstant(module, "SIP_MARKS_SIZE", SIP_MARKS_SIZE) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&AcceleratorType);
    if (PyModule_AddObject(module, "Accelerator", (PyObject *)&AcceleratorType) < 0) {
        Py_DECREF(&AcceleratorType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
