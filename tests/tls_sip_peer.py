"""A real SIP-over-TLS exchange on loopback, captured with tcpdump, with its TLS key log.

Python's ssl writes the session secrets in SSLKEYLOGFILE format (``keylog_filename``), exactly
what a browser or a SIP stack writes for Wireshark, so ``--tls-keylog`` is tested end to end.
The certificate in tests/tls/ is a self-signed test certificate for localhost.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "tls"

INVITE = (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/TLS 127.0.0.1:{cport};branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@127.0.0.1>\r\n"
    "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sips:alice@127.0.0.1>\r\n"
    "Content-Length: 0\r\n\r\n"
)
OK = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/TLS 127.0.0.1:{cport};branch=z9hG4bK776asdhds\r\n"
    "To: Bob <sip:bob@127.0.0.1>;tag=a6c85cf\r\n"
    "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@127.0.0.1\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def capture_tls_call(tcpdump: str, out_dir: Path) -> tuple[Path, Path, int]:
    """Run INVITE / 200 OK over TLS 1.3 on a free loopback port while tcpdump records it.

    Returns (capture path, key log path, server port). Bounded: every step has a timeout.
    """
    port = _free_port()
    pcap = out_dir / "sip-tls.pcap"
    keylog = out_dir / "sip-tls.keys"
    dump = subprocess.Popen(
        [tcpdump, "-i", "lo", "--immediate-mode", "-U", "-w", str(pcap), f"tcp port {port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_listening(dump)
        _exchange(port, keylog)
        time.sleep(0.5)  # let tcpdump write the closing segments
    finally:
        dump.terminate()
        dump.wait(timeout=10)
    return pcap, keylog, port


def _wait_for_listening(dump: subprocess.Popen) -> None:
    # tcpdump says "listening on lo" on stderr once its capture is open.
    deadline = time.monotonic() + 10
    line = b""
    while time.monotonic() < deadline and b"listening" not in line:
        line = dump.stderr.readline()
        if not line and dump.poll() is not None:
            raise RuntimeError("tcpdump exited before capturing")


def _exchange(port: int, keylog: Path) -> None:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(HERE / "cert.pem", HERE / "key.pem")
    server_context.keylog_filename = str(keylog)
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(10)
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                client_port = tls.getpeername()[1]
                tls.sendall(OK.format(cport=client_port).encode())
                time.sleep(0.2)
        except (OSError, ssl.SSLError) as exc:
            failures.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_context.wrap_socket(raw) as tls:
            tls.sendall(INVITE.format(cport=tls.getsockname()[1]).encode())
            tls.recv(4096)
    server.join(timeout=15)
    listener.close()
    if failures:
        raise failures[0]
