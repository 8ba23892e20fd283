"""A network namespace of our own with Kamailio and SIPp on its loopback, for the live tests
(tests/system/test_live.py) and the live benchmark (bench/bench_live.py).

Kamailio (tests/kamailio/kamailio.cfg) listens on 127.0.0.2:5060, the SIPp UAS on
127.0.0.3:5070, the SIPp UAC calls from 127.0.0.1:5080. With ``hep_port`` Kamailio's siptrace
module mirrors every SIP message it receives or sends as HEPv3 to 127.0.0.1:hep_port. The
namespace is new and empty, so fixed ports are safe and nothing outside sees the traffic.
Every process started here is stopped by its own handle; ``close()`` deletes the namespace.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "kamailio"
UAC_IP, PROXY_IP, UAS_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3"
PROXY_PORT, UAS_PORT, UAC_PORT = 5060, 5070, 5080
HEP_PORT = 9060
# The SIP between the three, not siptrace's HEP copies (sent from Kamailio's SIP port).
SIP_FILTER = f"udp and (port {PROXY_PORT} or port {UAS_PORT} or port {UAC_PORT}) and not port {HEP_PORT}"

# siptrace's HEP mirror: every message Kamailio receives or sends (core events), HEPv3.
HEP_MODULE = """
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:@HEP_PORT@")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", 2001)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_mode", 1)
"""


class LabUnavailable(Exception):
    """What the lab needs is missing here (no root, no ip/kamailio/sipp)."""


def kamailio_modules() -> str:
    for pattern in ("/usr/lib/*/kamailio/modules", "/usr/lib/kamailio/modules", "/usr/local/lib*/kamailio/modules"):
        for path in glob.glob(pattern):
            if os.path.exists(os.path.join(path, "tm.so")):
                return path
    raise LabUnavailable("kamailio modules (tm.so) not found")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
    if process.poll() is None:
        try:
            process.send_signal(sig)
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.returncode


class Lab:
    def __init__(self, work: Path, *, hep_port: int | None = None):
        for tool in ("ip", "kamailio", "sipp", "tcpdump"):
            if shutil.which(tool) is None:
                raise LabUnavailable(f"{tool} not installed")
        if os.geteuid() != 0:
            raise LabUnavailable("network namespaces need root")
        self.work = work
        self.name = f"pladder{os.getpid()}x{int(time.monotonic() * 1000) % 100000}"
        self.processes: list[subprocess.Popen] = []
        done = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if done.returncode != 0:
            raise LabUnavailable(f"ip netns add: {done.stderr.strip()}")
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        config = (HERE / "kamailio.cfg").read_text(encoding="utf-8")
        if hep_port is not None:
            config = config.replace('loadmodule "textops.so"\n', 'loadmodule "textops.so"\n' + HEP_MODULE)
        for name, value in (("PROXY_IP", PROXY_IP), ("PROXY_PORT", PROXY_PORT), ("UAS_IP", UAS_IP),
                            ("UAS_PORT", UAS_PORT), ("MODULES", kamailio_modules()), ("HEP_PORT", hep_port)):
            config = config.replace(f"@{name}@", str(value))
        self.config = work / "kamailio.cfg"
        self.config.write_text(config, encoding="utf-8")

    def argv(self, *command: str) -> list[str]:
        """``command`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    def popen(self, *command: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(self.argv(*command), **kwargs)
        self.processes.append(process)
        return process

    def udp_bound(self, ip: str, port: int) -> bool:
        wanted = "".join(f"{int(part):02X}" for part in reversed(ip.split("."))) + f":{port:04X}"
        table = subprocess.run(self.argv("cat", "/proc/net/udp"), capture_output=True, text=True).stdout
        return any(line.split()[1] == wanted for line in table.splitlines()[1:] if line.strip())

    def wait_bound(self, ip: str, port: int, what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.udp_bound(ip, port):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} to listen on {ip}:{port}")

    def start_proxy(self, *, children: int = 1) -> None:
        check = subprocess.run(["kamailio", "-c", "-f", str(self.config)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise AssertionError(check.stderr[-2000:])
        log = open(self.work / "kamailio.log", "w")  # noqa: SIM115 - kept for the process's life
        self.popen("kamailio", "-f", str(self.config), "-DD", "-E", "-Y", str(self.work), "-n", str(children),
                   stdout=subprocess.DEVNULL, stderr=log)
        self.wait_bound(PROXY_IP, PROXY_PORT, "kamailio")

    def start_uas(self, *extra: str, scenario: Path = HERE / "uas.xml") -> subprocess.Popen:
        uas = self.popen("sipp", "-sf", str(scenario), "-i", UAS_IP, "-p", str(UAS_PORT), "-nostdin",
                         *extra, cwd=self.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_bound(UAS_IP, UAS_PORT, "the SIPp UAS")
        return uas

    def call(self, scenario: str = "uac.xml", count: int = 1, *extra: str, timeout: float = 60) -> None:
        """``count`` calls from the SIPp UAC through Kamailio, waited for."""
        subprocess.run(self.argv("sipp", f"{PROXY_IP}:{PROXY_PORT}", "-sf", str(HERE / scenario), "-i", UAC_IP,
                                 "-p", str(UAC_PORT), "-m", str(count), "-s", "bob", "-nostdin",
                                 "-timeout", f"{int(timeout)}s", *extra),
                       cwd=self.work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout + 20, check=True)

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
