"""A mutational fuzzer aimed at the C of ``ladder calls``' fast lane: ``_accel.simple_calls``
(reading messages back by offset, ``sip_scan``, ``plain_uri``/``plain_name_addr``, the
Request-URI and Reason-Phrase) and ``_accel.call_groups``.

``tests/fuzz_harness.py`` mutates whole files, so few of its mutants still hold a call the lane
takes. This one keeps the pcap framing valid and mutates the SIP payloads only, mostly in the
head (so that ``sip_scan`` still answers and the mutant reaches the URI and name-addr readers):
From/To/Request-URI/status line replaced by hostile values, CR/LF/NUL/high bytes inserted,
bytes flipped, long headers, many Vias, a huge or wrong Content-Length, truncation. Each mutant
capture is loaded once and its rows made with the lane on and off (``PCAPLADDER_NO_SIMPLE_CALLS``):
they must be equal, and nothing may raise but ``CaptureError``. Then the file is cut short and
overwritten under the loaded capture: the lane must fall back to the slow lane's error or rows,
never read past the end.

Under the sanitizers (docs/ARCHITECTURE.md, "C extension")::

    .venv/bin/python tests/fuzz_simple_calls.py --sanitize --minutes 10

builds ``_accel.c`` with ``-fsanitize=address,undefined`` as ``tests/system/test_sanitizers.py``
does and runs itself again in a Python that preloads the ASan runtime; any report stops the run.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from array import array
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.append(str(HERE))
sys.path.append(str(ROOT))  # after PYTHONPATH: --sanitize puts its own build first

# Values a hostile From/To/Request-URI may carry (each near a branch of plain_uri/plain_name_addr).
NASTY = [
    b"", b"<", b">", b"><", b"<>", b"<sip:>", b"<sip:@>", b"<sip:a@>", b"<sip:@b>", b"<sips:a@b>", b"sip:a@b",
    b"<sip:a@b:>", b"<sip:a@b:0>", b"<sip:a@b:65535>", b"<sip:a@b:65536>", b"<sip:a@b:999999>",
    b"<sip:a@b:12ab>", b"<sip:a@b;>", b"<sip:a@b;;>", b"<sip:a@b;=x>", b"<sip:a@b;x=>", b"<sip:a@b;x=y;=>",
    b"<sip:a@b>;", b"<sip:a@b>;=", b"<sip:a@b>;;tag=1", b"<sip:a@b>;tag", b"<sip:a@b>;tag=", b"<sip:a@b>;tag=1;tag=2",
    b'"" <sip:a@b>', b'"a\\" <sip:a@b>', b'"a <sip:a@b>', b'a" <sip:a@b>', b'"<" <sip:a@b>', b"a b c <sip:a@b>",
    b"a,b <sip:a@b>", b"<sip:a@b@c>", b"<sip:a:pw@b>", b"<sip:%41@b>", b"<sip:a@[::1]>", b"<sip:a@B.EXAMPLE>",
    b"<sip:+1-2_3.4!~*'@h-1.x>", b"<sip:a@b?x=y>", b"<tel:+123>", b"<SIP:a@b>", b"<sip:a@b", b"sip:a@b>",
    b"<sip:" + b"u" * 300 + b"@h>", b"<sip:u@" + b"h" * 600 + b">", b'"' + b"d" * 400 + b'" <sip:a@b>',
    b"<sip:a@b>;" + b"p" * 300, b"<sip:a@b>;tag=" + b"t" * 1000, b"<sip:a@b>" + b";x" * 200,
]
SPECIAL = b"\r\n\x00\x80\xff\x7f\t <>\";:=@,\\%[]?"


def _udp_sip(data: bytes, linktype: int) -> tuple[int, int] | None:
    """Where the UDP payload of an Ethernet (or raw) IPv4 frame lies, if it looks like SIP."""
    at = {1: 14, 101: 0, 228: 0}.get(linktype)
    if at is None or len(data) < at + 28:
        return None
    if linktype == 1:
        if data[12:14] == b"\x81\x00":
            at += 4
        elif data[12:14] != b"\x08\x00":
            return None
    if data[at] >> 4 != 4 or data[at + 9] != 17:
        return None
    ihl = (data[at] & 15) * 4
    total = struct.unpack_from("!H", data, at + 2)[0]
    udp_at = at + ihl
    end = min(len(data), at + total)
    if udp_at + 8 > end or struct.unpack_from("!H", data, at + 6)[0] & 0x3FFF:
        return None  # (a fragment)
    payload = data[udp_at + 8:end]
    if not (payload.startswith(b"SIP/2.0 ") or b" SIP/2.0\r\n" in payload[:300]):
        return None
    return udp_at + 8, end


def _reframe(data: bytes, span: tuple[int, int], payload: bytes) -> bytes:
    """The frame with its UDP payload replaced: IP and UDP lengths and the IP checksum fixed."""
    start, end = span
    udp_at = start - 8
    head = bytearray(data[:start])
    payload = payload[:65535 - 8 - 60]  # (an IPv4 datagram's limit)
    ip_at = next(i for i in (14, 18, 0) if i + 20 <= udp_at and head[i] >> 4 == 4 and i + (head[i] & 15) * 4 == udp_at)
    struct.pack_into("!H", head, ip_at + 2, udp_at - ip_at + 8 + len(payload))
    struct.pack_into("!H", head, ip_at + 10, 0)
    words = struct.unpack(f"!{(udp_at - ip_at) // 2}H", bytes(head[ip_at:udp_at]))
    total = sum(words)
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into("!H", head, ip_at + 10, ~total & 0xFFFF)
    struct.pack_into("!HH", head, udp_at + 4, 8 + len(payload), 0)
    return bytes(head) + payload


def read_pcap(data: bytes) -> tuple[bytes, int, list[list]] | None:
    """(global header, linktype, [[record header, frame]]) of a classic pcap, else None."""
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return None
    linktype = struct.unpack_from("<I", data, 20)[0]
    records, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            break
        records.append([data[pos:pos + 16], data[pos + 16:pos + 16 + caplen]])
        pos += 16 + caplen
    return data[:24], linktype, records


def write_records(header: bytes, records: list[list]) -> bytes:
    out = [header]
    for rec, frame in records:
        out.append(rec[:8] + struct.pack("<II", len(frame), len(frame)) + frame)
    return b"".join(out)


def mutate_message(msg: bytes, rng: random.Random) -> bytes:
    """One hostile change to a SIP message, mostly keeping its head and body apart."""
    head, sep, body = msg.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    choice = rng.randrange(14)
    if choice <= 3:  # a From/To value, or the Request-URI, replaced
        keys = [i for i, line in enumerate(lines) if line[:3].lower() in (b"fro", b"to:", b"f: ", b"t: ")]
        value = rng.choice(NASTY)
        if rng.random() < 0.3:
            value = value + b";tag=" + str(rng.randrange(3)).encode()
        if keys and choice < 3:
            i = rng.choice(keys)
            name, _, old = lines[i].partition(b":")
            kept = old[old.find(b";tag="):] if b";tag=" in old and rng.random() < 0.6 else b""
            lines[i] = name + b": " + value + kept  # (the tag kept: the call stays one the lane weighs)
        elif b" SIP/2.0" in lines[0]:
            parts = lines[0].split(b" ")
            lines[0] = parts[0] + b" " + value.strip(b"<>").replace(b" ", b"") + b" " + parts[-1]
    elif choice == 4:  # a special byte in a head line
        i = rng.randrange(len(lines))
        k = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:k] + bytes([rng.choice(SPECIAL)]) * rng.choice((1, 1, 2, 40)) + lines[i][k:]
    elif choice == 5:  # the status line or reason
        if lines[0].startswith(b"SIP/2.0"):
            lines[0] = rng.choice((b"SIP/2.0 486", b"SIP/2.0 486 ", b"SIP/2.0 4861 X", b"SIP/2.0 099 X",
                                   b"SIP/2.0 603 " + b"r" * 2000, b"SIP/2.0 500 \x80\xff", b"SIP/2.0 404 a\tb",
                                   b"SIP/2.0 486Busy", b"SIP/2.0 ", b"SIP/2.0"))
        else:
            lines[0] = lines[0].replace(b" SIP/2.0", rng.choice((b"  SIP/2.0", b" SIP/2.0 ", b"SIP/2.0", b" sip/2.0")))
    elif choice == 6:  # long header, many Vias
        via = next((line for line in lines if line[:4].lower() in (b"via:", b"v: s")), b"Via: SIP/2.0/UDP h;branch=z9hG4bKx")
        extra = [b"X-Long: " + b"x" * rng.choice((300, 70000))] if rng.random() < 0.5 else [via] * rng.choice((2, 50))
        lines[1:1] = extra
    elif choice == 7:  # Content-Length: huge, negative, wrong
        lines = [line for line in lines if line[:15].lower() != b"content-length:" and line[:2].lower() != b"l:"]
        lines.append(b"Content-Length: " + rng.choice((b"999999999", b"4294967296", b"-1", b"1" * 30, b"",
                                                       str(len(body) + rng.choice((-1, 1))).encode())))
    elif choice == 8:  # a header line dropped or duplicated
        i = rng.randrange(1, len(lines)) if len(lines) > 1 else 0
        if rng.random() < 0.5:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    elif choice == 9:  # a tag or branch changed
        i = rng.randrange(len(lines))
        for word in (b"tag=", b"branch="):
            if word in lines[i]:
                lines[i] = lines[i].replace(word, word + rng.choice((b"", b"x", b";", b'"', b" ")), 1)
    elif choice == 10:  # truncation anywhere
        return msg[:rng.randrange(len(msg) + 1)]
    elif choice == 11:  # byte flips anywhere
        out = bytearray(msg)
        for _ in range(rng.randrange(1, 4)):
            if out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    elif choice == 12:  # the Call-ID emptied or changed
        for i, line in enumerate(lines):
            if line[:8].lower() == b"call-id:" or line[:2].lower() == b"i:":
                lines[i] = line.split(b":", 1)[0] + b": " + rng.choice((b"", b"x", b" ", b"a" * 500))
    else:  # CR LF NUL or high bytes in the body, or the head/body boundary moved
        k = rng.randrange(len(body) + 1)
        body = body[:k] + rng.choice((b"\r", b"\n", b"\x00", b"\xff", b"\r\n\r\n")) + body[k:]
        if rng.random() < 0.3:
            sep = rng.choice((b"\r\n", b"\r\n\r", b"\n\n"))
    return b"\r\n".join(lines) + sep + body


def over_tcp(records: list[list], linktype: int, rng: random.Random) -> list[list]:
    """The records with each UDP SIP payload of a plain Ethernet/IPv4 frame sent as a TCP segment
    instead (the lane reads those back from the spill file, of Python's endpoints): each way's
    sequence numbers running on, now and then a message split over two segments (the second
    captured first, or a segment sent again), so that reassembly gives the lane odd times."""
    out: list[list] = []
    sequence: dict[bytes, int] = {}
    for rec, frame in records:
        span = _udp_sip(frame, linktype)
        if span is None or linktype != 1 or frame[12:14] != b"\x08\x00" or frame[14] != 0x45:
            out.append([rec, frame])
            continue
        ends = frame[26:34] + frame[34:38]  # addresses and ports: the connection, one way
        payload = frame[span[0]:span[1]]
        seq = sequence.get(ends, 1)
        sequence[ends] = seq + len(payload)

        def segment(data: bytes, at: int) -> bytes:
            tcp = frame[34:38] + struct.pack("!IIBBHHH", at & 0xFFFFFFFF, 0, 5 << 4, 0x18, 65535, 0, 0) + data
            head = bytearray(frame[:34])
            struct.pack_into("!H", head, 16, 20 + len(tcp))
            head[23] = 6
            struct.pack_into("!H", head, 24, 0)
            total = sum(struct.unpack("!10H", bytes(head[14:34])))
            total = (total & 0xFFFF) + (total >> 16)
            struct.pack_into("!H", head, 24, ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)
            return bytes(head) + tcp

        pieces = [(payload, seq)]
        if len(payload) > 1 and rng.random() < 0.15:
            cut = rng.randrange(1, len(payload))
            pieces = [(payload[:cut], seq), (payload[cut:], seq + cut)]
            if rng.random() < 0.5:
                pieces.reverse()
        if rng.random() < 0.05:
            pieces.append(pieces[-1])
        out.extend([rec, segment(data, at)] for data, at in pieces)
    return out


def mutant(seed: tuple[bytes, int, list[list]], rng: random.Random) -> bytes:
    """The seed with a few of its SIP payloads mutated; also a message moved or dropped now and then."""
    header, linktype, records = seed
    records = [list(r) for r in records]
    sip = [i for i, (_, frame) in enumerate(records) if _udp_sip(frame, linktype)]
    if not sip:
        return write_records(header, records)
    for _ in range(rng.randrange(1, max(2, len(sip) // 8))):
        i = rng.choice(sip)
        span = _udp_sip(records[i][1], linktype)
        if span is None:
            continue
        payload = records[i][1][span[0]:span[1]]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            payload = mutate_message(payload, rng)
        records[i][1] = _reframe(records[i][1], span, payload)
    if rng.random() < 0.1:  # a message twice
        i = rng.choice(sip)
        records.insert(i, list(records[i]))
    if rng.random() < 0.2:  # times out of capture order, equal, or extreme (call_groups' sort)
        for _ in range(rng.randrange(1, 20)):
            i, k = rng.randrange(len(records)), rng.randrange(len(records))
            rec = records[i][0]
            seconds = rng.choice((rec[:4], records[k][0][:4], b"\0\0\0\0", b"\xff\xff\xff\xff"))
            records[i][0] = seconds + rng.choice((rec[4:8], records[k][0][4:8])) + rec[8:]
    if rng.random() < 0.3:  # over TCP (issue 13: the lane reads the spill file)
        records = over_tcp(records, linktype, rng)
    return write_records(header, records)


def call_groups_agree(rng: random.Random) -> None:
    """``_accel.call_groups`` equals ``_python_groups`` on random columns: repeated and extreme
    times (the sort and its ties), Call-ID 0 (a group each), sparse ids, unknown method ids."""
    from ladder.calls import bounded

    n = rng.choice((0, 1, 2, 7, 100, 1000))

    class Index(argparse.Namespace):
        def __len__(self) -> int:
            return n

    times = [rng.choice((0, 1, -1, 2**63 - 1, -(2**63), rng.randrange(-5, 5))) for _ in range(n)]
    columns = Index(
        call=array("I", [rng.choice((0, 1, 2, rng.randrange(200))) for _ in range(n)]),
        ts_ns=array("q", times), frame=array("q", [rng.randrange(-3, n + 3) for _ in range(n)]),
        method=array("I", [rng.randrange(6) for _ in range(n)]))
    kinds = bytearray(rng.randrange(3) for _ in range(6))
    if bounded._c_groups(columns, kinds) != bounded._python_groups(columns, kinds):
        raise AssertionError("call_groups differs from _python_groups")


def leak_check(path: str, rounds: int) -> int:
    """RSS growth (KB) over ``rounds`` calls of simple_calls and call_groups on one capture's
    columns: a reference or a buffer leaked per call shows as growth proportional to rounds."""
    import resource

    from ladder.calls import bounded, simple_calls

    asked = []
    c_simple_calls = simple_calls._c_simple_calls

    def keep(*args):
        asked.append(args)
        return c_simple_calls(*args)

    simple_calls._c_simple_calls = keep
    rows_both_ways(path)
    simple_calls._c_simple_calls = c_simple_calls
    from ladder.capture.loader import load_capture

    index = load_capture(path, media=False, messages=False, locate=True).sip_index
    kinds = bytearray(b"\1\2\0\3" * 64)
    fd = os.open(path, os.O_RDONLY)
    try:
        for r in range(rounds):
            if r == rounds // 10:
                base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for args in asked:
                c_simple_calls(fd, -1, *args[2:])  # (the spill file is gone with its capture)
            bounded._c_groups(index, kinds)
    finally:
        os.close(fd)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base


def rows_both_ways(path: str) -> int:
    """Rows with the lane on equal rows with it off; the number of rows."""
    from ladder.calls.bounded import iter_call_rows
    from ladder.capture.loader import load_capture
    from ladder.cli.calls import _numbered_dict, call_dict
    from ladder.errors import CaptureError

    try:
        capture = load_capture(path, media=False, messages=False, locate=True)
    except CaptureError:
        return 0
    os.environ.pop("PCAPLADDER_NO_SIMPLE_CALLS", None)
    fast = list(iter_call_rows(capture, call_dict, _numbered_dict))
    os.environ["PCAPLADDER_NO_SIMPLE_CALLS"] = "1"
    slow = list(iter_call_rows(capture, call_dict, _numbered_dict))
    os.environ.pop("PCAPLADDER_NO_SIMPLE_CALLS")
    if fast != slow:
        raise AssertionError(f"{path}: rows differ with the lane on and off")
    return len(fast)


def changed_under(path: str, data: bytes, rng: random.Random) -> None:
    """Load, then cut the file short or overwrite it, then make rows: the lane must fall back."""
    from ladder.calls.bounded import iter_call_rows
    from ladder.capture.loader import load_capture
    from ladder.cli.calls import _numbered_dict, call_dict
    from ladder.errors import CaptureError

    try:
        capture = load_capture(path, media=False, messages=False, locate=True)
    except CaptureError:
        return
    with open(path, "r+b") as f:
        how = rng.randrange(3)
        if how == 0:
            f.truncate(rng.randrange(len(data) + 1))
        elif how == 1:
            f.truncate(0)
        else:
            k = rng.randrange(len(data))
            f.seek(k)
            f.write(bytes(rng.randrange(256) for _ in range(min(64, len(data) - k))))
    try:
        list(iter_call_rows(capture, call_dict, _numbered_dict))
    except (CaptureError, OSError):
        pass  # the slow lane's error when it reads a message that is gone (as before the lane)


FAILURES = (b"SIP/2.0 486 Busy Here", b"SIP/2.0 603", b"SIP/2.0 404 ", b"SIP/2.0 500 Server  Error ",
            b"SIP/2.0 302 " + b"m" * 3000, b"SIP/2.0 699 \tx")


def failed_calls(seed: tuple[bytes, int, list[list]], rng: random.Random) -> tuple[bytes, int, list[list]]:
    """The seed with half its calls failed (the INVITE's 200 a failure, no BYE), so that the lane
    reads Reason-Phrases: the 200s of make_sip_capture are the only INVITE finals."""
    header, linktype, records = seed
    out = []
    for rec, frame in records:
        span = _udp_sip(frame, linktype)
        payload = frame[span[0]:span[1]] if span else b""
        if span is None or zlib.crc32(payload[payload.find(b"Call-ID:"):][:60]) % 2:
            out.append([rec, frame])
        elif b"BYE\r\n" not in payload[:payload.find(b"\r\n\r\n")]:  # (its CSeq: the BYE and its 200 go)
            if payload.startswith(b"SIP/2.0 200") and b" INVITE\r\n" in payload:
                payload = rng.choice(FAILURES) + payload[payload.find(b"\r\n"):]
            out.append([rec, _reframe(frame, span, payload)])
    return header, linktype, out


def seeds(calls: int) -> list[tuple[bytes, int, list[list]]]:
    paths = sorted((ROOT / "samples").glob("*.pcap")) + sorted(Path(ROOT.parent / "shared" / "captures").rglob("*.pcap"))
    found = []
    for p in paths:
        parsed = read_pcap(p.read_bytes())
        if parsed and any(_udp_sip(frame, parsed[1]) for _, frame in parsed[2]):
            found.append(parsed)
    sys.path.insert(0, str(ROOT / "bench"))
    with tempfile.TemporaryDirectory() as tmp:
        made = []
        for mix in ([], ["--mix"]):  # (--mix: CANCEL and PRACK shapes, the lane takes them too)
            out = Path(tmp) / "sip.pcap"
            subprocess.run([sys.executable, str(ROOT / "bench" / "make_sip_capture.py"), str(out), "--calls",
                            str(calls), "--concurrent", "20", *mix], check=True, capture_output=True)
            made.append(read_pcap(out.read_bytes()))
    generated, mixed = made
    assert generated is not None and mixed is not None
    return found + [failed_calls(generated, random.Random(calls)), mixed, generated]


FINDINGS: dict[str, int] = {}  # exception kind -> inputs that raised it
TAKEN = [0, 0]  # groups C was asked about, groups it summed up


def _counting() -> None:
    """Count what simple_calls answers, to show the mutants reach it."""
    from ladder.calls import simple_calls

    c_simple_calls = simple_calls._c_simple_calls
    if c_simple_calls is None:
        raise SystemExit("fuzz-simple-calls: the compiled extension is not built")

    def counted(*args):
        facts = c_simple_calls(*args)
        TAKEN[0] += sum(1 for w in args[-1] if w)
        TAKEN[1] += sum(1 for f in facts if f is not None)
        return facts

    simple_calls._c_simple_calls = counted


def fuzz(seconds: float, runs: int, seed: int, calls: int) -> tuple[int, int]:
    _counting()
    rng = random.Random(seed)
    pool = seeds(calls)
    done = rows = 0
    findings: dict[str, int] = FINDINGS
    deadline = time.process_time() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mutant.pcap")
        while done < runs and time.process_time() < deadline:
            data = mutant(rng.choice(pool[-3:] if rng.random() < 0.6 else pool), rng)  # (mostly the many-call seeds)
            Path(path).write_bytes(data)
            try:
                call_groups_agree(rng)
                rows += rows_both_ways(path)
                if done % 4 == 0:
                    changed_under(path, data, rng)
            except Exception as error:  # (a sanitizer report ends the process: it is never caught)
                where = traceback.extract_tb(error.__traceback__)[-1]
                kind = f"{type(error).__name__} at {Path(where.filename).name}:{where.lineno}"
                if kind not in findings:
                    keep = os.path.join(tempfile.gettempdir(), f"fuzz-simple-calls-{seed}-{done}.pcap")
                    Path(keep).write_bytes(data)
                    print(f"fuzz-simple-calls: input {done}: {kind}: {error} (kept as {keep})", file=sys.stderr)
                findings[kind] = findings.get(kind, 0) + 1
            done += 1
            if done % 100 == 0:  # (progress, for a run stopped from outside)
                print(f"fuzz-simple-calls: {done} inputs, {rows} rows, {TAKEN[1]} groups summed up in C, "
                      f"{sum(findings.values())} finding(s)", file=sys.stderr, flush=True)
    return done, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU budget")
    parser.add_argument("--runs", type=int, default=10**9)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--calls", type=int, default=200, help="calls of the make_sip_capture seed")
    parser.add_argument("--sanitize", action="store_true", help="build _accel.c with ASan/UBSan and run under it")
    args = parser.parse_args(argv)
    if args.sanitize:
        sys.path.insert(0, str(HERE / "system"))
        from test_sanitizers import build_sanitized

        with tempfile.TemporaryDirectory(prefix="ladder-asan-") as build:
            target = build_sanitized(Path(build))
            runtime = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
            env = dict(os.environ, PYTHONPATH=build, LD_PRELOAD=runtime, ASAN_OPTIONS="detect_leaks=0:halt_on_error=1",
                       UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
            env.pop("PCAPLADDER_PURE_PYTHON", None)
            print(f"fuzz-simple-calls: accelerator {target}", file=sys.stderr, flush=True)
            rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--sanitize"]
            return subprocess.run([sys.executable, __file__, *rest], env=env).returncode
    import ladder._accel

    print(f"fuzz-simple-calls: accelerator {ladder._accel.__file__}", file=sys.stderr)
    done, rows = fuzz(args.minutes * 60, args.runs, args.seed, args.calls)
    print(f"fuzz-simple-calls: {done} inputs, {rows} rows compared, {TAKEN[0]} groups asked of simple_calls, "
          f"{TAKEN[1]} summed up in C, {sum(FINDINGS.values())} finding(s)", file=sys.stderr)
    for kind, count in FINDINGS.items():
        print(f"fuzz-simple-calls: {count} x {kind}", file=sys.stderr)
    return 1 if FINDINGS else 0


if __name__ == "__main__":
    sys.exit(main())
