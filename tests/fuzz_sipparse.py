"""A mutational fuzzer aimed at the compiled parse of a plain SIP message
(``decoders/_sipparse.c``, ``parse_plain``).

Seeds: the plain messages of the samples, the RFC 4475 torture messages and a few crafted ones
(an INVITE and a 200 with SDP of two media, the shapes of ``bench/make_sip_capture.py``). Each
mutant is edited in head or body (bytes deleted, flipped, or pieces inserted that take the parse
to its edges: quotes, brackets, params, an SDP line, a tab, a high byte), and its Content-Length
set to the body again half the time so that C may still answer. Whenever C answers, its
``SipMessage`` must equal ``parse_sip_python``'s slot for slot (``shape``); nothing may raise but
``DecodeError`` (from Python, for what C left to it). ``tests/unit/decoders/test_sipparse.py``
runs the same comparison under hypothesis.

Under the sanitizers::

    .venv/bin/python tests/fuzz_sipparse.py --sanitize --minutes 5

builds ``_sipparse.c`` with ``-fsanitize=address,undefined`` (``tests/system/test_sanitizers.py``'s
``build_sanitized``) and runs itself again in a Python that preloads the ASan runtime.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.append(str(HERE))
sys.path.append(str(ROOT))

PIECES = [b";tag=x", b";branch=z9hG4bK", b"tag", b" ;", b"; tag = a", b'"a" ', b"\r\nVia: SIP/2.0/UDP h",
          b"\r\n ", b"\r\nl: 0", b"\r\ni: x", b":5060", b":0", b":65536", b"SIP/2.0 ", b" SIP/2.0",
          b"\r\nCSeq: 1 A", b"\r\nc:", b"\t", b"\x80", b"\x00", b"<", b">", b",", b"\\", b"=", b";", b"@", b"[",
          b"]", b"?", b"*", b"\r\nm=audio 0 RTP/AVP 0", b"\r\na=rtpmap:0 PCMU", b"/8000", b"\r\nc=IN IP4 x",
          b"\r\na=sendonly", b"\r\n", b"expires=", b"sips:", b"tel:", b"rport=", b" GMT", b"\r\nDate: x",
          b"99999999999999999999", b"\r\nContact: *", b"\r\nExpires: 4294967296", b"/", b"  "]

SDP = (b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
       b"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
       b"a=fmtp:101 0-16\r\na=rtcp:4001\r\na=sendonly\r\nm=video 0/2 RTP/AVP 31\r\nc=IN IP6 ::1/3\r\n"
       b"a=rtpmap:31 H261/90000/1\r\na=rtcp-mux\r\n")


def shape(value: Any) -> Any:
    """Everything a value holds, in order (a dict's order too), with each leaf's type."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, tuple((name, shape(getattr(value, name))) for name in type(value).__slots__))
    if isinstance(value, dict):
        return ("dict", tuple((shape(k), shape(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(shape(item) for item in value))
    return (type(value).__name__, value)


def crafted() -> list[bytes]:
    from tests.captures_crafted import sip_invite, sip_response

    invite = sip_invite()
    with_sdp = invite.replace(b"Content-Length: 0\r\n", b"Content-Type: application/sdp\r\nContent-Length: %d\r\n"
                              % len(SDP)) + SDP
    answer = sip_response(200).replace(b"Content-Length: 0\r\n", b"Contact: \"B\" <sip:b@[2001:db8::2]:5062>;expires=60"
                                       b"\r\nContent-Type: Application/SDP ; x=y\r\nContent-Length: %d\r\n" % len(SDP)) + SDP
    return [invite, with_sdp, sip_response(100), sip_response(180), answer]


def seeds() -> list[bytes]:
    """The plain sample messages (those C answers for), the RFC 4475 messages, the crafted ones."""
    import decoders.sip as sip
    from ladder.capture.loader import load_capture
    from ladder.errors import CaptureError
    from rfc_messages import rfc4475_archive

    out = crafted()
    for path in sorted((ROOT / "samples").glob("*.pcap")):
        try:
            capture = load_capture(str(path), media=False, engine="dpkt")
        except CaptureError:
            continue
        out += [m.raw for m in capture.sip_messages if sip._parse_plain and sip._parse_plain(m.raw, None, None, (), 0)]
    reference = ROOT.parent / "shared" / "reference" / "rfc4475.txt"
    if reference.exists():
        out += list(rfc4475_archive(reference).values())
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not buf:
            break
        pos = rng.randrange(len(buf))
        op = rng.randrange(3)
        if op == 0:
            del buf[pos: pos + rng.randint(1, 3)]
        elif op == 1:
            buf[pos:pos] = rng.choice(PIECES)
        else:
            buf[pos] = rng.choice(b" \t:;<>\"=,/0aZ-.~/\r\n")
    out = bytes(buf)
    end = out.find(b"\r\n\r\n")
    if rng.random() < 0.5 and end >= 0:  # the Content-Length fitted to the body again
        out = re.sub(rb"(\r\nContent-Length: *)[0-9]+", rb"\g<1>%d" % (len(out) - end - 4), out[:end]) + out[end:]
    return out


def agrees(data: bytes) -> bool:
    """True when C answered for ``data``; raises AssertionError when it differs from Python."""
    import decoders.sip as sip
    from decoders.errors import DecodeError

    assert sip._parse_plain is not None
    fast = sip._parse_plain(data, None, None, (), 0)
    if fast is None:
        try:
            sip.parse_sip_python(data)
        except DecodeError:
            pass
        return False
    slow = sip.parse_sip_python(data)
    if shape(fast) != shape(slow):
        raise AssertionError(f"C and Python differ on {data[:300]!r}")
    if fast.problems or (fast.sdp is not None and fast.sdp.problems):
        raise AssertionError(f"C answered for a message with problems: {data[:300]!r}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU budget")
    parser.add_argument("--runs", type=int, default=10**9)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--sanitize", action="store_true", help="build _sipparse.c with ASan/UBSan and run under it")
    args = parser.parse_args(argv)
    if args.sanitize:
        sys.path.insert(0, str(HERE / "system"))
        from test_sanitizers import build_sanitized

        with tempfile.TemporaryDirectory(prefix="ladder-asan-") as build:
            build_sanitized(Path(build))
            runtime = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
            env = dict(os.environ, PYTHONPATH=build, LD_PRELOAD=runtime, ASAN_OPTIONS="detect_leaks=0:halt_on_error=1",
                       UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
            env.pop("PCAPLADDER_PURE_PYTHON", None)
            rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--sanitize"]
            return subprocess.run([sys.executable, __file__, *rest], env=env).returncode
    import decoders._sipparse
    import decoders.sip as sip

    print(f"fuzz-sipparse: parser {decoders._sipparse.__file__}", file=sys.stderr, flush=True)
    if sip._parse_plain is None:
        print("fuzz-sipparse: the compiled parse is off (PCAPLADDER_PURE_PYTHON?)", file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    pool = seeds()
    done = answered = findings = 0
    deadline = time.process_time() + args.minutes * 60
    for data in pool:  # every seed as it is, then mutants
        answered += agrees(data)
        done += 1
    while done < args.runs and time.process_time() < deadline:
        data = mutate(rng.choice(pool), rng)
        try:
            answered += agrees(data)
        except AssertionError as error:
            findings += 1
            keep = Path(tempfile.gettempdir()) / f"fuzz-sipparse-{args.seed}-{done}.sip"
            keep.write_bytes(data)
            print(f"fuzz-sipparse: input {done}: {error} (kept as {keep})", file=sys.stderr, flush=True)
        done += 1
    print(f"fuzz-sipparse: {done} inputs, {answered} answered by C and compared, {findings} finding(s)",
          file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
