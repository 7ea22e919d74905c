"""The few DER (ITU-T X.690) encodings PKCS #11 attributes and mechanisms use.

CKA_EC_POINT is a DER OCTET STRING, CKA_EC_PARAMS a DER OBJECT IDENTIFIER or PrintableString,
CKA_SERIAL_NUMBER a DER INTEGER, CKM_RSA_PKCS signs a DER DigestInfo. This module reads and
writes just those, strictly (definite, minimal lengths). Parse errors raise DerError, an
AttributeValueInvalid, so a caller may let it through or re-raise a more specific code.
"""

from __future__ import annotations

from tokenport.errors import AttributeValueInvalid

TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_PRINTABLE_STRING = 0x13
TAG_SEQUENCE = 0x30


class DerError(AttributeValueInvalid):
    """Malformed DER."""


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def encode_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(content)) + content


def encode_octet_string(content: bytes) -> bytes:
    return encode_tlv(TAG_OCTET_STRING, content)


def encode_integer(value: int) -> bytes:
    """A DER INTEGER (two's complement, minimal)."""
    length = (value.bit_length() + 8) // 8  # room for the sign bit
    raw = value.to_bytes(max(length, 1), "big", signed=True)
    while len(raw) > 1 and (
        (raw[0] == 0x00 and raw[1] < 0x80) or (raw[0] == 0xFF and raw[1] >= 0x80)
    ):
        raw = raw[1:]
    return encode_tlv(TAG_INTEGER, raw)


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``offset``.

    Only single-byte tags and definite minimal lengths are accepted.
    """
    if offset + 2 > len(data):
        raise DerError("truncated DER")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte DER tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80 or first > 0x84:
        raise DerError("indefinite or oversized DER length")
    else:
        count = first & 0x7F
        if pos + count > len(data):
            raise DerError("truncated DER length")
        raw = data[pos : pos + count]
        if raw[0] == 0:
            raise DerError("non-minimal DER length")
        length = int.from_bytes(raw, "big")
        if length < 0x80:
            raise DerError("non-minimal DER length")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("truncated DER content")
    return tag, pos, end


def decode_single(data: bytes, tag: int) -> bytes:
    """The content of ``data`` when it is exactly one TLV with tag ``tag``."""
    got, start, end = read_tlv(data)
    if got != tag or end != len(data):
        raise DerError(f"expected one DER element with tag 0x{tag:02x}")
    return data[start:end]


def children(data: bytes, start: int = 0, end: int | None = None) -> list[bytes]:
    """The complete TLVs found one after another in ``data[start:end]``."""
    stop = len(data) if end is None else end
    out: list[bytes] = []
    pos = start
    while pos < stop:
        _, _, elem_end = read_tlv(data, pos)
        if elem_end > stop:
            raise DerError("DER element overruns its container")
        out.append(data[pos:elem_end])
        pos = elem_end
    return out


def sequence_items(data: bytes) -> list[bytes]:
    """The elements of ``data``, which must be exactly one DER SEQUENCE."""
    tag, start, end = read_tlv(data)
    if tag != TAG_SEQUENCE or end != len(data):
        raise DerError("expected a DER SEQUENCE")
    return children(data, start, end)


def decode_oid(content: bytes) -> tuple[int, ...]:
    """The arcs of an OBJECT IDENTIFIER's content octets."""
    if not content or content[-1] & 0x80:
        raise DerError("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise DerError("non-minimal OBJECT IDENTIFIER arc")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = (min(first // 40, 2), first - 40 * min(first // 40, 2))
    return head + tuple(arcs[1:])


def encode_oid(arcs: tuple[int, ...]) -> bytes:
    """A DER OBJECT IDENTIFIER (tag and length included)."""
    values = [40 * arcs[0] + arcs[1], *arcs[2:]]
    out = bytearray()
    for value in values:
        chunk = [value & 0x7F]
        value >>= 7
        while value:
            chunk.append(0x80 | (value & 0x7F))
            value >>= 7
        out.extend(reversed(chunk))
    return encode_tlv(TAG_OID, bytes(out))
