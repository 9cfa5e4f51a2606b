"""Rob Northen (RNC) ProPack method 1 decompression, written from the public format description.

Old games (Beneath a Steel Sky among them) store their files RNC-packed. Method 1 is LZ77 with
per-block canonical Huffman tables. Layout of a packed file (all header integers big-endian)::

    0   "RNC" + method (1 byte, 1 here)
    4   unpacked size (u32)          8   packed size (u32): bytes after this 18-byte header
    12  CRC16 of the unpacked data   14  CRC16 of the packed data
    16  leeway (u8, for in-place unpacking; unused)   17  number of blocks (u8)
    18  bit stream (packed size bytes)

The stream mixes two things: bits, taken least-significant first from 16-bit little-endian words
fetched only when the bits in hand run out, and runs of literal bytes copied straight from the
current byte position (so a literal run starts at the first byte after the last word fetched).
It opens with 2 flag bits (lock, key; a set key means encrypted literals, which we refuse). Then,
per block: three Huffman tables (literal-run lengths, match distances, match lengths), each as a
5-bit symbol count and a 4-bit code length per symbol (0 = unused; codes canonical by (length,
symbol), stored bit-reversed because bits are read LSB first); a 16-bit count of commands; then per
command a literal run (its length from table 1), and - except after the last command of the block - a
match: distance = table 2 + 1, length = table 3 + 2. A decoded symbol v >= 2 stands for
``(1 << (v-1)) | next (v-1) bits``; 0 and 1 stand for themselves. CRC16 is CRC-16/ARC
(reflected polynomial 0xA001, initial value 0).
"""
from __future__ import annotations

import struct

import numpy as np

from edge_ssl.errors import EdgeSSLError

SIGNATURE = b"RNC\x01"
HEADER_SIZE = 18


class RNCError(EdgeSSLError):
    """Packed data is not RNC method 1, is truncated or corrupt, or fails a CRC. The message says which."""


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        v = i
        for _ in range(8):
            v = (v >> 1) ^ 0xA001 if v & 1 else v >> 1
        table[i] = v
    return table


_CRC_TABLE = _crc_table()
_CRC_LIST = _CRC_TABLE.tolist()
_LANES = 256  # bytes processed side by side in the numpy CRC


def _crc_serial(data: bytes | np.ndarray, crc: int = 0) -> int:
    t = _CRC_LIST
    for b in bytes(data):
        crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
    return crc


def _crc_zeros_matrix(n: int) -> np.ndarray:
    """The linear map 'feed n zero bytes' on a 16-bit CRC state, as the images of the 16 unit states."""
    states = (1 << np.arange(16, dtype=np.uint32))
    for _ in range(n):
        states = (states >> 8) ^ _CRC_TABLE[states & 0xFF]
    return states


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/ARC of ``data``.

    A Python byte loop is ~10 s for the ~150 MB a full extraction checks, so long inputs are cut into
    ``_LANES`` equal strips whose CRCs numpy advances together; CRC-16/ARC is linear (init 0, no final
    xor), so crc(A + B) = zeros_len(B)(crc(A)) ^ crc(B) glues the strips back in order.
    """
    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    strip = len(buf) // _LANES
    if strip < 64:
        return _crc_serial(buf)
    body = buf[:strip * _LANES].reshape(_LANES, strip)
    states = np.zeros(_LANES, dtype=np.uint32)
    for col in body.T:  # strip steps, each advancing every lane by one byte
        states = (states >> 8) ^ _CRC_TABLE[(states ^ col) & 0xFF]
    shift = _crc_zeros_matrix(strip)
    crc = 0
    for s in states.tolist():
        moved = 0
        for bit in range(16):
            if crc >> bit & 1:
                moved ^= int(shift[bit])
        crc = moved ^ s
    return _crc_serial(buf[strip * _LANES:], crc)


def _huffman_table(lengths: list[int], where: str) -> tuple[list[int], int]:
    """A lookup list indexed by the next ``width`` stream bits -> ``symbol << 4 | code length``.

    Codes are canonical: shortest first, ties by symbol; each is stored bit-reversed (LSB-first stream),
    so a code of length l fills every 2**l-th slot from its reversed value. Empty slots are 0 (length 0).
    """
    width = max(lengths, default=0)  # 0: an empty table (fine while unused; any lookup fails)
    table = [0] * (1 << width)
    code = 0
    for length in range(1, width + 1):
        for symbol, n in enumerate(lengths):
            if n == length:
                if code >= 1 << length:
                    raise RNCError(f"{where}: Huffman code lengths {lengths} over-subscribe the code space")
                rev = int(f"{code:0{length}b}"[::-1], 2)
                table[rev::1 << length] = [symbol << 4 | length] * (1 << (width - length))
                code += 1
        code <<= 1
    return table, width


def unpack_stream(packed: bytes | bytearray | memoryview, unpacked_size: int, where: str = "RNC data") -> bytes:
    """Decode a headerless method-1 bit stream into exactly ``unpacked_size`` bytes."""
    try:
        return _unpack_stream(bytes(packed), unpacked_size, where)
    except IndexError:  # bits wanted far past the end: a damaged or cut stream
        raise RNCError(f"{where}: packed data ends before {unpacked_size} bytes were unpacked") from None


def _unpack_stream(packed: bytes, unpacked_size: int, where: str) -> bytes:
    data = packed + b"\0" * 8  # words fetched just past the end read as zeros; overruns are caught below
    end = len(data) - 8
    out = bytearray()
    pos, buf, nbits = 0, 0, 0

    def read(n: int) -> int:
        nonlocal pos, buf, nbits
        while nbits < n:
            buf |= (data[pos] | data[pos + 1] << 8) << nbits
            pos += 2
            nbits += 16
        v = buf & ((1 << n) - 1)
        buf >>= n
        nbits -= n
        return v

    def read_table() -> tuple[list[int], int]:
        count = read(5)
        return _huffman_table([read(4) for _ in range(count)], where)

    if read(2) & 2:
        raise RNCError(f"{where}: encrypted RNC stream (key flag set); no key to decode it")
    tables: list[tuple[list[int], int]] = []
    while len(out) < unpacked_size:
        if pos > end:
            raise RNCError(f"{where}: packed data ends before {unpacked_size} bytes were unpacked ({len(out)})")
        tables = [read_table(), read_table(), read_table()]
        commands = read(16)
        if commands == 0:
            raise RNCError(f"{where}: block with 0 commands at packed byte {pos}")
        # The hot loop: the three symbol decodes are inlined (peek without fetching, then consume).
        values = []
        for command in range(commands):
            for t, (table, width) in enumerate(tables):
                if t and command == commands - 1:
                    break
                if nbits >= width:
                    look = buf
                else:
                    look = buf | (data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | data[pos + 3] << 24) << nbits
                entry = table[look & ((1 << width) - 1)]
                n = entry & 15
                if n == 0:
                    raise RNCError(f"{where}: invalid Huffman code at packed byte {pos}")
                while nbits < n:
                    buf |= (data[pos] | data[pos + 1] << 8) << nbits
                    pos += 2
                    nbits += 16
                buf >>= n
                nbits -= n
                v = entry >> 4
                if v >= 2:
                    extra = v - 1
                    while nbits < extra:
                        buf |= (data[pos] | data[pos + 1] << 8) << nbits
                        pos += 2
                        nbits += 16
                    v = (1 << extra) | (buf & ((1 << extra) - 1))
                    buf >>= extra
                    nbits -= extra
                if t == 0:
                    if v:
                        if pos + v > end:
                            raise RNCError(f"{where}: literal run of {v} bytes at packed byte {pos} runs past "
                                           f"the end of the {end}-byte stream")
                        out += data[pos:pos + v]
                        pos += v
                elif t == 1:
                    values.append(v + 1)
                else:
                    dist, length = values.pop() , v + 2
                    start = len(out) - dist
                    if start < 0:
                        raise RNCError(f"{where}: match distance {dist} reaches before the start of the output "
                                       f"({len(out)} bytes so far)")
                    if dist >= length:
                        out += out[start:start + length]
                    else:
                        pattern = out[start:]
                        out += (pattern * (length // dist + 1))[:length]
            if len(out) > unpacked_size:
                break
        if len(out) > unpacked_size:
            raise RNCError(f"{where}: unpacks to more than the declared {unpacked_size} bytes")
    if len(out) != unpacked_size:
        raise RNCError(f"{where}: unpacked {len(out)} bytes, header declares {unpacked_size}")
    return bytes(out)


def parse_header(packed: bytes | bytearray | memoryview, where: str = "RNC data") -> tuple[int, int, int, int]:
    """``(unpacked size, packed size, unpacked CRC, packed CRC)`` from an 18-byte RNC method-1 header."""
    head = bytes(packed[:HEADER_SIZE])
    if len(head) < HEADER_SIZE:
        raise RNCError(f"{where}: {len(head)} bytes, too short for an {HEADER_SIZE}-byte RNC header")
    if head[:3] != b"RNC":
        raise RNCError(f"{where}: no RNC signature (starts with {head[:4]!r})")
    if head[3] != 1:
        raise RNCError(f"{where}: RNC method {head[3]}, only method 1 is supported")
    return struct.unpack(">IIHH", head[4:16])


def unpack(packed: bytes | bytearray | memoryview, where: str = "RNC data") -> bytes:
    """Unpack an RNC method-1 file (header + stream), checking both CRC16s and both sizes."""
    size, packed_size, crc_out, crc_in = parse_header(packed, where)
    stream = bytes(packed[HEADER_SIZE:HEADER_SIZE + packed_size])
    if len(stream) < packed_size:
        raise RNCError(f"{where}: truncated: header declares {packed_size} packed bytes, {len(stream)} present")
    got = crc16(stream)
    if got != crc_in:
        raise RNCError(f"{where}: packed-data CRC mismatch (header {crc_in:#06x}, computed {got:#06x})")
    out = unpack_stream(stream, size, where)
    got = crc16(out)
    if got != crc_out:
        raise RNCError(f"{where}: unpacked-data CRC mismatch (header {crc_out:#06x}, computed {got:#06x})")
    return out
