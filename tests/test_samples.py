"""The RFC 3665 sample captures in samples/: rebuilt byte for byte by samples/build_samples.py,
read by tshark as the RFC's messages in F-number order, with the RFC's diagram in
rfc3665-flows.json, real TCP, SIP-timer timing and PCMU media where the diagram shows it."""

from __future__ import annotations

import importlib
import json
import re
import struct
import subprocess
import sys
from functools import lru_cache

import dpkt
import pytest

from conftest import ROOT, SAMPLES, quick_subset, require_tool, shared_path

SCRIPT = SAMPLES / "build_samples.py"
FLOWS = json.loads((SAMPLES / "rfc3665-flows.json").read_text(encoding="utf-8"))
BY_SECTION = {flow["section"]: flow for flow in FLOWS}
SECTIONS = ["2.1", "2.2", "2.3", "2.4", "2.5"] + [f"3.{n}" for n in range(1, 12)]
NS = 1_000_000_000


@lru_cache(maxsize=None)
def load_sample_module(name: str):
    """A module of the sample builder (samples/ is a directory of scripts, not a package)."""
    if str(SAMPLES) not in sys.path:
        sys.path.insert(0, str(SAMPLES))
    return importlib.import_module(name)


@lru_cache(maxsize=None)
def read_frames(name: str) -> list[tuple[int, bytes]]:
    """(time in ns, Ethernet frame) for every record, read with dpkt (not our own decoders)."""
    with open(SAMPLES / name, "rb") as handle:
        # The samples have microsecond times; dpkt's float holds those exactly once rounded.
        return [(round(float(ts) * 1_000_000) * 1000, data) for ts, data in dpkt.pcap.Reader(handle)]


def l4_of(frame: bytes):
    ip = dpkt.ethernet.Ethernet(frame).data
    return ip, ip.data


def sip_payload(flow: dict, f: int) -> bytes:
    arrow = next(a for a in flow["arrows"] if a.get("f") == f)
    _, l4 = l4_of(read_frames(flow["file"])[arrow["frame"] - 1][1])
    return bytes(l4.data)


def sip_time(flow: dict, f: int) -> int:
    arrow = next(a for a in flow["arrows"] if a.get("f") == f)
    return read_frames(flow["file"])[arrow["frame"] - 1][0]


def sip_arrows(flow: dict) -> list[dict]:
    return [a for a in flow["arrows"] if not a.get("media")]


# --- the flows file -------------------------------------------------------------------


def test_flows_json_has_the_16_flows_in_rfc_order():
    assert [flow["section"] for flow in FLOWS] == SECTIONS
    for flow in FLOWS:
        arrows = sip_arrows(flow)
        assert [a["f"] for a in arrows] == list(range(1, len(arrows) + 1)), flow["section"]
        assert flow["messages"] == len(arrows)
        assert flow["file"] == f"rfc3665-{flow['section']}-" + flow["file"].split("-", 2)[2]
        assert (SAMPLES / flow["file"]).is_file()
        columns = len(flow["participants"])
        for arrow in flow["arrows"]:
            assert 0 <= arrow["from"] < columns and 0 <= arrow["to"] < columns
            assert arrow["from"] != arrow["to"]
            assert arrow.get("media") or re.fullmatch(r"[A-Z]+|[1-6]\d\d", arrow["label"])


def test_flows_json_is_the_rfc_diagrams():
    """Facts read off the RFC's figures by hand, so a parsing slip in the script shows."""
    names = {s: [p["name"] for p in BY_SECTION[s]["participants"]] for s in SECTIONS}
    assert names["2.1"] == ["Bob", "SIP Server"]
    assert names["3.1"] == ["Alice", "Bob"]
    assert names["3.2"] == names["3.3"] == names["3.8"] == ["Alice", "Proxy 1", "Proxy 2", "Bob"]
    assert names["3.5"] == ["Alice", "ALG", "Proxy 2", "Bob"]
    assert names["3.6"] == ["Alice", "Redirect Server", "Proxy 3", "Bob"]
    assert names["3.7"] == ["Alice", "Proxy 2", "Bob"]

    def compact(section):
        out = []
        for a in BY_SECTION[section]["arrows"]:
            if a.get("media"):
                out.append(f"media {a['from']}-{a['to']}")
            else:
                out.append(f"F{a['f']} {a['label']} {a['from']}>{a['to']}")
        return out

    assert compact("3.1") == [
        "F1 INVITE 0>1", "F2 180 1>0", "F3 200 1>0", "F4 ACK 0>1", "media 0-1", "F5 BYE 1>0", "F6 200 0>1",
    ]  # fmt: skip
    assert compact("3.2")[3:9] == [
        "F4 INVITE 0>1", "F5 INVITE 1>2", "F6 100 1>0", "F7 INVITE 2>3", "F8 100 2>1", "F9 180 3>2",
    ]  # fmt: skip
    assert compact("3.2")[17] == "media 0-3"
    assert compact("3.3")[6:9] == ["F7 407 2>1", "F8 ACK 1>2", "F9 407 1>0"]
    assert compact("3.3")[-1] == "media 0-3"  # the RFC's §3.3 ends with media, no BYE
    assert compact("3.4")[:8] == [f"F{n} INVITE 0>1" for n in range(1, 8)] + ["F8 INVITE 0>2"]
    assert compact("3.5")[12:15] == ["F13 ACK 1>3", "media 0-1", "media 1-3"]
    assert compact("3.6")[:5] == ["F1 INVITE 0>1", "F2 302 1>0", "F3 ACK 0>1", "F4 INVITE 0>2", "F5 INVITE 2>3"]
    assert compact("3.7")[7:13] == [
        "F8 ACK 0>2", "media 0-2", "F9 INVITE 2>0", "F10 200 0>2", "F11 ACK 2>0", "media 0-2",
    ]  # fmt: skip
    assert compact("3.8")[8:11] == ["F9 CANCEL 0>1", "F10 200 1>0", "F11 CANCEL 1>2"]
    assert compact("3.9")[5] == "F6 486 3>2"
    assert compact("3.10")[5:12] == [f"F{n} INVITE 2>3" for n in range(6, 12)] + ["F12 480 2>1"]
    counts = [len(sip_arrows(BY_SECTION[s])) for s in SECTIONS]
    assert counts == [4, 2, 2, 2, 4, 6, 23, 21, 23, 17, 16, 13, 20, 11, 15, 14]


def test_participant_addresses_follow_the_actors_table():
    assert BY_SECTION["3.2"]["participants"][1:3] == [
        {"name": "Proxy 1", "ip": "192.0.2.111"},
        {"name": "Proxy 2", "ip": "192.0.2.222"},
    ]
    assert BY_SECTION["3.5"]["participants"][1]["ip"] == "192.0.2.128"
    assert BY_SECTION["3.6"]["participants"][2:] == [
        {"name": "Proxy 3", "ip": "192.0.2.233"},
        {"name": "Bob", "ip": "192.0.2.100"},  # bob@chicago
    ]
    assert BY_SECTION["3.7"]["participants"][2] == {
        "name": "Bob", "ip": "192.0.2.201", "ips": ["192.0.2.201", "192.0.2.100"],
    }  # fmt: skip
    assert all(p["ip"] == "192.0.2.101" for f in FLOWS for p in f["participants"] if p["name"] == "Alice")


# --- rebuilt byte for byte ----------------------------------------------------------------


def test_committed_samples_are_what_the_script_builds(tmp_path):
    rfc = shared_path("reference/rfc3665.txt")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rfc", str(rfc), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    built = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(  # the other references' samples: tests/unit/check/test_service_samples.py
        p.name for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".json") and p.name.startswith("rfc3665")
    )
    assert built == committed
    assert len(built) == 17
    for name in built:
        same = (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes()
        assert same, f"{name} differs: run samples/build_samples.py and read the diff"


def test_build_fails_cleanly_on_a_text_that_is_not_rfc3665(tmp_path):
    bogus = tmp_path / "rfc.txt"
    bogus.write_text("Network Working Group\n\n1.  Introduction\n\n   Nothing here.\n", encoding="ascii")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rfc", str(bogus), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("build_samples: error: ")
    assert "Traceback" not in result.stderr
    missing = subprocess.run(
        [sys.executable, str(SCRIPT), "--rfc", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(lambda lines: lines[: len(lines) // 2], id="cut-in-half"),
        pytest.param(lambda lines: [line for i, line in enumerate(lines) if i % 37], id="every-37th-line-dropped"),
        pytest.param(
            lambda lines: [x[: len(x) // 2] if i % 50 == 0 else x for i, x in enumerate(lines)], id="lines-cut"
        ),
        pytest.param(
            lambda lines: [x.replace("|", " ", 1) if i % 11 == 0 else x for i, x in enumerate(lines)], id="bars-lost"
        ),
    ],
)
def test_build_reports_a_damaged_rfc_without_a_traceback(tmp_path, mutation):
    lines = shared_path("reference/rfc3665.txt").read_text(encoding="ascii").split("\n")
    damaged = tmp_path / "rfc3665.txt"
    damaged.write_text("\n".join(mutation(lines)), encoding="ascii")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rfc", str(damaged), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    if result.returncode:
        assert result.returncode == 2 and result.stderr.startswith("build_samples: error: ")
    else:  # damage the parser shrugs off (a lost bar is still a column) must change nothing
        for built in (tmp_path / "out").iterdir():
            assert built.read_bytes() == (SAMPLES / built.name).read_bytes(), built.name


def test_ulaw_matches_the_g711_reference_encoder():
    # Values of Sun's g711.c linear2ulaw (what Python's audioop and most tools compute).
    ulaw = load_sample_module("sample_rtp").ulaw
    expected = {0: 0xFF, 1: 0xFF, -1: 0x7E, 100: 0xF2, -100: 0x72, 1000: 0xCE, -1000: 0x4E,
                8000: 0xA0, -8000: 0x20, 32767: 0x80, -32768: 0x00}  # fmt: skip
    assert {sample: ulaw(sample) for sample in expected} == expected


def test_diagram_parser_on_a_figure_of_its_own():
    """Optional (parenthesised) arrows, a label wider than its arrow, an arrow that skips a
    column, and two media bars on one row: cases RFC 3665 has only some of."""
    text = load_sample_module("rfc3665_text")
    diagram_module = load_sample_module("rfc3665_diagram")
    figure = [
        "",
        "   Alice           Proxy            Bob",
        "     |                |               |",
        "     |   INVITE F1    |               |",
        "     |--------------->|   INVITE F2   |",
        "     |                |-------------->|",
        "     |  (180 Ringing F3)              |",
        "     |<-------------------------------|",
        "     |  407 Proxy Authorization Required F4",
        "     |<---------------|               |",
        "     |<==============>|<=============>|",
        "     |     BYE F5     |               |",
        "     |--------------->|               |",
        "",
        "   Some prose.",
    ]
    diagram = diagram_module.parse_diagram(text.Section("9.9", "Test", figure))
    assert diagram.columns == ["Alice", "Proxy", "Bob"]
    assert [(a.f, a.label, a.src, a.dst, a.optional) for a in diagram.arrows] == [
        (1, "INVITE", 0, 1, False),
        (2, "INVITE", 1, 2, False),
        (3, "180", 2, 0, True),
        (4, "407", 1, 0, False),
        (5, "BYE", 0, 1, False),
    ]
    assert [(bar.src, bar.dst) for bar in diagram.media] == [(0, 1), (1, 2)]
    unlabelled = figure[:13] + ["     |<---------------|               |"]
    with pytest.raises(text.BuildError, match="without an F-number"):
        diagram_module.parse_diagram(text.Section("9.9", "Test", unlabelled))


def test_page_breaks_are_removed_with_their_blank_lines():
    module = load_sample_module("rfc3665_text")
    text = (
        "   CSeq: 2 INVITE\n\n\n\n"
        "Johnston, et al.         Best Current Practice                 [Page 20]\n"
        "\f\n"
        "RFC 3665              SIP Basic Call Flow Examples         December 2003\n\n\n"
        "   Contact: <sip:bob@client.biloxi.example.com;transport=tcp>\n"
    )
    assert module.strip_page_breaks(text) == [
        "   CSeq: 2 INVITE",
        "   Contact: <sip:bob@client.biloxi.example.com;transport=tcp>",
        "",
    ]


def test_samples_are_small():
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".json"))
    assert total < 2 * 1024 * 1024


def test_readme_names_every_file_and_every_note():
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for flow in FLOWS:
        assert f"`{flow['file']}`" in readme
        for note in flow["notes"]:
            section, f = re.match(r"§(\S+) (F\d+)", note).groups()
            assert re.search(rf"§{re.escape(section)} [^\n]*{f}\b", readme), note


# --- the messages are the RFC's -----------------------------------------------------------


def test_messages_are_the_printed_text_with_crlf():
    flow = BY_SECTION["3.1"]
    assert sip_payload(flow, 4) == (
        b"ACK sip:bob@client.biloxi.example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bd5\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
        b"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
        b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
        b"CSeq: 1 ACK\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    # A folded Via continuation is kept folded, as printed.
    assert b"branch=z9hG4bK74bf9\r\n ;received=192.0.2.101\r\n" in sip_payload(flow, 2)
    # F11 of §3.2 is split by a page break between CSeq and Content-Length.
    assert sip_payload(BY_SECTION["3.2"], 11).endswith(b"CSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n")
    # §3.9 F1's body starts on the page after its headers.
    assert b"Content-Length: 151\r\n\r\nv=0\r\no=alice 2890844526" in sip_payload(BY_SECTION["3.9"], 1)


def test_no_page_furniture_or_comments_in_any_message_and_lengths_right():
    for flow in FLOWS:
        for arrow in sip_arrows(flow):
            payload = sip_payload(flow, arrow["f"])
            where = f"§{flow['section']} F{arrow['f']}"
            for junk in (b"Johnston", b"[Page", b"RFC 3665", b"\f", b"/*", b"*/"):
                assert junk not in payload, where
            assert b"\n" not in payload.replace(b"\r\n", b""), f"{where}: bare LF"
            head, separator, body = payload.partition(b"\r\n\r\n")
            assert separator, where
            length = re.search(rb"\r\nContent-Length: (\d+)", head)
            if length:
                assert int(length.group(1)) == len(body), where
            else:
                assert (flow["section"], arrow["f"]) == ("3.8", 19)  # printed without one
                assert body == b""


def test_resent_messages_are_byte_identical():
    proxy_failure = BY_SECTION["3.4"]
    assert {sip_payload(proxy_failure, f) for f in range(1, 8)} == {sip_payload(proxy_failure, 1)}
    no_response = BY_SECTION["3.10"]
    assert {sip_payload(no_response, f) for f in range(6, 12)} == {sip_payload(no_response, 4)}


def test_printed_quirks_fixed_only_where_noted():
    assert sip_payload(BY_SECTION["3.9"], 6).startswith(b"SIP/2.0 486 Busy Here\r\n")
    folded = b"Record-Route: <sip:ss2.biloxi.example.com;lr>,\r\n <sip:ss1.atlanta.example.com;lr>\r\n"
    assert folded in sip_payload(BY_SECTION["3.10"], 4)
    notes = [note for flow in FLOWS for note in flow["notes"]]
    assert len(notes) == 11
    assert sum("two spaces" in n for n in notes) == 3 and sum("folded" in n for n in notes) == 1
    assert sum("no Content-Length" in n for n in notes) == 1
    corrections = [re.match(r"§(\S+) F(\d+): '", n) for n in notes]
    assert sorted((m.group(1), int(m.group(2))) for m in corrections if m) == sorted(ERRATA_CORRECTED)


# RFC 3665's text errors the samples correct (issues 3 and 5): §, F -> (line as printed, line
# in the sample). The checker finds each one on the printed text (tests/unit/check/test_check.py).
ERRATA_CORRECTED = {
    ("3.3", 8): (b"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74b21",
                 b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK230f2.1"),  # F6's top Via
    ("3.7", 10): (b"o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com",
                  b"o=alice 2890844526 2890844527 IN IP4 client.atlanta.example.com"),
    ("3.8", 10): (b"To: Bob <sip:bob@biloxi.example.com>", b"To: Bob <sip:bob@biloxi.example.com>;tag=c4e7b0a1"),
    ("3.8", 12): (b"To: Bob <sip:bob@biloxi.example.com>", b"To: Bob <sip:bob@biloxi.example.com>;tag=5d2f9e83"),
    ("3.8", 14): (b"To: Bob <sip:bob@biloxi.example.com>", b"To: Bob <sip:bob@biloxi.example.com>;tag=314159"),
    ("3.8", 18): (b"Via: SIP/2.0/UDP ss2.biloxi.example.com:5060;branch=z9hG4bK721e4.1",
                  b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1"),  # F2's top Via
}  # fmt: skip


@lru_cache(maxsize=1)
def printed_messages() -> dict[tuple[str, int], bytes]:
    """Every message as the builder reads it from the RFC, before the errata corrections."""
    text = load_sample_module("rfc3665_text")
    lines = text.strip_page_breaks(shared_path("reference/rfc3665.txt").read_text(encoding="ascii"))
    return {
        (section.number, message.f): message.raw
        for section in text.split_sections(lines)
        for message in text.parse_messages(section, [])
    }


def test_errata_corrected_one_line_each_and_nothing_else():
    printed = printed_messages()
    assert len(printed) == sum(flow["messages"] for flow in FLOWS)
    for flow in FLOWS:
        for arrow in sip_arrows(flow):
            key = (flow["section"], arrow["f"])
            sample_lines, printed_lines = sip_payload(flow, arrow["f"]).split(b"\r\n"), printed[key].split(b"\r\n")
            changed = [(a, b) for a, b in zip(printed_lines, sample_lines) if a != b]
            assert len(sample_lines) == len(printed_lines), key
            assert changed == ([ERRATA_CORRECTED[key]] if key in ERRATA_CORRECTED else []), key


def test_corrected_messages_follow_rfc_3261_and_3264():
    """What makes each correction right, read off the other messages of the flow."""
    def header(payload: bytes, name: bytes) -> bytes:
        return next(line for line in payload.split(b"\r\n") if line.startswith(name + b": "))

    proxy_auth, re_invite, no_answer = BY_SECTION["3.3"], BY_SECTION["3.7"], BY_SECTION["3.8"]
    # The ACK of a non-2xx has one Via, the top Via of the INVITE it ACKs (§17.1.1.3).
    for flow, invite, ack in ((proxy_auth, 6, 8), (no_answer, 2, 18)):
        vias = [line for line in sip_payload(flow, ack).split(b"\r\n") if line.startswith(b"Via: ")]
        assert vias == [header(sip_payload(flow, invite), b"Via")], (flow["section"], ack)
    # Alice's answer changes her SDP (new port), and its o= version goes up by one (RFC 3264 §8).
    offer, answer = sip_payload(re_invite, 1), sip_payload(re_invite, 10)
    assert b"m=audio 49172 " in offer and b"m=audio 1000 " in answer
    versions = [int(re.search(rb"\r\no=alice \d+ (\d+) ", p).group(1)) for p in (offer, answer)]
    assert versions[1] == versions[0] + 1
    # Every final response has a To tag (§8.2.6.2); Bob's 200 to CANCEL has his 487's (§9.2),
    # each proxy's its own.
    tags = {f: re.search(rb";tag=(\w+)", header(sip_payload(no_answer, f), b"To")).group(1) for f in (10, 12, 14, 15)}
    assert tags[14] == tags[15] == b"314159"
    assert len({tags[10], tags[12], tags[14]}) == 3


# --- what tshark sees ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def tshark_rows(name: str) -> list[list[str]]:
    tshark = require_tool("tshark")
    fields = [
        "frame.number", "ip.src", "ip.dst", "sip.Method", "sip.Status-Code",
        "ip.checksum.status", "udp.checksum.status", "tcp.checksum.status", "_ws.expert.severity",
    ]  # fmt: skip
    command = [tshark, "-r", str(SAMPLES / name), "-n", "-d", "tcp.port==5061,sip"]
    for protocol in ("ip", "udp", "tcp"):
        command += ["-o", f"{protocol}.check_checksum:TRUE"]
    command += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for name_ in fields:
        command += ["-e", name_]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return [line.split("\t") for line in result.stdout.splitlines()]


@pytest.mark.parametrize("section", quick_subset(SECTIONS, ("2.1", "3.2", "3.8", "3.11")))
def test_tshark_reads_the_rfc_flow(section):
    flow = BY_SECTION[section]
    rows = tshark_rows(flow["file"])
    assert len(rows) == len(read_frames(flow["file"]))
    sip = [row for row in rows if row[3] or row[4]]
    arrows = sip_arrows(flow)
    assert len(sip) == flow["messages"]
    assert [row[3] or row[4] for row in sip] == [a["label"] for a in arrows]
    assert [int(row[0]) for row in sip] == [a["frame"] for a in arrows]
    for row, arrow in zip(sip, arrows):
        src, dst = flow["participants"][arrow["from"]], flow["participants"][arrow["to"]]
        assert row[1] in src.get("ips", [src["ip"]]) and row[2] in dst.get("ips", [dst["ip"]]), arrow
    for row in rows:
        assert all(status in ("", "1") for status in row[5:8]), f"bad checksum in frame {row[0]}"
        severities = [int(s, 0) for s in row[8].split(",") if s]
        assert all(s < 0x00600000 for s in severities), f"tshark warns about frame {row[0]}"


def test_tls_flows_are_sip_over_tcp_5061():
    for section in ("2.1", "2.2", "2.3", "2.4", "2.5"):
        flow = BY_SECTION[section]
        assert flow["transports"] == ["tls"]
        for arrow in sip_arrows(flow):
            _, tcp = l4_of(read_frames(flow["file"])[arrow["frame"] - 1][1])
            assert isinstance(tcp, dpkt.tcp.TCP) and (tcp.sport, tcp.dport) == (5061, 5061)


def test_stream_transports_are_real_tcp_connections():
    for flow in FLOWS:
        if "udp" in flow["transports"] and len(flow["transports"]) == 1:
            continue
        opened: set[frozenset] = set()
        for _, frame in read_frames(flow["file"]):
            ip, l4 = l4_of(frame)
            if not isinstance(l4, dpkt.tcp.TCP):
                continue
            key = frozenset(((ip.src, l4.sport), (ip.dst, l4.dport)))
            if l4.flags & dpkt.tcp.TH_SYN and not l4.flags & dpkt.tcp.TH_ACK:
                opened.add(key)
            assert key in opened, f"§{flow['section']}: TCP data before a handshake"


# --- timing -------------------------------------------------------------------------------


def test_capture_order_is_time_order_and_f_order():
    for flow in FLOWS:
        times = [ts for ts, _ in read_frames(flow["file"])]
        assert times == sorted(times)
        frames = [a["frame"] for a in sip_arrows(flow)]
        assert frames == sorted(frames)


def test_invite_retransmissions_double_from_t1_until_timer_b():
    for section, first, resends, after in (("3.4", 1, range(2, 8), 8), ("3.10", 4, range(6, 12), 12)):
        flow = BY_SECTION[section]
        times = [sip_time(flow, first)] + [sip_time(flow, f) for f in resends]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps == [NS // 2, NS, 2 * NS, 4 * NS, 8 * NS, 16 * NS], section
        assert sip_time(flow, after) - sip_time(flow, first) == 32 * NS  # Timer B = 64*T1


def test_ringing_lasts_and_other_hops_are_quick():
    ring = {"3.1": 3, "3.2": 12, "3.4": 16, "3.5": 9, "3.6": 9, "3.7": 6, "3.11": 9}
    for section, answer in ring.items():
        flow = BY_SECTION[section]
        assert sip_time(flow, answer) - sip_time(flow, answer - 1) == 2_500_000_000, section
    no_answer = BY_SECTION["3.8"]
    assert sip_time(no_answer, 9) - sip_time(no_answer, 8) == 5 * NS  # Alice gives up, CANCEL
    busy = BY_SECTION["3.9"]
    for f in range(2, 12):
        assert 5_000_000 <= sip_time(busy, f) - sip_time(busy, f - 1) < 50_000_000


def rtp_packets(flow: dict, src: str, dst: str) -> list[tuple[int, bytes]]:
    host_a, port_a = src.rsplit(":", 1)
    host_b, port_b = dst.rsplit(":", 1)
    wanted = (bytes(map(int, host_a.split("."))), int(port_a), bytes(map(int, host_b.split("."))), int(port_b))
    out = []
    for ts, frame in read_frames(flow["file"]):
        ip, l4 = l4_of(frame)
        if isinstance(l4, dpkt.udp.UDP) and (ip.src, l4.sport, ip.dst, l4.dport) == wanted:
            out.append((ts, bytes(l4.data)))
    return out


def test_media_bars_carry_two_seconds_of_pcmu_each_way_between_sdp_addresses():
    bars = [(flow, i, a) for flow in FLOWS for i, a in enumerate(flow["arrows"]) if a.get("media")]
    assert len(bars) == 9
    expected_ends = {
        "3.5": [("192.0.2.101:49172", "192.0.2.128:1734"), ("192.0.2.128:2000", "192.0.2.201:3456")],
        "3.6": [("192.0.2.101:49172", "192.0.2.100:3456")],
        "3.7": [("192.0.2.101:49172", "192.0.2.201:3456"), ("192.0.2.101:1000", "192.0.2.100:47172")],
    }
    seen: dict[str, list] = {}
    for flow, index, bar in bars:
        rtp = bar["rtp"]
        seen.setdefault(flow["section"], []).append((rtp["from"], rtp["to"]))
        before = [a for a in flow["arrows"][:index] if not a.get("media")][-1]
        after = next((a for a in flow["arrows"][index:] if not a.get("media")), None)
        for src, dst in ((rtp["from"], rtp["to"]), (rtp["to"], rtp["from"])):
            packets = rtp_packets(flow, src, dst)
            assert len(packets) == 100 == rtp["packets_each_way"]
            times = [ts for ts, _ in packets]
            assert times[-1] - times[0] == 99 * 20_000_000
            assert times[0] > sip_time(flow, before["f"])
            if after is not None:
                assert times[-1] < sip_time(flow, after["f"])
            headers = [struct.unpack("!BBHII", payload[:12]) for _, payload in packets]
            assert all(len(payload) == 172 for _, payload in packets)  # 12 + 160 bytes of PCMU
            assert {h[0] for h in headers} == {0x80} and {h[1] & 0x7F for h in headers} == {0}
            assert headers[0][1] & 0x80 and not any(h[1] & 0x80 for h in headers[1:])
            assert [(h[2] - headers[0][2]) & 0xFFFF for h in headers] == list(range(100))
            assert [(h[3] - headers[0][3]) & 0xFFFFFFFF for h in headers] == [160 * n for n in range(100)]
            assert len({h[4] for h in headers}) == 1
    for section, ends in expected_ends.items():
        assert seen[section] == ends
    assert seen["3.2"] == [("192.0.2.101:49172", "192.0.2.201:3456")]
