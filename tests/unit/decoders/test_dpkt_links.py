"""The rich link layers decoded with dpkt (decoders.dpkt_links) and the small ones beside them in
decoders.linklayer (Cisco HDLC, PPP variants, PPI): crafted Wi-Fi, HDLC and PPP captures carrying
RFC 3665 §3.1 F1, read through ``load_capture`` and ``ladder stats``, with tshark as the oracle."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from captures_crafted import MAC_A, MAC_B, ipv4, ipv6, udp, write_pcap
from conftest import ROOT, quick_subset, require_tool, shared_manifest, shared_path
from decoders.errors import DecodeError, Malformed, Truncated, Unsupported
from decoders.linklayer import ETH_IPV4, ETH_IPV6, NOT_IP, strip_link
from ladder.capture.loader import load_capture
from ladder.capture.reader import read_frames
from rfc_messages import rfc3665_messages

T0 = 1_600_000_000_000_000_000
ALICE, BOB = "192.0.2.101", "192.0.2.201"
MAC_AP = bytes.fromhex("020000000003")


@pytest.fixture(scope="module")
def f1() -> bytes:
    """RFC 3665 §3.1 F1, the INVITE from Alice to Bob, as the RFC prints it."""
    flow = rfc3665_messages(shared_path("reference/rfc3665.txt"))
    (message,) = [m for m in flow if m.section == "3.1" and m.label.startswith("F1 ")]
    return message.data


# -- crafting ---------------------------------------------------------------------------------


def llc_snap(ethertype: int = 0x0800, oui: bytes = b"\x00\x00\x00") -> bytes:
    return b"\xaa\xaa\x03" + oui + struct.pack("!H", ethertype)


def wlan_data(
    payload: bytes,
    *,
    qos: bool = True,
    to_ds: bool = True,
    from_ds: bool = False,
    protected: bool = False,
    order: bool = False,
    more_fragments: bool = False,
    fragment: int = 0,
    amsdu: bool = False,
    subtype: int | None = None,
) -> bytes:
    """An 802.11 (QoS) data frame header, little-endian fields as on the air, then ``payload``."""
    if subtype is None:
        subtype = 8 if qos else 0
    control = (subtype << 4) | (2 << 2)  # version 0, type 2 (data)
    flags = (
        (0x01 if to_ds else 0) | (0x02 if from_ds else 0) | (0x04 if more_fragments else 0)
        | (0x40 if protected else 0) | (0x80 if order else 0)
    )
    header = bytes([control, flags]) + struct.pack("<H", 44)  # duration
    header += MAC_AP + MAC_A + MAC_B  # addr1..addr3 (their roles depend on the DS bits)
    header += struct.pack("<H", (1234 << 4) | fragment)  # sequence control
    if to_ds and from_ds:
        header += MAC_B  # addr4 (WDS / mesh)
    if subtype & 8:
        header += struct.pack("<H", 5 | (0x80 if amsdu else 0))  # QoS control: TID 5 (voice)
        if order:
            header += b"\x00\x00\x00\x00"  # HT control
    return header + payload


def amsdu_subframe(msdu: bytes) -> bytes:
    sub = MAC_B + MAC_A + struct.pack("!H", len(msdu)) + msdu
    return sub + bytes(-len(sub) % 4)


def beacon() -> bytes:
    """A management beacon: fixed fields and an SSID element."""
    header = bytes([0x80, 0x00]) + b"\x00\x00" + b"\xff" * 6 + MAC_AP + MAC_AP + b"\x10\x00"
    body = struct.pack("<QHH", 123456789, 100, 0x0431) + b"\x00\x07voip-ap" + b"\x01\x04\x82\x84\x8b\x96"
    return header + body


def ack_control() -> bytes:
    return bytes([0xD4, 0x00]) + b"\x00\x00" + MAC_A


def radiotap(frame: bytes, flags: int = 0, fcs: bool = False) -> bytes:
    """A Linux mac80211-style radiotap header: TSFT, flags, rate, channel, dBm signal, antenna."""
    if fcs:
        flags |= 0x10
        frame = frame + struct.pack("<I", zlib.crc32(frame))
    present = 0x0000082F
    fields = struct.pack("<Q", 987654321) + bytes([flags, 0x0C]) + struct.pack("<HH", 2437, 0x00A0)
    fields += struct.pack("<bB", -42, 1)
    return struct.pack("<BBHI", 0, 0, 8 + len(fields), present) + fields + frame


def radiotap_two_words(frame: bytes, flags: int) -> bytes:
    """Radiotap with two present words (bit 31, radiotap namespace bit 29) as Linux writes for
    per-antenna signals: the Flags octet sits at 24, after 8-aligned TSFT."""
    present = struct.pack("<II", 0xA000402F, 0x00000820)
    fields = bytes(4) + struct.pack("<Q", 42) + bytes([flags, 0x0C]) + struct.pack("<HH", 5180, 0x0140)
    fields += struct.pack("<bxH", -50, 0) + struct.pack("<bB", -51, 0)
    return struct.pack("<BBH", 0, 0, 4 + len(present) + len(fields)) + present + fields + frame


def radiotap_flags_only(frame: bytes, flags: int) -> bytes:
    """The smallest radiotap header with Flags: no TSFT, so Flags is at offset 8."""
    return struct.pack("<BBHIB", 0, 0, 9, 0x02, flags) + frame


def cisco_hdlc(payload: bytes, protocol: int = 0x0800, address: int = 0x0F) -> bytes:
    return struct.pack("!BBH", address, 0, protocol) + payload


def pppoe_header(payload: bytes, code: int = 0, protocol: bytes = b"\x00\x21") -> bytes:
    return struct.pack("!BBHH", 0x11, code, 0x2A, len(protocol) + len(payload)) + protocol + payload


def ppi(frame: bytes, dlt: int = 105) -> bytes:
    return struct.pack("<BBHI", 0, 0, 8, dlt) + frame


def avs(frame: bytes) -> bytes:
    return struct.pack("!II", 0x80211001, 64) + bytes(56) + frame


def prism(frame: bytes) -> bytes:
    return struct.pack("<II", 0x41, 144) + bytes(136) + frame


def sip_packet(message: bytes) -> bytes:
    return ipv4(udp(message, 5060, 5060), ALICE, BOB)


def cases(message: bytes) -> dict[str, tuple[int, bytes]]:
    """Every supported way of carrying the F1 INVITE: name -> (linktype, frame)."""
    ip4 = sip_packet(message)
    qos = wlan_data(llc_snap() + ip4)
    return {
        "radiotap-qos-data": (127, radiotap(qos)),
        "radiotap-qos-data-fcs": (127, radiotap(qos, fcs=True)),
        "radiotap-data-pad": (127, radiotap(wlan_data(b"\x00\x00" + llc_snap() + ip4), flags=0x20)),
        "radiotap-two-present-words-data-pad": (
            127, radiotap_two_words(wlan_data(b"\x00\x00" + llc_snap() + ip4), flags=0x20)
        ),
        "radiotap-flags-only-data-pad": (127, radiotap_flags_only(wlan_data(b"\x00\x00" + llc_snap() + ip4), 0x20)),
        "radiotap-ht-control": (127, radiotap(wlan_data(llc_snap() + ip4, order=True))),
        "radiotap-amsdu-one-subframe": (127, radiotap(wlan_data(amsdu_subframe(llc_snap() + ip4), amsdu=True))),
        "80211-qos-data": (105, qos),
        "80211-data-from-ds": (105, wlan_data(llc_snap() + ip4, qos=False, to_ds=False, from_ds=True)),
        "80211-data-ibss": (105, wlan_data(llc_snap() + ip4, qos=False, to_ds=False)),
        "80211-wds-4-address": (105, wlan_data(llc_snap() + ip4, to_ds=True, from_ds=True)),
        "80211-8021h-oui": (105, wlan_data(llc_snap(oui=b"\x00\x00\xf8") + ip4)),
        "80211-ipv6": (105, wlan_data(llc_snap(0x86DD) + ipv6(udp(message)))),
        "ppi-80211": (192, ppi(qos)),
        "avs-80211": (163, avs(qos)),
        "prism-80211": (119, prism(qos)),
        "prism-holding-avs": (119, avs(qos)),
        "cisco-hdlc": (104, cisco_hdlc(ip4)),
        "cisco-hdlc-broadcast": (104, cisco_hdlc(ip4, address=0x8F)),
        "cisco-hdlc-ipv6": (104, cisco_hdlc(ipv6(udp(message)), 0x86DD)),
        "cisco-hdlc-with-dir": (205, b"\x01" + cisco_hdlc(ip4)),
        "ppp-hdlc": (50, b"\xff\x03\x00\x21" + ip4),
        "ppp-hdlc-cisco-framing": (50, cisco_hdlc(ip4)),
        "ppp-with-dir": (204, b"\x00\xff\x03\x00\x21" + ip4),
        "ppp-pppd": (166, b"\x01\x03\x00\x21" + ip4),
        "ppp-ether": (51, pppoe_header(ip4)),
        "ppp-ether-compressed-protocol": (51, pppoe_header(ip4, protocol=b"\x21")),
        "atm-rfc1483": (100, llc_snap() + ip4),
    }


# Wiretap cannot open pcap files of these two link types; every other case has tshark as oracle.
NOT_READ_BY_TSHARK = ("cisco-hdlc-with-dir", "ppp-pppd")
TSHARK_ORACLE = sorted(set(cases(b"")) - set(NOT_READ_BY_TSHARK))


def _load(tmp_path, linktype: int, frames: list[bytes], name: str = "one.pcap"):
    path = write_pcap(tmp_path / name, [(T0 + i * 1_000_000, f) for i, f in enumerate(frames)], linktype=linktype)
    capture = load_capture(str(path))
    assert sum(capture.frame_classes.values()) == capture.frames == len(frames)
    return path, capture


def _tshark_count(path, display_filter: str = "sip") -> int:
    """How many frames of ``path`` tshark's ``display_filter`` matches."""
    tshark = require_tool("tshark")
    out = subprocess.run(
        [tshark, "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return len(out.split())


# -- SIP through every link layer -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(cases(b"")))
def test_f1_invite_found_through_each_link_layer(tmp_path, f1, name):
    linktype, frame = cases(f1)[name]
    _, capture = _load(tmp_path, linktype, [frame])
    assert capture.frame_classes == {"sip": 1}, capture.diagnostic_list
    (message,) = capture.sip_messages
    assert message.raw == f1
    assert message.method == "INVITE" and message.call_id == "3848276298220188511@atlanta.example.com"
    if "ipv6" in name:
        assert (message.src.ip, message.dst.ip) == ("2001:db8::1", "2001:db8::2")
    else:
        assert (str(message.src), str(message.dst)) == (f"{ALICE}:5060/udp", f"{BOB}:5060/udp")
    assert message.frames[0].number == 1


@pytest.mark.parametrize("name", quick_subset(TSHARK_ORACLE, (
    "80211-qos-data", "atm-rfc1483", "cisco-hdlc-ipv6", "ppp-hdlc", "prism-80211", "radiotap-data-pad")))
def test_tshark_reads_the_same_sip_from_each_crafted_file(tmp_path, f1, name):
    linktype, frame = cases(f1)[name]
    path, capture = _load(tmp_path, linktype, [frame])
    assert _tshark_count(path) == len(capture.sip_messages) == 1


def _wifi_call(f1: bytes) -> list[bytes]:
    """A monitor-mode capture of a phone's call setup among the usual Wi-Fi chatter."""
    sip = llc_snap() + sip_packet(f1)
    return [
        radiotap(beacon(), fcs=True),
        radiotap(wlan_data(sip)),  # F1: the only readable SIP
        radiotap(ack_control()),
        radiotap(wlan_data(b"", subtype=12)),  # QoS Null (power save)
        radiotap(wlan_data(bytes(8) + sip, protected=True)),  # WPA2: CCMP header + ciphertext
        radiotap(wlan_data(llc_snap(0x888E) + bytes(99))),  # EAPOL key exchange
        radiotap(wlan_data(sip, more_fragments=True)),
    ]


def test_wifi_capture_classes_and_diagnostics(tmp_path, f1):
    _, capture = _load(tmp_path, 127, _wifi_call(f1))
    assert capture.frame_classes == {
        "non-ip": 4, "sip": 1, "encrypted-80211": 1, "fragmented-80211": 1,
    }, capture.diagnostic_list
    assert capture.diagnostics == {"encrypted-80211": 1, "fragmented-80211": 1}
    assert {(d.reason, d.frame) for d in capture.diagnostic_list} == {("encrypted-80211", 5), ("fragmented-80211", 7)}
    assert capture.link_types == {127: 7}


def test_wifi_capture_sip_count_matches_tshark(tmp_path, f1):
    path, capture = _load(tmp_path, 127, _wifi_call(f1))
    assert _tshark_count(path) == len(capture.sip_messages) == 1
    assert _tshark_count(path, "wlan.fc.protected == 1") == capture.diagnostics["encrypted-80211"]
    assert _tshark_count(path, "wlan.fc.type != 2 || wlan.fc.subtype == 12 || eapol") == (
        capture.frame_classes["non-ip"]
    )


def test_ladder_stats_json_counts_wifi_sip(tmp_path, f1):
    path, _ = _load(tmp_path, 127, _wifi_call(f1))
    result = subprocess.run(
        [sys.executable, "-m", "ladder.cli.dispatch", "stats", "--json", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["sip_messages"] == 1
    assert stats["sip_requests"] == {"INVITE": 1}
    assert stats["frames"] == 7
    assert stats["diagnostics"] == {"encrypted-80211": 1, "fragmented-80211": 1}
    assert stats["link_types"] == {"127": 7}


# -- a real capture carried over Wi-Fi and Cisco HDLC ---------------------------------------------

REAL = "captures/wireshark-wiki/sip-rtp-g711.pcap"  # 852 frames: 10 SIP messages, 840 RTP


def _bridged(convert) -> list[tuple[int, bytes]]:
    """The real Ethernet capture's frames re-framed by ``convert(ethertype, payload)``, as an
    access point (RFC 1042) or a router's serial interface would carry them."""
    frames = []
    for frame in read_frames(str(shared_path(REAL))):
        assert frame.linktype == 1 and frame.caplen == frame.origlen
        ethertype = struct.unpack_from("!H", frame.data, 12)[0]
        frames.append((frame.ts_ns, convert(ethertype, frame.data[14:])))
    return frames


@pytest.mark.parametrize(
    "linktype, convert",
    [
        (127, lambda ethertype, payload: radiotap(wlan_data(llc_snap(ethertype) + payload, to_ds=False, from_ds=True))),
        (104, lambda ethertype, payload: cisco_hdlc(payload, ethertype)),
    ],
    ids=["radiotap-80211", "cisco-hdlc"],
)
def test_real_capture_reframed_gives_the_same_calls_and_streams(tmp_path, linktype, convert):
    entry = next(e for e in shared_manifest() if e["file"].endswith(REAL))
    original = load_capture(str(shared_path(REAL)))
    path = write_pcap(tmp_path / "reframed.pcap", _bridged(convert), linktype=linktype)
    capture = load_capture(str(path))
    assert len(capture.sip_messages) == len(original.sip_messages) == entry["sip_messages"] == 10
    assert [m.raw for m in capture.sip_messages] == [m.raw for m in original.sip_messages]
    assert [(str(m.src), str(m.dst)) for m in capture.sip_messages] == [
        (str(m.src), str(m.dst)) for m in original.sip_messages
    ]
    assert capture.frame_classes == original.frame_classes
    assert [(s.ssrc, s.packets) for s in capture.streams] == [(s.ssrc, s.packets) for s in original.streams]
    assert _tshark_count(path) == entry["sip_frames"]


def test_cisco_hdlc_call_flow_has_every_message(tmp_path):
    flow = [m for m in rfc3665_messages(shared_path("reference/rfc3665.txt")) if m.section == "3.1"]
    frames = []
    for message in flow:
        alice_sends = "Alice -> Bob" in message.label
        src, dst = (ALICE, BOB) if alice_sends else (BOB, ALICE)
        frames.append(cisco_hdlc(ipv4(udp(message.data), src, dst)))
    frames.append(cisco_hdlc(bytes(20), protocol=0x8035))  # SLARP keepalive
    path, capture = _load(tmp_path, 104, frames)
    assert [m.raw for m in capture.sip_messages] == [m.data for m in flow]
    assert capture.frame_classes == {"sip": 6, "non-ip": 1}
    assert _tshark_count(path) == 6


# -- frames that are not SIP --------------------------------------------------------------------


@pytest.mark.parametrize(
    "linktype, frame",
    [
        (105, beacon()),
        (127, radiotap(beacon())),
        (105, ack_control()),
        (105, wlan_data(b"", subtype=4)),  # Null data
        (105, wlan_data(llc_snap(0x888E) + bytes(40))),  # EAPOL
        (105, wlan_data(llc_snap(0x2000, oui=b"\x00\x00\x0c") + bytes(40))),  # Cisco CDP over SNAP
        (105, wlan_data(b"\x42\x42\x03" + bytes(35))),  # spanning tree LLC
        (51, pppoe_header(b"", code=0x09, protocol=b"")),  # PADI
        (51, pppoe_header(bytes(20), protocol=b"\xc0\x21")),  # LCP
        (104, cisco_hdlc(bytes(20), protocol=0x8035)),  # SLARP
    ],
)
def test_frames_without_ip_are_non_ip(tmp_path, linktype, frame):
    _, capture = _load(tmp_path, linktype, [frame])
    assert capture.frame_classes == {"non-ip": 1}
    assert capture.diagnostics == {}


@pytest.mark.parametrize(
    "linktype, frame, reason",
    [
        (105, wlan_data(bytes(8) + llc_snap() + bytes(40), protected=True), "encrypted-80211"),
        (105, wlan_data(llc_snap() + bytes(40), fragment=1), "fragmented-80211"),
        (105, wlan_data(llc_snap() + bytes(40), subtype=1), "unsupported-80211-subtype"),
        (105, b"\x0b\x00" + bytes(30), "malformed-80211"),  # protocol version 3
        (127, radiotap(wlan_data(llc_snap() + bytes(40)), flags=0x40), "bad-fcs-80211"),
        (127, b"\x01\x00\x08\x00" + bytes(4) + beacon(), "malformed-radiotap"),
        (127, struct.pack("<BBHI", 0, 0, 9, 0x01) + b"\x00" + beacon(), "malformed-radiotap"),  # TSFT overruns
        (127, struct.pack("<BBHI", 0, 0, 4, 0) + beacon(), "malformed-radiotap"),
        (51, struct.pack("!BBHH", 0x22, 0, 1, 2) + b"\x00\x21" + bytes(20), "malformed-pppoe"),
        (192, ppi(beacon(), dlt=147), "unsupported-link-type"),
        (192, ppi(ppi(beacon()), dlt=192), "unsupported-link-type"),
        (163, struct.pack("!II", 0x12345678, 64) + bytes(64), "malformed-link"),
        (147, bytes(40), "unsupported-link-type"),  # LINKTYPE_USER0: still not decoded
    ],
)
def test_undecodable_frames_are_diagnostics(tmp_path, linktype, frame, reason):
    _, capture = _load(tmp_path, linktype, [frame])
    assert capture.frame_classes == {reason: 1}
    assert capture.diagnostics == {reason: 1}
    assert capture.diagnostic_list[0].frame == 1


def test_radiotap_layouts_share_one_capture(tmp_path, f1):
    """Frames of different radiotap layouts, and one layout with changing TSFT/signal values,
    each find their own flags octet (the per-layout memo must not leak between them)."""
    sip = llc_snap() + sip_packet(f1)
    padded = wlan_data(b"\x00\x00" + sip)
    frames = [
        radiotap(wlan_data(sip)),
        radiotap_two_words(padded, flags=0x20),
        radiotap_flags_only(padded, 0x20),
        radiotap_flags_only(wlan_data(sip), 0x00),
        radiotap_two_words(wlan_data(sip), flags=0x40),  # bad FCS: the flags of this frame, not the last
        radiotap(wlan_data(sip), fcs=True)[:8] + struct.pack("<Q", 2**63) + radiotap(wlan_data(sip), fcs=True)[16:],
    ]
    path, capture = _load(tmp_path, 127, frames)
    assert capture.frame_classes == {"sip": 5, "bad-fcs-80211": 1}, capture.diagnostic_list
    assert _tshark_count(path, "sip") == 6  # tshark dissects the bad-FCS frame too; we count it apart
    assert _tshark_count(path, "radiotap.flags.badfcs == 1") == capture.diagnostics["bad-fcs-80211"]


def test_amsdu_with_several_subframes_is_a_diagnostic(f1):
    msdu = llc_snap() + sip_packet(f1)
    frame = wlan_data(amsdu_subframe(msdu) + amsdu_subframe(msdu), amsdu=True)
    with pytest.raises(Unsupported) as info:
        strip_link(105, frame, 0, len(frame))
    assert info.value.reason == "aggregated-80211"


def test_offsets_point_into_the_original_buffer(f1):
    """The payload offset is into the caller's buffer, frame offset included."""
    ip4 = sip_packet(f1)
    for name, (linktype, frame) in cases(f1).items():
        if "ipv6" in name:
            continue
        buf = b"JUNK" * 3 + frame + b"TAIL"
        ethertype, pos = strip_link(linktype, buf, 12, 12 + len(frame))
        assert ethertype == ETH_IPV4, name
        assert buf[pos : pos + len(ip4)] == ip4, name


# -- cut and hostile frames -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(cases(b"")))
def test_every_cut_of_a_link_header_is_a_value_or_a_decode_error(f1, name):
    linktype, frame = cases(f1)[name]
    for end in range(len(frame) - len(f1)):
        try:
            ethertype, pos = strip_link(linktype, frame, 0, end)
        except DecodeError as exc:
            assert exc.reason in {"truncated-link", "malformed-radiotap", "malformed-80211"}, (end, exc)
        else:
            assert 0 <= pos <= end and ethertype in (ETH_IPV4, ETH_IPV6, NOT_IP), (end, ethertype, pos)


def test_snaplen_cut_in_the_radiotap_header_is_counted(tmp_path, f1):
    frame = radiotap(wlan_data(llc_snap() + sip_packet(f1)))
    path = write_pcap(tmp_path / "cut.pcap", [(T0, frame[:20], len(frame))], linktype=127)
    capture = load_capture(str(path))
    assert capture.frame_classes == {"snaplen-truncated": 1}


def test_truncated_80211_header_without_snaplen_is_truncated_link(tmp_path):
    _, capture = _load(tmp_path, 105, [wlan_data(b"")[:20]])
    assert capture.diagnostics == {"truncated-link": 1}


LINKTYPES = (50, 51, 100, 104, 105, 119, 127, 163, 166, 192, 204, 205)


@settings(max_examples=300, deadline=None)
@given(linktype=st.sampled_from(LINKTYPES), data=st.binary(max_size=120))
def test_any_bytes_give_a_payload_or_a_decode_error(linktype, data):
    try:
        ethertype, pos = strip_link(linktype, data, 0, len(data))
    except DecodeError as exc:
        assert exc.reason and exc.reason == exc.reason.lower() and " " not in exc.reason
    else:
        assert 0 <= pos <= len(data) and isinstance(ethertype, int)


# Valid radio headers before random 802.11 bytes reach the MAC-header code, not just the checks.
_PREFIXES = st.sampled_from([
    (127, radiotap(b"")), (127, radiotap(b"", flags=0x20)), (192, ppi(b"")), (163, avs(b"")), (105, b""),
    (105, bytes([0x88, 0x01])), (105, bytes([0x88, 0x03])), (105, bytes([0x88, 0x81])), (105, bytes([0x08, 0x02])),
])


@settings(max_examples=400, deadline=None)
@given(prefix=_PREFIXES, data=st.binary(max_size=80))
def test_random_80211_frames_give_a_payload_or_a_decode_error(prefix, data):
    linktype, head = prefix
    buf = head + data
    try:
        ethertype, pos = strip_link(linktype, buf, 0, len(buf))
    except (Truncated, Malformed, Unsupported):
        pass
    else:
        assert len(head) <= pos <= len(buf) and isinstance(ethertype, int)


def test_ethernet_captures_do_not_import_dpkt(tmp_path, f1):
    """dpkt is loaded for the link types that need it, never for plain Ethernet (import cost)."""
    from captures_crafted import ethernet

    eth = write_pcap(tmp_path / "eth.pcap", [(T0, ethernet(sip_packet(f1)))])
    wifi = write_pcap(tmp_path / "wifi.pcap", [(T0, radiotap(wlan_data(llc_snap() + sip_packet(f1))))], linktype=127)
    probe = (
        "import sys\n"
        "from ladder.capture.loader import load_capture\n"
        f"assert len(load_capture({str(eth)!r}).sip_messages) == 1\n"
        "print('dpkt' in sys.modules)\n"
        f"assert len(load_capture({str(wifi)!r}).sip_messages) == 1\n"
        "print('dpkt' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
