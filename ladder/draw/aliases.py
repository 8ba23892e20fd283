"""User-given names for addresses: ``--alias IP[:PORT]=NAME`` and ``--alias-file FILE``.

An alias file has one alias a line, ``IP[:PORT] NAME`` or ``IP[:PORT]=NAME``; ``#`` starts a
comment. IPv6 addresses with a port are written in brackets: ``[2001:db8::1]:5060``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ladder.errors import UsageError


@dataclass(frozen=True, slots=True)
class AliasMap:
    """Names by ``(ip, port)`` (most specific) and by ``ip``."""

    by_endpoint: dict[tuple[str, int], str] = field(default_factory=dict)
    by_ip: dict[str, str] = field(default_factory=dict)

    def lookup(self, ip: str, port: int | None = None) -> str | None:
        if port is not None and (ip, port) in self.by_endpoint:
            return self.by_endpoint[(ip, port)]
        return self.by_ip.get(ip)

    def __bool__(self) -> bool:
        return bool(self.by_endpoint or self.by_ip)

    def rekeyed(self, map_ip) -> "AliasMap":
        """The same names under other addresses (``map_ip(original) -> new``): an anonymised
        report keeps the user's names for the hosts whose addresses it replaced."""
        return AliasMap(
            {(map_ip(ip), port): name for (ip, port), name in self.by_endpoint.items()},
            {map_ip(ip): name for ip, name in self.by_ip.items()},
        )


def _normal_ip(text: str, where: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(f"{where}: {text!r} is not an IP address") from None


def parse_address(text: str, where: str) -> tuple[str, int | None]:
    """``IP``, ``IPv4:PORT``, ``[IPv6]:PORT`` or a bare IPv6 address -> (ip, port or None)."""
    text = text.strip()
    port_text = ""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise UsageError(f"{where}: {text!r} has '[' without ']'")
        host, rest = text[1:close], text[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"{where}: unexpected {rest!r} after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise UsageError(f"{where}: bad port {port_text!r}")
        port = int(port_text)
    return _normal_ip(host, where), port


def parse_alias(text: str, where: str = "--alias") -> tuple[str, int | None, str]:
    """``IP[:PORT]=NAME`` or ``IP[:PORT] NAME`` -> (ip, port, name)."""
    text = text.strip()
    if "=" in text:
        address, _, name = text.partition("=")
    else:
        parts = text.split(None, 1)
        if len(parts) != 2:
            raise UsageError(f"{where}: expected IP[:PORT]=NAME, got {text!r}")
        address, name = parts
    name = name.strip()
    if not name:
        raise UsageError(f"{where}: alias for {address.strip()!r} has no name")
    ip, port = parse_address(address, where)
    return ip, port, name


def load_alias_file(path: str) -> list[tuple[str, int | None, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read alias file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"alias file {path} is not UTF-8 text") from None
    aliases = []
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            aliases.append(parse_alias(line, f"{path}:{number}"))
    return aliases


def build_aliases(alias_args: list[str] | None = None, alias_file: str | None = None) -> AliasMap:
    """The alias map from the command line: the file first, ``--alias`` values override it."""
    entries = load_alias_file(alias_file) if alias_file else []
    entries += [parse_alias(text) for text in alias_args or ()]
    aliases = AliasMap()
    for ip, port, name in entries:
        if port is None:
            aliases.by_ip[ip] = name
        else:
            aliases.by_endpoint[(ip, port)] = name
    return aliases


def add_alias_arguments(parser) -> None:
    """``--alias`` and ``--alias-file`` for every command that draws participants."""
    parser.add_argument("--alias", action="append", default=[], metavar="IP[:PORT]=NAME",
                        help="name a participant column (repeatable)")
    parser.add_argument("--alias-file", metavar="FILE",
                        help="aliases, one 'IP[:PORT] NAME' a line, # comments")
