"""decoders.sdp on the offer/answer examples of RFC 4317 and on hand-made edge cases."""

from __future__ import annotations

import functools

import pytest

from conftest import shared_path
from decoders.errors import Malformed
from decoders.sdp import STATIC_PAYLOAD_TYPES, SdpOrigin, parse_sdp
from rfc_messages import rfc4317_sdps


@functools.lru_cache(maxsize=1)
def _load(path) -> dict[str, bytes]:
    return dict(rfc4317_sdps(path))


def rfc4317(label: str):
    return parse_sdp(_load(shared_path("reference/rfc4317.txt"))[label])


def test_rfc4317_every_example_parses_cleanly():
    bodies = _load(shared_path("reference/rfc4317.txt"))
    assert len(bodies) == 54
    for label, body in bodies.items():
        session = parse_sdp(body)
        assert session.problems == (), label
        assert session.origin is not None and session.origin.username in ("alice", "bob"), label
        assert session.session_name == "", label  # RFC 4317 writes "s=" with nothing after it
        for media in session.media:
            assert media.connection is not None, label
            assert all(name and not name.isdigit() for name in media.codec_names()), label


def test_rfc4317_2_1_offer_names_static_and_dynamic_types():
    offer = rfc4317("2.1 [Offer]")
    assert offer.origin == SdpOrigin("alice", "2890844526", 2890844526, "IN", "IP4", "host.atlanta.example.com")
    audio, video = offer.media
    assert (audio.kind, audio.port, audio.port_count, audio.proto) == ("audio", 49170, 1, "RTP/AVP")
    assert audio.formats == ("0", "8", "97") and audio.payload_types() == (0, 8, 97)
    assert audio.codec_names() == ["PCMU", "PCMA", "iLBC"]
    assert audio.rtpmap[97] == ("iLBC", 8000, 1)
    assert audio.encoding(0) == ("PCMU", 8000, 1)
    assert video.codec_names() == ["H261", "MPV"] and video.encoding(31) == ("H261", 90000, 1)
    assert audio.connection == video.connection == offer.connection == "host.atlanta.example.com"
    assert audio.address_type == "IP4" and audio.direction == "sendrecv"


def test_rfc4317_2_2_rejected_stream_has_port_zero():
    answer = rfc4317("2.2 [Answer]")
    assert answer.media[1].port == 0 and answer.media[1].disabled
    assert not answer.media[0].disabled


def test_rfc4317_2_4_directions_and_telephone_event():
    offer, answer = rfc4317("2.4 [Offer]"), rfc4317("2.4 [Answer]")
    assert [m.direction for m in offer.media] == ["sendrecv", "sendonly"]
    assert [m.direction for m in answer.media] == ["sendrecv", "recvonly"]
    assert offer.media[1].codec_names() == ["telephone-event"]
    assert offer.media[1].rtpmap == {98: ("telephone-event", 8000, 1)} and offer.media[1].fmtp == {}


def test_rfc4317_3_1_hold_answer_is_sendonly():
    answer = rfc4317("3.1 [Answer]")
    assert answer.media[0].direction == "sendonly"
    assert answer.connection == "placeholder.biloxi.example.com"


def test_rfc4317_5_1_no_media_and_5_2_zero_address_hold():
    assert rfc4317("5.1 [Offer]").media == ()
    hold = rfc4317("5.2 [Offer]")
    assert hold.connection == "0.0.0.0" and hold.media[0].connection == "0.0.0.0"


# --- hand-made cases ---------------------------------------------------------------------------

SESSION_LEVEL = (
    b"v=0\n"
    b"o=- 3762148190 3762148191 IN IP6 2001:db8::1\n"
    b"s=call\n"
    b"c=IN IP6 2001:db8::1\n"
    b"b=AS:64\n"
    b"t=0 0\n"
    b"a=sendonly\n"
    b"a=tool:unknown-line-kept\n"
    b"m=audio 40000 RTP/AVP 9 0 101\n"
    b"a=rtpmap:101 telephone-event/8000\n"
    b"a=fmtp:101 0-16\n"
    b"a=rtcp:40011 IN IP6 2001:db8::1\n"
    b"a=ptime:20\n"
    b"m=audio 40002/2 RTP/SAVPF 111\n"
    b"c=IN IP4 198.51.100.9/127\n"
    b"a=rtpmap:111 opus/48000/2\n"
    b"a=rtcp-mux\n"
    b"a=inactive\n"
    b"m=image 40004 udptl t38\n"
    b"x=unknown line type\n"
)


def test_session_level_direction_and_connection_are_inherited_and_overridden():
    session = parse_sdp(SESSION_LEVEL)  # bare LF line ends are fine
    first, second, image = session.media
    assert session.direction == "sendonly" and session.connection == "2001:db8::1"
    assert first.direction == "sendonly" and first.connection == "2001:db8::1" and first.address_type == "IP6"
    assert second.direction == "inactive" and second.connection == "198.51.100.9"  # TTL dropped
    assert second.address_type == "IP4" and second.port_count == 2 and second.proto == "RTP/SAVPF"
    assert second.rtpmap == {111: ("opus", 48000, 2)} and second.rtcp_mux and not first.rtcp_mux
    assert first.rtcp_port == 40011 and second.rtcp_port is None
    assert first.codec_names() == ["G722", "PCMU", "telephone-event"] and first.fmtp == {101: "0-16"}
    assert first.attribute("ptime") == "20" and first.attribute("rtcp-mux") is None
    assert second.attribute("rtcp-mux") == ""
    assert image.codec_names() == ["t38"] and image.payload_types() == ()
    assert ("tool", "unknown-line-kept") in session.attributes
    assert session.origin.version == 3762148191
    assert session.problems == ()
    assert [m.kind for m in session.audio()] == ["audio", "audio"]


def test_static_payload_types_follow_rfc3551_tables_4_and_5():
    assert {pt: name for pt, (name, _, _) in STATIC_PAYLOAD_TYPES.items() if pt in (0, 3, 4, 8, 9, 18)} == {
        0: "PCMU", 3: "GSM", 4: "G723", 8: "PCMA", 9: "G722", 18: "G729",
    }  # fmt: skip
    assert STATIC_PAYLOAD_TYPES[9][1] == 8000  # G.722's RTP clock, RFC 3551 §4.5.2
    assert STATIC_PAYLOAD_TYPES[34] == ("H263", 90000, 1)
    assert 2 not in STATIC_PAYLOAD_TYPES and 19 not in STATIC_PAYLOAD_TYPES  # reserved


def test_unknown_dynamic_type_without_rtpmap_keeps_its_number():
    session = parse_sdp(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 96\r\n")
    assert session.media[0].codec_names() == ["96"]


def test_oddities_are_problems_not_errors():
    session = parse_sdp(
        b"\r\nv=1\r\ns=-\r\n\r\nbogus line\r\nm=audio 5004 RTP/AVP 0\r\na=rtpmap:x PCMU/8000\r\na=rtcp:abc\r\n"
    )
    assert session.problems == (
        "v=1 is not 0 (RFC 4566 §5.1)",
        "line 4 is empty (RFC 4566 §5)",
        "line 5 'bogus line' is not '<type>=<value>' (RFC 4566 §5)",
        "a=rtpmap:x PCMU/8000 is not '<pt> <name>/<rate>[/<channels>]' (RFC 4566 §6)",
        "a=rtcp:abc has no port (RFC 3605 §2.1)",
        "no o= line (RFC 4566 §5.2)",
        "m= section 1 has no c= line and neither has the session (RFC 4566 §5.7)",
    )
    assert session.media[0].connection is None and session.origin is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body does not start with a v= line, so it is not SDP (RFC 4566 §5)"),
        (b"<xml/>", "body does not start with a v= line, so it is not SDP (RFC 4566 §5)"),
        (b"v=0\r\nm=audio\r\n", "m= line 'audio' lacks <media> <port> <proto> (RFC 4566 §5.14)"),
        (b"v=0\r\nm=audio x RTP/AVP 0\r\n", "m= port 'x' is not a port number (RFC 4566 §5.14)"),
        (b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n", "m= port '70000' is not a port number (RFC 4566 §5.14)"),
        (b"v=0\r\nm=audio 5004/0 RTP/AVP 0\r\n", "m= port count '0' is not a positive number (RFC 4566 §5.14)"),
        (b"v=0\r\no=a b c\r\n", "o= line 'a b c' does not have 6 fields (RFC 4566 §5.2)"),
        (b"v=0\r\no=a 1 v2 IN IP4 h\r\n", "o= sess-version 'v2' is not a 64-bit number (RFC 4566 §5.2)"),
        (b"v=0\r\nc=IN IP4\r\n", "session c= line 'IN IP4' is not '<nettype> <addrtype> <address>' (RFC 4566 §5.7)"),
    ],
)
def test_not_sdp_or_unusable_lines_raise(body, message):
    with pytest.raises(Malformed) as caught:
        parse_sdp(body)
    assert caught.value.reason == "malformed-sdp"
    assert str(caught.value) == message


def test_text_input_is_accepted():
    assert parse_sdp("v=0\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 8\r\n").media[0].codec_names() == ["PCMA"]
