from typing import Any

from decoders.records import Endpoint, FrameRef
from decoders.sip import SipMessage

def setup(classes: dict[str, type[Any]], canonical_name: Any) -> bool: ...
def parse_plain(data: bytes, src: Endpoint | None, dst: Endpoint | None, frames: tuple[FrameRef, ...],
                ts_ns: int) -> SipMessage | None: ...
