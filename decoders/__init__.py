"""Bytes in, frozen records out: link layers, IP, transport reassembly, SIP, SDP, RTP/RTCP, HEP.

Nothing here does file I/O or imports from ``ladder`` or ``tui``.
"""
