"""RNC method 1: round trips through a small packer written here from the format description (LZ77 +
canonical Huffman tables + CRC16s), so the decoder is checked against known output without any
third-party (GPL) unpacker."""
import heapq
import random
import struct

import pytest

from edge_ssl.data.real import rnc


class _BitWriter:
    """The stream as the unpacker reads it: bits LSB first in 16-bit LE words, each word reserved at the
    current end of the output when its first bit is written; literal bytes go straight to the end."""

    def __init__(self):
        self.out = bytearray()
        self.word_at = None
        self.used = 16

    def bits(self, value: int, n: int) -> None:
        for i in range(n):
            if self.used == 16:
                self.word_at, self.used = len(self.out), 0
                self.out += b"\0\0"
            if value >> i & 1:
                self.out[self.word_at + self.used // 8] |= 1 << (self.used % 8)
            self.used += 1

    def raw(self, data: bytes) -> None:
        self.out += data


def _symbol(v: int) -> tuple[int, int, int]:
    """value -> (symbol, extra bits, number of extra bits): 0, 1 as is; else 1 << (s-1) | extra."""
    if v < 2:
        return v, 0, 0
    s = v.bit_length()
    return s, v - (1 << (s - 1)), s - 1


def _code_lengths(freq: dict[int, int]) -> list[int]:
    """Huffman code lengths for the symbols used (a lone symbol gets length 1)."""
    used = [s for s, f in freq.items() if f]
    lengths = [0] * (max(used) + 1)
    if len(used) == 1:
        lengths[used[0]] = 1
        return lengths
    heap = [(freq[s], i, [s]) for i, s in enumerate(used)]
    heapq.heapify(heap)
    tie = len(heap)
    while len(heap) > 1:
        fa, _, a = heapq.heappop(heap)
        fb, _, b = heapq.heappop(heap)
        for s in a + b:
            lengths[s] += 1
        heapq.heappush(heap, (fa + fb, tie, a + b))
        tie += 1
    assert max(lengths) <= 15
    return lengths


def _codes(lengths: list[int]) -> dict[int, tuple[int, int]]:
    """Canonical codes (by length, then symbol), bit-reversed for the LSB-first stream."""
    codes, code = {}, 0
    for n in range(1, max(lengths) + 1):
        for s, ln in enumerate(lengths):
            if ln == n:
                codes[s] = (int(f"{code:0{n}b}"[::-1], 2), n)
                code += 1
        code <<= 1
    return codes


def _tokens(data: bytes, matches: bool) -> list[tuple[bytes, int, int]]:
    """Greedy LZ77 commands (literals, distance, length); the last has distance 0 (no match)."""
    cmds, lits, i, last = [], bytearray(), 0, {}
    while i < len(data):
        best_len, best_dist = 0, 0
        j = last.get(data[i:i + 3]) if matches else None
        if j is not None and 0 < i - j <= 4096:
            n = 0
            while i + n < len(data) and n < 255 and data[j + n] == data[i + n]:
                n += 1
            if n >= 3:
                best_len, best_dist = n, i - j
        if matches:
            last[data[i:i + 3]] = i
        if best_len:
            cmds.append((bytes(lits), best_dist, best_len))
            lits = bytearray()
            i += best_len
        else:
            lits.append(data[i])
            i += 1
    cmds.append((bytes(lits), 0, 0))
    return cmds


def pack(data: bytes, block_commands: int = 1000, matches: bool = True, header: bool = True) -> bytes:
    """``data`` as an RNC method-1 file (or its bare stream with ``header=False``)."""
    # Blocks of at most block_commands commands. A block's last command has no match, so the match of a
    # command that closes a block is handed to the next block as literals.
    blocks, cur, carry, pos = [], [], b"", 0
    for lits, dist, length in _tokens(data, matches):
        at = pos + len(lits)
        if dist and len(cur) == block_commands - 1:
            blocks.append(cur + [(carry + lits, 0, 0)])
            cur, carry = [], data[at:at + length]
        else:
            cur.append((carry + lits, dist, length))
            carry = b""
        pos = at + length
    blocks.append(cur)
    w = _BitWriter()
    w.bits(0, 2)  # lock, key
    for block in blocks:
        tables = []
        for k in range(3):
            freq: dict[int, int] = {}
            for n, (lits, dist, length) in enumerate(block):
                if k and n == len(block) - 1:
                    continue
                v = (len(lits), dist - 1, length - 2)[k]
                s = _symbol(v)[0]
                freq[s] = freq.get(s, 0) + 1
            lengths = _code_lengths(freq) if freq else []  # an unused table may be empty
            w.bits(len(lengths), 5)
            for ln in lengths:
                w.bits(ln, 4)
            tables.append(_codes(lengths) if lengths else {})
        w.bits(len(block), 16)
        for n, (lits, dist, length) in enumerate(block):
            for k, v in enumerate((len(lits), dist - 1, length - 2)):
                if k and n == len(block) - 1:
                    break
                s, extra, nextra = _symbol(v)
                code, ln = tables[k][s]
                w.bits(code, ln)
                w.bits(extra, nextra)
                if k == 0 and lits:
                    w.raw(lits)
    stream = bytes(w.out)
    if not header:
        return stream
    return (b"RNC\x01" + struct.pack(">IIHH", len(data), len(stream), _crc(data), _crc(stream))
            + bytes([0, min(len(blocks), 255)]) + stream)


def _crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _speechy(n: int, seed: int = 0) -> bytes:
    """8-bit PCM-like bytes: a wobbling tone around 0x80 with silence, noise and repeats."""
    rng = random.Random(seed)
    out = bytearray(b"\x80" * 300)
    for i in range(n):
        out.append(128 + int(40 * ((i * 7 % 23) / 23 - 0.5)) + rng.randint(-3, 3))
    out += out[100:900]
    return bytes(out)


@pytest.mark.parametrize("data", [
    b"", b"a", b"abababababababababab", bytes(range(256)) * 3, b"\x80" * 5000, _speechy(6000),
    bytes(random.Random(1).randrange(256) for _ in range(3000)),
])
@pytest.mark.parametrize("matches", [True, False])
def test_round_trip(data, matches):
    assert rnc.unpack(pack(data, matches=matches)) == data


def test_round_trip_many_blocks_and_bare_stream():
    data = _speechy(20000, seed=3)
    packed = pack(data, block_commands=50)
    assert packed[17] > 10  # the header's block count: really many blocks
    assert rnc.unpack(packed) == data
    assert rnc.unpack_stream(pack(data, block_commands=50, header=False), len(data)) == data


def test_crc16_matches_the_bytewise_definition():
    for n in (0, 1, 63, 1000, 70_001):
        data = bytes(random.Random(n).randrange(256) for _ in range(n))
        assert rnc.crc16(data) == _crc(data)
    assert rnc.crc16(b"123456789") == 0xBB3D  # CRC-16/ARC check value


def test_packed_crc_mismatch_is_a_clear_error():
    packed = bytearray(pack(_speechy(2000)))
    packed[40] ^= 0x10
    with pytest.raises(rnc.RNCError, match=r"clip\.rnc: packed-data CRC mismatch \(header 0x"):
        rnc.unpack(bytes(packed), "clip.rnc")


def test_unpacked_crc_mismatch_is_a_clear_error():
    packed = bytearray(pack(b"hello hello hello world"))
    packed[12] ^= 0xFF  # the unpacked-data CRC in the header
    with pytest.raises(rnc.RNCError, match="unpacked-data CRC mismatch"):
        rnc.unpack(bytes(packed))


@pytest.mark.parametrize("mangle, message", [
    (lambda p: p[:10], "too short for an 18-byte RNC header"),
    (lambda p: b"XYZ" + p[3:], "no RNC signature"),
    (lambda p: p[:3] + b"\x02" + p[4:], "RNC method 2, only method 1"),
    (lambda p: p[:-5], "truncated: header declares"),
])
def test_bad_headers_name_the_problem(mangle, message):
    with pytest.raises(rnc.RNCError, match=message):
        rnc.unpack(mangle(pack(b"some bytes to pack " * 20)))


def test_damaged_streams_fail_only_with_rnc_errors():
    """Damage (flipped bytes, cut tails) gives RNCError or wrong bytes, never a crash or a hang."""
    data = _speechy(3000)
    clean = pack(data, block_commands=40, header=False)
    rng = random.Random(7)
    outcomes = set()
    for trial in range(40):
        stream = bytearray(clean)
        for _ in range(rng.randint(1, 5)):
            stream[rng.randrange(len(stream))] ^= 1 << rng.randrange(8)
        if trial % 4 == 0:
            stream = stream[:rng.randrange(len(stream))]
        try:
            out = rnc.unpack_stream(bytes(stream), len(data))
            outcomes.add("decoded")
            assert len(out) == len(data)
        except rnc.RNCError:
            outcomes.add("error")
    assert "error" in outcomes
