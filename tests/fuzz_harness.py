"""A mutational fuzzer over seed captures, through the whole command line, in both paths.

``check_input(data)`` writes ``data`` to a file and runs ``stats``, ``calls --json``, ``show``,
``check`` and ``streams --json`` on it, once with the compiled accelerator and once in pure
Python (``PCAPLADDER_PURE_PYTHON=1``). It raises ``Finding`` when:

* a command raised anything (``ladder.cli.dispatch.main`` turns every documented error into exit code 2
  and one ``ladder: error:`` line; anything else is a traceback, so a bug), or printed
  "out of memory";
* the two paths differ in exit code, stdout or stderr;
* an output carries a byte a terminal would act on (C0 but newline, DEL, C1, bidi, U+2028/9);
* one input took more than ``MAX_SECONDS`` of CPU (a hang or a superlinear path; CPU, not wall
  time, so that a loaded machine makes no false finding).

Memory is bounded from outside: the long run (``main``) sets RLIMIT_AS, so a runaway input
ends in ``MemoryError``, which ``main`` reports as "out of memory": a finding.

``mutate(data, rng, seeds)`` applies 1-8 of: bit flips, interesting bytes and 32-bit words
(0, 0x7f, 0x80, 0xff, 2^31, 2^32-1, lengths off by one), block deletion, duplication and
insertion, truncation, and splicing with another seed.

Long run (docs/SECURITY.md)::

    .venv/bin/python tests/fuzz_harness.py --minutes 30 --out /tmp/fuzz-findings

Each finding is saved as ``<out>/<sha1>.pcap`` with the reason in ``<sha1>.txt``; a real one
goes to ``tests/repro/`` with a regression test.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import hashlib
import io
import os
import random
import re
import signal
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COMMANDS = (["stats"], ["calls", "--json"], ["show"], ["check"], ["streams", "--json"])
MAX_SECONDS = 30
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x1B, 0x9B)
INTERESTING_WORDS = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 65535, 262144, 262145)


class Finding(AssertionError):
    """An input that broke one of the harness's properties."""


def seed_paths(extra: list[Path] = ()) -> list[Path]:
    """The corpus: the samples, the regression corpus, and any extra files."""
    paths = sorted((ROOT / "samples").glob("*.pcap")) + sorted((HERE / "repro").glob("*.pcap*"))
    return paths + list(extra)


def built_seeds() -> list[bytes]:
    """Seeds for paths the samples do not take: SIP the compiled first pass takes (an SDP it
    keeps for later, 802.1Q in pcapng), pcapng with nanosecond RTP (the compiled pcapng scan),
    big-endian pcapng, IPv4 fragments, SIP over TCP split across segments, Linux cooked capture,
    gzip."""
    sys.path.insert(0, str(HERE))
    from captures_crafted import (
        ethernet, ipv4, ipv4_fragments, pcap_bytes, pcapng_bytes, rtp, sip_invite, sip_response, sll, tcp, udp,
    )

    t0 = 1_700_000_000 * 10**9
    stream = [ethernet(ipv4(udp(rtp(i, 160 * i, 0xABC), 40000, 40002))) for i in range(40)]
    invite = sip_invite(body=b"v=0\r\nm=audio 40002 RTP/AVP 0\r\n")
    fragments = ipv4_fragments(udp(invite), 64, ident=9)
    half = len(invite) // 2
    segments = [tcp(invite[:half], 5060, 5060, 1000), tcp(invite[half:], 5060, 5060, 1000 + half)]
    rtp_pcap = pcap_bytes([(t0 + i * 20_000_000, f) for i, f in enumerate(stream)])
    # The compiled SIP first pass (``stats``): an SDP it keeps for the RTP table, then the
    # stream it announces; and plain SIP over 802.1Q in pcapng.
    offer = sip_invite(body=b"v=0\r\nc=IN IP4 192.0.2.2\r\nm=audio 40002 RTP/AVP 0\r\n").replace(
        b"Contact:", b"Content-Type: application/sdp\r\nContact:")
    announced = [ethernet(ipv4(udp(offer))), ethernet(ipv4(udp(sip_response(180))))] + stream
    return [
        pcap_bytes([(t0 + i * 20_000_000, f) for i, f in enumerate(announced)]),
        pcapng_bytes([(1, 9)], [(0, t0 + i * 1000, ethernet(ipv4(udp(m)), vlans=((0x8100, 7),)))
                                for i, m in enumerate((offer, sip_response(100), sip_response(200)))]),
        pcapng_bytes([(1, 9), (113, None)], [(0, t0 + i * 20_000_000, f) for i, f in enumerate(stream)]
                     + [(1, t0 + 10**9, sll(ipv4(udp(invite))))]),
        pcapng_bytes([(1, None)], [(0, t0 + i * 20_000_000, f) for i, f in enumerate(stream)], order=">"),
        gzip.compress(rtp_pcap),
        pcap_bytes([(t0 + i * 1000, ethernet(f)) for i, f in enumerate(fragments)]),
        pcap_bytes([(t0 + i * 1000, ethernet(ipv4(s, proto=6))) for i, s in enumerate(segments)]),
        pcap_bytes([(t0 + i * 20_000_000, f) for i, f in enumerate(stream)], nanoseconds=True),
    ]


def load_seeds(extra: list[Path] = ()) -> list[bytes]:
    return [path.read_bytes() for path in seed_paths(extra)] + built_seeds()


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not buf:
            buf = bytearray(rng.choice(seeds))
        op = rng.randrange(9)
        pos = rng.randrange(len(buf))
        if op == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos] = rng.choice(INTERESTING_BYTES)
        elif op == 2 and pos + 4 <= len(buf):
            word = rng.choice(INTERESTING_WORDS)
            if rng.random() < 0.3:  # near the value already there: lengths off by a little
                word = (struct.unpack_from("<I", buf, pos)[0] + rng.randint(-4, 4)) & 0xFFFFFFFF
            struct.pack_into(rng.choice("<>") + "I", buf, pos, word)
        elif op == 3:
            del buf[pos : pos + rng.randint(1, 64)]
        elif op == 4:
            chunk = buf[pos : pos + rng.randint(1, 256)]
            buf[pos:pos] = chunk * rng.randint(1, 4)
        elif op == 5:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif op == 6:
            del buf[max(24, pos):]
        elif op == 7:
            other = rng.choice(seeds)
            start = rng.randrange(len(other))
            buf[pos:] = other[start : start + rng.randint(16, 4096)]
        else:
            buf[pos] = rng.randrange(256)
    return bytes(buf)


def _run(argv: list[str], pure: bool) -> tuple[int, str, str]:
    from ladder.cli.dispatch import main

    if pure:
        os.environ["PCAPLADDER_PURE_PYTHON"] = "1"
    else:
        os.environ.pop("PCAPLADDER_PURE_PYTHON", None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - every escape is the finding
            raise Finding(f"{' '.join(argv[:-1])}: {type(exc).__name__}: {exc}") from exc
        finally:
            # ``main`` freezes the heap for the command's life; here the process goes on, and
            # each later load would pay for counting everything frozen (gc.get_freeze_count).
            gc.unfreeze()
    return code, out.getvalue(), err.getvalue()


def _timeout(signum, frame):
    raise TimeoutError(f"one input took more than {MAX_SECONDS} s of CPU")


def check_input(data: bytes, workdir: str | None = None) -> None:
    """Run every command on ``data`` in both paths; ``Finding`` on the first broken property."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = os.path.join(tmp, "input.pcap")
        with open(path, "wb") as handle:
            handle.write(data)
        previous = signal.signal(signal.SIGPROF, _timeout)
        signal.setitimer(signal.ITIMER_PROF, MAX_SECONDS)
        saved = os.environ.get("PCAPLADDER_PURE_PYTHON")
        try:
            for command in COMMANDS:
                argv = command + [path]
                compiled = _run(argv, pure=False)
                pure = _run(argv, pure=True)
                if compiled != pure:
                    raise Finding(f"{' '.join(command)}: the compiled and the pure-Python path differ")
                code, out, err = compiled
                if code not in (0, 1, 2):
                    raise Finding(f"{' '.join(command)}: exit code {code}")
                if "out of memory" in err:
                    raise Finding(f"{' '.join(command)}: out of memory")
                for name, text in (("stdout", out), ("stderr", err)):
                    bad = UNSAFE.search(text)
                    if bad:
                        raise Finding(f"{' '.join(command)}: {name} carries {bad.group()!r}")
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
            if saved is None:
                os.environ.pop("PCAPLADDER_PURE_PYTHON", None)
            else:
                os.environ["PCAPLADDER_PURE_PYTHON"] = saved


def fuzz(seconds: float, runs: int, seed: int, out: Path | None, extra: list[Path] = (),
         replay_seeds: bool = True) -> list[tuple[str, bytes]]:
    """Replay every seed, then mutate them until ``seconds`` or ``runs`` run out; the findings."""
    seeds = load_seeds(extra)
    rng = random.Random(seed)
    findings: list[tuple[str, bytes]] = []
    replay = list(seeds) if replay_seeds else []
    deadline = time.monotonic() + seconds
    done = 0
    while done < len(replay) or (done < runs and time.monotonic() < deadline):
        data = replay[done] if done < len(replay) else mutate(rng.choice(seeds), rng, seeds)
        done += 1
        try:
            check_input(data)
        except (Finding, TimeoutError) as exc:
            findings.append((str(exc), data))
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(data).hexdigest()
                (out / f"{name}.pcap").write_bytes(data)
                (out / f"{name}.txt").write_text(f"{exc}\n")
            print(f"finding: {exc}", file=sys.stderr)
    print(f"fuzz: {done} inputs, {len(findings)} finding(s)", file=sys.stderr)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    parser.add_argument("--runs", type=int, default=sys.maxsize, help="stop after this many inputs")
    parser.add_argument("--seed", type=int, default=int(time.time()), help="random seed (printed)")
    parser.add_argument("--out", type=Path, help="where to save findings")
    parser.add_argument("--memory-mb", type=int, default=3072, help="address-space cap (0: none)")
    parser.add_argument("extra", nargs="*", type=Path, help="more seed captures")
    args = parser.parse_args(argv)
    if args.memory_mb:
        import resource

        cap = args.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.path.append(str(ROOT))  # after PYTHONPATH: the sanitizer test puts its own build first
    import ladder.media.streams

    accel = sys.modules.get("ladder._accel")
    print(f"fuzz: seed {args.seed}; accelerator {accel.__file__ if accel else 'not built'}", file=sys.stderr)
    findings = fuzz(args.minutes * 60, args.runs, args.seed, args.out, args.extra)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
