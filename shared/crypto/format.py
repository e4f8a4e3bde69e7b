"""The sealed-object format v1 of the streaming AEAD (docs/encryption.md is the spec): sizes, the
header, key derivation and the opening of one segment. `stream` seals and opens whole objects,
`ranges` opens part of one.

    object  = header ‖ segment_0 ‖ … ‖ segment_{n-1}
    header  = version (1) ‖ segment_size (4, BE) ‖ salt (32) ‖ nonce_prefix (7) ‖ commitment (32)
    segment = AES-256-GCM(segment_key, prefix ‖ index (4, BE) ‖ last (1), plaintext_i, header ‖ context)

Every segment holds `segment_size` plaintext bytes except the last, which holds 1..segment_size
bytes (0 only when the whole plaintext is empty). Ciphertext segments are plaintext + 16 bytes.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from shared.crypto.errors import DecryptionError
from shared.crypto.primitives import KEY_SIZE, TAG_SIZE, Aes256Gcm, Buffer, hkdf_sha256
from shared.logging import get_logger

FORMAT_VERSION = 1
DEFAULT_SEGMENT_SIZE = 65536
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 1 << 24  # 16 MiB: bounds the memory one segment can take when opening
SALT_SIZE = 32
NONCE_PREFIX_SIZE = 7
COMMITMENT_SIZE = 32
SEGMENT_OVERHEAD = TAG_SIZE
MAX_SEGMENTS = 1 << 32  # the segment index is a 32-bit counter in the nonce
MAX_CONTEXT_FIELD = 1024

HEADER_FIXED = struct.Struct(">BI")
HEADER_SIZE = HEADER_FIXED.size + SALT_SIZE + NONCE_PREFIX_SIZE + COMMITMENT_SIZE
NONCE_SUFFIX = struct.Struct(">IB")
KEY_INFO = b"tandem/stream-aead/v1/segment-key\x00"
COMMIT_INFO = b"tandem/stream-aead/v1/commitment\x00"

log = get_logger("shared.crypto")

RandomSource = Callable[[int], bytes]


@dataclass(frozen=True)
class StreamContext:
    """What an object is: bound into key derivation, the commitment and every segment's AAD."""

    record_id: str
    kind: str

    def __post_init__(self) -> None:
        for name in ("record_id", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"StreamContext.{name} must be a non-empty string")
            if len(value.encode("utf-8")) > MAX_CONTEXT_FIELD:
                raise ValueError(f"StreamContext.{name} is longer than {MAX_CONTEXT_FIELD} bytes")

    def encode(self) -> bytes:
        """Unambiguous encoding: u16 length ‖ record_id (UTF-8) ‖ u16 length ‖ kind (UTF-8)."""
        rid = self.record_id.encode("utf-8")
        kind = self.kind.encode("utf-8")
        return struct.pack(">H", len(rid)) + rid + struct.pack(">H", len(kind)) + kind


@dataclass(frozen=True)
class Header:
    """The parsed object header."""

    version: int
    segment_size: int
    salt: bytes
    nonce_prefix: bytes
    commitment: bytes

    def to_bytes(self) -> bytes:
        return HEADER_FIXED.pack(self.version, self.segment_size) + self.salt + self.nonce_prefix + self.commitment


def header_size() -> int:
    """Bytes of the v1 header that starts every sealed object (76)."""
    return HEADER_SIZE


def parse_header(data: Buffer) -> Header:
    """Parse the header at the start of `data`; DecryptionError when it is not a v1 header."""
    if len(data) < HEADER_SIZE:
        fail("header_truncated")
    raw = bytes(data[:HEADER_SIZE])
    version, segment_size = HEADER_FIXED.unpack_from(raw)
    if version != FORMAT_VERSION:
        fail("unsupported_version")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        fail("segment_size_out_of_bounds")
    pos = HEADER_FIXED.size
    salt = raw[pos : pos + SALT_SIZE]
    pos += SALT_SIZE
    prefix = raw[pos : pos + NONCE_PREFIX_SIZE]
    pos += NONCE_PREFIX_SIZE
    return Header(version, segment_size, salt, prefix, raw[pos : pos + COMMITMENT_SIZE])


def ciphertext_size(plaintext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """Size of the sealed object for a plaintext of `plaintext_size` bytes."""
    check_segment_size(segment_size)
    if not isinstance(plaintext_size, int) or plaintext_size < 0:
        raise ValueError("plaintext size must be a non-negative integer")
    segments = segment_count(plaintext_size, segment_size)
    return HEADER_SIZE + plaintext_size + segments * SEGMENT_OVERHEAD


def plaintext_size(ciphertext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """Plaintext bytes inside a sealed object of `ciphertext_size` bytes; ValueError if no object has that size."""
    check_segment_size(segment_size)
    if not isinstance(ciphertext_size, int) or ciphertext_size < HEADER_SIZE + SEGMENT_OVERHEAD:
        raise ValueError("ciphertext too short to be a sealed object")
    body = ciphertext_size - HEADER_SIZE
    full, rest = divmod(body, segment_size + SEGMENT_OVERHEAD)
    if rest == 0:
        size = full * segment_size
    elif rest < SEGMENT_OVERHEAD or (rest == SEGMENT_OVERHEAD and full > 0):
        # A final segment shorter than a tag, or an empty final segment after full ones, is never produced.
        raise ValueError("impossible ciphertext size for this segment size")
    else:
        size = full * segment_size + rest - SEGMENT_OVERHEAD
    if segment_count(size, segment_size) > MAX_SEGMENTS:
        raise ValueError("too many segments")
    return size


class SegmentOpener:
    """Checks a header against the DEK and context (commitment) and opens its segments."""

    __slots__ = ("_aad", "_aead", "_prefix", "segment_size")

    def __init__(self, dek: bytes, ctx: StreamContext, data: Buffer) -> None:
        check_dek(dek)
        header = parse_header(data)
        aead, commitment = derive(dek, header.salt, ctx)
        # The commitment makes a ciphertext open under one DEK only (no "invisible salamander" objects)
        # and rejects a wrong DEK, record id or kind before any segment is touched.
        if not hmac.compare_digest(commitment, header.commitment):
            fail("commitment_mismatch")
        self._aead = aead
        self._prefix = header.nonce_prefix
        self._aad = header.to_bytes() + ctx.encode()
        self.segment_size = header.segment_size

    def open(self, index: int, data: Buffer, last: bool) -> bytes:
        try:
            return self._aead.decrypt(self._prefix + NONCE_SUFFIX.pack(index, last), data, self._aad)
        except DecryptionError:
            fail("segment_authentication", segment=index)


def derive(dek: bytes, salt: bytes, ctx: StreamContext) -> tuple[Aes256Gcm, bytes]:
    info = ctx.encode()
    key = hkdf_sha256(dek, salt=salt, info=KEY_INFO + info, length=KEY_SIZE)
    commitment = hkdf_sha256(dek, salt=salt, info=COMMIT_INFO + info, length=COMMITMENT_SIZE)
    return Aes256Gcm(key), commitment


def segment_count(size: int, segment_size: int) -> int:
    return max(1, -(-size // segment_size))


def stored_plaintext_size(size: int, segment_size: int) -> int:
    try:
        return plaintext_size(size, segment_size)
    except ValueError:
        fail("impossible_size")


def read_exact(read: Callable[[int, int], Buffer], start: int, length: int) -> Buffer:
    data = read(start, length)
    if len(data) != length:
        fail("short_read")
    return data


def check_segment_size(segment_size: int) -> None:
    if not isinstance(segment_size, int) or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes")


def check_dek(dek: bytes) -> None:
    if not isinstance(dek, bytes | bytearray) or len(dek) != KEY_SIZE:
        raise ValueError("a data key is 32 bytes")


def fail(cause: str, **fields: int) -> NoReturn:
    log.debug("crypto.open_failed", cause=cause, **fields)
    raise DecryptionError
