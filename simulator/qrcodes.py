"""Contact-way QR codes in the simulator: the picture behind ``qr_code``, and a customer scanning one."""

from __future__ import annotations

import hashlib
import struct
import zlib

from simulator.models import MEMBER_ACTIVE
from simulator.state import SimulatorState

__all__ = ["qr_png", "qr_url", "scan_contact_way"]

_MODULES = 21  # a version-1 QR code's size; the pattern is a stand-in, not a decodable code
_SCALE = 8
_QUIET = 2


def qr_url(state: SimulatorState, config_id: str) -> str:
    """Where the code's image is: this simulator when it knows its address, else WeCom's CDN shape."""
    if state.base_url:
        return f"{state.base_url}/_sim/qr/{config_id}.png"
    return f"https://wework.qpic.cn/wwpic/sim_{config_id}/0"


def _dark(config_id: str, row: int, col: int, bits: bytes) -> bool:
    for top, left in ((0, 0), (0, _MODULES - 7), (_MODULES - 7, 0)):  # the three finder squares
        r, c = row - top, col - left
        if 0 <= r < 7 and 0 <= c < 7:
            return r in (0, 6) or c in (0, 6) or (2 <= r <= 4 and 2 <= c <= 4)
    index = row * _MODULES + col
    return bool(bits[index // 8 % len(bits)] >> (index % 8) & 1)


def qr_png(config_id: str) -> bytes:
    """A grey-scale PNG that differs per ``config_id`` (tests compare the bytes a guide received)."""
    bits = hashlib.sha512(config_id.encode()).digest()
    size = (_MODULES + 2 * _QUIET) * _SCALE
    rows = []
    for y in range(size):
        row, line = y // _SCALE - _QUIET, bytearray([0])  # filter type 0 per scanline
        for x in range(size):
            col = x // _SCALE - _QUIET
            inside = 0 <= row < _MODULES and 0 <= col < _MODULES
            line.append(0 if inside and _dark(config_id, row, col, bits) else 255)
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(
        b"IEND", b""
    )


def scan_contact_way(
    state: SimulatorState, config_id: str, external_userid: str | None = None, *, name: str | None = None
) -> str:
    """A customer scans the code: WeCom picks one of its members (users first, then the parties')
    and calls back ``add_external_contact`` with the code's ``state``."""
    way = state.contact_ways.get(config_id)
    if way is None:
        raise KeyError(f"no contact way {config_id!r} (deleted?)")
    candidates = [u for u in way.users if u in state.members and state.members[u].status == MEMBER_ACTIVE]
    candidates += [
        m.userid
        for m in state.members.values()
        if m.status == MEMBER_ACTIVE and set(m.department) & set(way.parties) and m.userid not in candidates
    ]
    if not candidates:
        raise KeyError(f"contact way {config_id!r} has no active member")
    userid = candidates[way.scans % len(candidates)]  # WeCom spreads a shared code's scans over its members
    way.scans += 1
    return state.customer_scans_qr(userid, external_userid, state=way.state, name=name)
