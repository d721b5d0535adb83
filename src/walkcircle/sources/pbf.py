"""The tagged ways of an OSM PBF file and their node locations, decoded with numpy.

pyosmium hands a way's nodes to Python one object at a time; for a city's streets that is
most of the read. A PBF file is a sequence of zlib-compressed protobuf blocks whose bulk
(node ids, coordinates, way node lists) is packed varints, so this module decodes them
whole-array: every dense node of a block and every node list of its ways at once. Only what
a street network needs is read: the dense nodes' locations and the ways carrying a given
key, with their values of some keys. The tags of every way are kept, for the last file read
only, so that `ways_with_tags` can tell a later reader of that file which ways to look at.

`read_tagged_ways` returns None where a file asks for more than it decodes (a block
compressed other than with zlib, plain (non-dense) nodes, a required feature other
than the OSM schema and dense nodes, such as history files, a way with a field that is not a
varint) and where it is damaged; the caller then reads the file with pyosmium, which reads
what this module leaves and words the error for a damaged file.
The coordinates are libosmium's fixed-point integers (1e-7 degrees), computed as libosmium
does, so both readers give the same arrays.

Format: https://wiki.openstreetmap.org/wiki/PBF_Format (fileformat.proto, osmformat.proto).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from walkcircle._arrays import unique_values

__all__ = ["UNDEFINED_COORDINATE", "TaggedWays", "is_pbf", "read_tagged_ways", "ways_with_tags"]

UNDEFINED_COORDINATE = 2147483647
"""libosmium's fixed-point value for "no location" (a node missing from the file)."""

_SUPPORTED_FEATURES = frozenset({"OsmSchema-V0.6", "DenseNodes"})
_MAX_HEADER_BYTES = 64 * 1024  # fileformat.proto: a BlobHeader is at most 64 KiB
_MAX_BLOB_BYTES = 32 * 1024 * 1024  # and a Blob at most 32 MiB
_NANODEGREES_PER_UNIT = 100  # libosmium's resolution: 1e9 / 1e7


class _UndecodedError(ValueError):
    """What stops the decoding: damage, or a feature left to pyosmium (the reason says which)."""


@dataclass
class TaggedWays:
    """The ways carrying a key, in file order, with their node references.

    Attributes
    ----------
    way_id
        OSM ids of the ways.
    tags
        Per way, its values of the keys asked for (keys it lacks are left out).
    ref_way
        For each node reference, in order, the row of its way.
    ref_id
        The referenced node ids.
    ref_x, ref_y
        Their locations as libosmium's fixed-point integers (1e-7 degrees);
        `UNDEFINED_COORDINATE` where the node is not in the file.
    """

    way_id: np.ndarray
    tags: list[dict[str, str]]
    ref_way: np.ndarray
    ref_id: np.ndarray
    ref_x: np.ndarray
    ref_y: np.ndarray


# ---------------------------------------------------------------------------- protobuf


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read one base-128 varint at `pos`; return (value, next position)."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise _UndecodedError("a varint longer than 10 bytes")


def _fields(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """Walk a protobuf message: yield (field number, wire type, value or start, end).

    For a varint the third item is its value; for a length-delimited field, the start of
    its bytes (the fourth item is their end). Fixed-width fields are skipped over.
    """
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value, pos
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise _UndecodedError("a field runs past its message")
            yield number, wire, pos, pos + size
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise _UndecodedError(f"wire type {wire} in field {number}")
    if pos != end:
        raise _UndecodedError("a field runs past its message")


def _packed(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode concatenated varints; return (values as uint64, index of each value's last byte).

    Examples
    --------
    >>> values, _ = _packed(np.frombuffer(bytes([1, 0xAC, 0x02, 0x7F]), np.uint8))
    >>> values.tolist()
    [1, 300, 127]
    """
    last = np.flatnonzero(data < 0x80)
    if (last.size and last[-1] != data.size - 1) or (data.size and not last.size):
        raise _UndecodedError("packed varints end inside a value")
    if not last.size:
        return np.zeros(0, np.uint64), last
    first = np.empty_like(last)
    first[0] = 0
    first[1:] = last[:-1] + 1
    length = last - first + 1
    longest = int(length.max())
    if longest > 10:
        raise _UndecodedError("a varint longer than 10 bytes")
    # byte k of a varint holds bits 7k..7k+6: add the k-th bytes of the varints that have one
    values = (data[first] & 0x7F).astype(np.uint64)
    for k in range(1, longest):
        rows = np.flatnonzero(length > k)
        values[rows] |= (data[first[rows] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values, last


def _zigzag(values: np.ndarray) -> np.ndarray:
    """Signed values of zigzag-encoded (sint64) varints."""
    return (values >> np.uint64(1)).astype(np.int64) ^ -(values & np.uint64(1)).astype(np.int64)


def _to_units(raw: np.ndarray, granularity: int, offset: int) -> np.ndarray:
    """Fixed-point 1e-7 degree units of PBF coordinates, truncated as libosmium's integer division."""
    nano = raw * granularity + offset
    units = np.abs(nano) // _NANODEGREES_PER_UNIT
    return np.where(nano < 0, -units, units).astype(np.int64)


# ---------------------------------------------------------------------------- blocks


def _blobs(data: memoryview) -> Iterator[tuple[str, bytes]]:
    """Yield (type, uncompressed block) for every blob of a PBF file."""
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            raise _UndecodedError("the file ends inside a blob header's length")
        header_size = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        if not 0 < header_size <= _MAX_HEADER_BYTES or pos + header_size > len(data):
            raise _UndecodedError("a blob header's length is out of range")
        header = bytes(data[pos : pos + header_size])
        pos += header_size
        kind, size = "", -1
        for number, wire, a, b in _fields(header):
            if number == 1 and wire == 2:
                kind = header[a:b].decode("utf-8", "replace")
            elif number == 3 and wire == 0:
                size = a
        if not 0 <= size <= _MAX_BLOB_BYTES or pos + size > len(data):
            raise _UndecodedError("a blob's length is out of range")
        yield kind, _inflate(bytes(data[pos : pos + size]))
        pos += size


def _inflate(blob: bytes) -> bytes:
    """Return the block inside a blob (raw or zlib; other compressions are left to pyosmium)."""
    raw_size, raw, zlib_data = -1, None, None
    for number, wire, a, b in _fields(blob):
        if number == 1 and wire == 2:
            raw = blob[a:b]
        elif number == 2 and wire == 0:
            raw_size = a
        elif number == 3 and wire == 2:
            zlib_data = blob[a:b]
        elif wire == 2:
            raise _UndecodedError(f"blob data in field {number} (not raw or zlib)")
    if raw is not None:
        return raw
    if zlib_data is None:
        raise _UndecodedError("a blob without data")
    try:
        block = zlib.decompress(zlib_data)
    except zlib.error as exc:
        raise _UndecodedError(f"zlib: {exc}") from exc
    if raw_size >= 0 and len(block) != raw_size:
        raise _UndecodedError("a blob's size differs from its raw_size")
    return block


def _check_header(block: bytes) -> None:
    """Refuse a file whose header requires a feature other than the schema and dense nodes."""
    for number, wire, a, b in _fields(block):
        if number == 4 and wire == 2:
            feature = block[a:b].decode("utf-8", "replace")
            if feature not in _SUPPORTED_FEATURES:
                raise _UndecodedError(f"required feature {feature!r}")


def _block_fields(block: bytes) -> tuple[list[bytes], list[tuple[int, int]], int, int, int]:
    """Return a primitive block's string table, groups' byte ranges, granularity and offsets."""
    strings: list[bytes] = []
    groups: list[tuple[int, int]] = []
    granularity, lat_offset, lon_offset = 100, 0, 0
    for number, wire, a, b in _fields(block):
        if number == 1 and wire == 2:
            strings = [block[s:t] for n, w, s, t in _fields(block, a, b) if n == 1 and w == 2]
        elif number == 2 and wire == 2:
            groups.append((a, b))
        elif number == 17 and wire == 0:
            granularity = a
        elif number == 19 and wire == 0:
            lat_offset = _signed(a)
        elif number == 20 and wire == 0:
            lon_offset = _signed(a)
    return strings, groups, granularity, lat_offset, lon_offset


def _gather(values: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate ``values[lo:hi]`` over the rows (lo, hi) of `spans`; return them and their counts."""
    counts = spans[:, 1] - spans[:, 0]
    offsets = np.cumsum(counts) - counts
    flat = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(spans[:, 0] - offsets, counts)
    return values[flat], counts


@dataclass
class _GroupTags:
    """The tags of a group of ways, as string-table indices: what `ways_with_tags` looks at."""

    strings: list[bytes]
    way_id: np.ndarray
    keys: np.ndarray
    vals: np.ndarray
    key_way: np.ndarray  # each tag's way (a row of way_id)


_LAST_READ: dict[tuple[str, int, int, int, int], list[_GroupTags]] = {}
"""The file `read_tagged_ways` read last (`_file_key`) -> the tags of all its ways (one entry)."""


class _BlockReader:
    """Decodes primitive blocks, keeping the dense nodes and the ways that carry `key`."""

    def __init__(self, key: str, value_keys: Sequence[str]) -> None:
        self.key = key.encode()
        self.value_keys = [k.encode() for k in value_keys]
        self.node_id: list[np.ndarray] = []
        self.node_x: list[np.ndarray] = []
        self.node_y: list[np.ndarray] = []
        self.way_id: list[np.ndarray] = []
        self.tags: list[dict[str, str]] = []
        self.ref_id: list[np.ndarray] = []
        self.ref_count: list[np.ndarray] = []
        self.groups: list[_GroupTags] = []  # every way's tags, for `ways_with_tags`

    def read(self, block: bytes) -> None:
        """Decode one primitive block."""
        strings, groups, granularity, lat_offset, lon_offset = _block_fields(block)
        index = {s: i for i, s in enumerate(strings)}
        key_index = index.get(self.key, -1)
        value_index = {index[k]: k.decode() for k in self.value_keys if k in index}
        for a, b in groups:
            kind = block[a] >> 3 if a < b else 0  # a group holds one kind of element (field 1..5)
            if kind == 1:
                raise _UndecodedError("plain (non-dense) nodes")
            if kind == 2:
                for number, wire, s, t in _fields(block, a, b):
                    if number != 2 or wire != 2:
                        raise _UndecodedError("a group mixing dense nodes with other elements")
                    self._dense(block, s, t, granularity, lat_offset, lon_offset)
            elif kind == 3:
                self._ways(block, a, b, key_index, value_index, strings)
            elif any(number == 3 for number, *_ in _fields(block, a, b)):
                raise _UndecodedError("ways in a group of other elements")

    def _dense(
        self, block: bytes, start: int, end: int, granularity: int, lat_offset: int, lon_offset: int
    ) -> None:
        columns: dict[int, np.ndarray] = {}
        for number, wire, a, b in _fields(block, start, end):
            if number in (1, 8, 9) and wire == 2:
                values, _ = _packed(np.frombuffer(block, np.uint8, b - a, a))
                columns[number] = np.cumsum(_zigzag(values))
        ids, lat, lon = (columns.get(n, np.zeros(0, np.int64)) for n in (1, 8, 9))
        if not ids.size == lat.size == lon.size:
            raise _UndecodedError("dense nodes with unequal id, lat and lon lists")
        self.node_id.append(ids)
        self.node_x.append(_to_units(lon, granularity, lon_offset))
        self.node_y.append(_to_units(lat, granularity, lat_offset))

    def _ways(
        self, block: bytes, a: int, b: int, key_index: int, value_index: dict[int, str], strings: list[bytes]
    ) -> None:
        """Decode a group of ways; keep those with the key."""
        values, fields = _way_group(block, a, b)
        keys, vals, key_way = _way_tags(values, fields)
        if keys.size and max(int(keys.max()), int(vals.max())) >= len(strings):
            raise _UndecodedError("a tag outside the string table")
        self.groups.append(_GroupTags(strings, fields.way_id, keys, vals, key_way))
        if key_index < 0:
            return
        has_key = np.zeros(fields.way_id.size, bool)
        has_key[key_way[keys == key_index]] = True
        kept = np.flatnonzero(has_key)
        self._tags(kept, key_way, keys, vals, value_index, strings)
        deltas, counts = _gather(values, fields.refs[kept])
        steps = _zigzag(deltas)
        total = np.cumsum(steps)
        before = np.zeros(kept.size, np.int64)  # the running sum where each way starts
        first = np.cumsum(counts) - counts
        has = counts > 0
        before[has] = total[first[has]] - steps[first[has]]
        self.way_id.append(fields.way_id[kept])
        self.ref_id.append(total - np.repeat(before, counts))
        self.ref_count.append(counts)

    def _tags(
        self,
        kept: np.ndarray,
        key_way: np.ndarray,
        keys: np.ndarray,
        vals: np.ndarray,
        value_index: dict[int, str],
        strings: list[bytes],
    ) -> None:
        """Each kept way's values of the keys asked for (the first, if a key repeats)."""
        row = np.full(key_way.size and int(key_way.max()) + 1, -1, np.int64)
        row[kept] = np.arange(kept.size) + len(self.tags)
        mine = (row[key_way] >= 0) & np.isin(keys, np.fromiter(value_index, np.uint64, len(value_index)))
        self.tags.extend({} for _ in range(kept.size))
        text: dict[int, str] = {}
        for r, k, v in zip(
            row[key_way[mine]].tolist(), keys[mine].tolist(), vals[mine].tolist(), strict=True
        ):
            value = text.get(v)
            if value is None:
                value = text[v] = strings[v].decode("utf-8", "replace")
            self.tags[r].setdefault(value_index[k], value)

    def ways(self) -> TaggedWays:
        """Return the tagged ways found, with the locations of their nodes."""
        counts = np.concatenate(self.ref_count) if self.ref_count else np.zeros(0, np.int64)
        ref_id = np.concatenate(self.ref_id) if self.ref_id else np.zeros(0, np.int64)
        way_id = np.concatenate(self.way_id) if self.way_id else np.zeros(0, np.int64)
        ref_way = np.repeat(np.arange(counts.size), counts)
        x, y = self._locate(ref_id)
        return TaggedWays(way_id, self.tags, ref_way, ref_id, x, y)

    def _locate(self, ref_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        node_id = np.concatenate(self.node_id) if self.node_id else np.zeros(0, np.int64)
        if not (node_id >= 0).any():
            missing = np.full(ref_id.size, UNDEFINED_COORDINATE, np.int64)
            return missing, missing.copy()
        node_x = np.concatenate(self.node_x)
        node_y = np.concatenate(self.node_y)
        # as libosmium's location index for an extract (sparse): a node listed twice keeps
        # its first location, and nodes with negative ids (not uploaded, from an editor) have none
        order = np.flatnonzero(node_id >= 0)
        order = order[np.argsort(node_id[order], kind="stable")]
        sorted_id = node_id[order]
        keep = np.r_[True, sorted_id[1:] != sorted_id[:-1]]
        order, sorted_id = order[keep], sorted_id[keep]
        at = np.minimum(np.searchsorted(sorted_id, ref_id), sorted_id.size - 1)
        found = sorted_id[at] == ref_id
        row = order[at]
        x = np.where(found, node_x[row], UNDEFINED_COORDINATE)
        y = np.where(found, node_y[row], UNDEFINED_COORDINATE)
        return x.astype(np.int64), y.astype(np.int64)


@dataclass
class _WayFields:
    """Per way of a group: its id and where its keys, values and node references lie.

    The spans are (first, stop) indices into the group's decoded varints.
    """

    way_id: np.ndarray
    keys: np.ndarray
    vals: np.ndarray
    refs: np.ndarray


def _way_fields(
    values: np.ndarray, last: np.ndarray, at: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> _WayFields:
    """Walk the fields of every way at once, a field per step.

    `values` and `last` are the group's varints and the byte each ends on, `at` the
    varint starting on each byte (`_varint_at`); `starts` and `ends` the ways' byte ranges.
    Every field must begin on a varint (it does when the ways hold only varint fields, as
    osmformat.proto's do); anything else is refused.
    """
    n_ways = starts.size
    found = _WayFields(
        np.zeros(n_ways, np.int64), np.zeros((n_ways, 2), np.int64), np.zeros((n_ways, 2), np.int64),
        np.zeros((n_ways, 2), np.int64),
    )  # fmt: skip
    spans = {2: found.keys, 3: found.vals, 8: found.refs}
    cursor = starts.copy()
    rows = np.flatnonzero(cursor < ends)
    while rows.size:
        i = at[cursor[rows]]
        if (i < 0).any() or (i + 1 >= last.size).any():
            raise _UndecodedError("a way's field does not start on a varint")
        tag = values[i]
        wire = tag & np.uint64(7)
        number = tag >> np.uint64(3)
        value = values[i + 1]
        payload = last[i + 1] + 1
        length = np.where(wire == 2, value, 0).astype(np.int64)
        after = payload + length
        if ((wire != 0) & (wire != 2)).any() or (length < 0).any() or (after > ends[rows]).any():
            raise _UndecodedError("a way's field is not a varint or runs past the way")
        ids = (number == 1) & (wire == 0)
        found.way_id[rows[ids]] = value[ids].view(np.int64)
        for field_number, span in spans.items():
            hit = (number == field_number) & (wire == 2)
            bounds = np.column_stack([at[payload[hit]], at[after[hit]]])
            if (bounds < 0).any():
                raise _UndecodedError("packed values that do not end on a varint")
            span[rows[hit]] = bounds
        cursor[rows] = after
        rows = rows[after < ends[rows]]
    return found


def _way_group(block: bytes, a: int, b: int) -> tuple[np.ndarray, _WayFields]:
    """Decode the group of ways in ``block[a:b]``: its varints and each way's fields.

    A group of ways is varints throughout (each way a tag byte, a length and its fields), so
    it is decoded at once; the ways follow each other, one length to the next.
    """
    values, last = _packed(np.frombuffer(block, np.uint8, b - a, a))
    at = _varint_at(last)
    n_bytes = at.size - 1
    # each way is a tag byte 0x1A, its length and its fields: where would the next way start
    # after each 0x1A (the ways' tags are among them)
    tag_bytes = np.flatnonzero(values[:-1] == 0x1A)
    length = np.minimum(values[tag_bytes + 1], np.uint64(n_bytes + 1)).astype(np.int64)
    starts = last[tag_bytes + 1] + 1
    stop = np.minimum(starts + length, n_bytes + 1)
    following = np.where(stop <= n_bytes, at[np.minimum(stop, n_bytes)], -1)
    row_of = np.full(values.size + 1, -1, np.int64)  # varint -> its row in tag_bytes
    row_of[tag_bytes] = np.arange(tag_bytes.size)
    row_of[values.size] = tag_bytes.size  # the end of the group
    next_row = np.where(following >= 0, row_of[following], -1).tolist()
    chain, r = [], int(row_of[0])
    while 0 <= r < tag_bytes.size:
        chain.append(r)
        r = next_row[r]
    if r != tag_bytes.size:  # a way that is not one, or runs past the group
        raise _UndecodedError("a group mixing ways with other elements, or a way cut short")
    ways = np.asarray(chain, np.int64)
    return values, _way_fields(values, last, at, starts[ways], stop[ways])


def _varint_at(last: np.ndarray) -> np.ndarray:
    """Map each byte to the varint starting on it (-1 inside one), given each varint's last byte.

    The array has one more entry, for the end: the number of varints.
    """
    n_bytes = int(last[-1]) + 1 if last.size else 0
    at = np.full(n_bytes + 1, -1, np.int64)
    at[np.r_[0, last[:-1] + 1].astype(np.int64)] = np.arange(last.size)
    at[n_bytes] = last.size
    return at


def _way_tags(values: np.ndarray, fields: _WayFields) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the group's tags as string-table indices (keys, values) and each tag's way row."""
    keys, n_keys = _gather(values, fields.keys)
    vals, n_vals = _gather(values, fields.vals)
    if not np.array_equal(n_keys, n_vals):
        raise _UndecodedError("a way with unequal key and value lists")
    return keys, vals, np.repeat(np.arange(n_keys.size), n_keys)


def _signed(value: int) -> int:
    """Return an int64 varint's value (negative numbers are ten-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def is_pbf(path: str | Path) -> bool:
    """Whether a file starts as an OSM PBF file does (a blob header of type ``OSMHeader``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    bool
        True for a PBF file, whatever its name.
    """
    with Path(path).open("rb") as f:
        head = f.read(4 + 64)
    if len(head) < 4 + 2 + 9:
        return False
    size = int.from_bytes(head[:4], "big")
    return 0 < size <= _MAX_HEADER_BYTES and head[4:6] == b"\x0a\x09" and head[6:15] == b"OSMHeader"


def read_tagged_ways(path: str | Path, key: str, value_keys: Sequence[str]) -> TaggedWays | None:
    """Read the ways carrying `key` from a PBF file, with their node locations.

    Parameters
    ----------
    path
        An OSM PBF file.
    key
        Only ways with this key are kept (``highway``).
    value_keys
        The keys whose values are kept on each way.

    Returns
    -------
    TaggedWays or None
        The ways, or None where the file is not named and made as PBF, uses what this
        module does not decode (see the module's notes) or is damaged: read it with
        pyosmium then.

    Examples
    --------
    >>> from walkcircle.sources.pbf import read_tagged_ways
    >>> ways = read_tagged_ways("city.osm.pbf", "highway", ["highway", "name"])  # doctest: +SKIP
    >>> ways.tags[0]  # doctest: +SKIP
    {'highway': 'residential', 'name': '九州路'}
    """
    _LAST_READ.clear()  # the last file's tags go before another file is read
    if not str(path).lower().endswith(".pbf") or not is_pbf(path):
        return None  # what libosmium reads as XML stays with it
    identity = _file_key(path)
    reader = _BlockReader(key, value_keys)
    if not _read_blocks(path, reader.read):
        return None
    _LAST_READ[identity] = reader.groups
    return reader.ways()


def _read_blocks(path: str | Path, read: Callable[[bytes], None]) -> bool:
    """Hand every data block of a PBF file to `read`; return False where it is left to pyosmium.

    That is where `read` or the decoding stops, on damage or on what is not decoded.
    """
    data = memoryview(Path(path).read_bytes())
    try:
        for kind, block in _blobs(data):
            if kind == "OSMHeader":
                _check_header(block)
            elif kind == "OSMData":
                read(block)
    except (_UndecodedError, IndexError):  # IndexError: a varint cut off by the end of its message
        return False
    return True


def ways_with_tags(
    path: str | Path, keys: Collection[str], wanted: Callable[[str, str], bool]
) -> np.ndarray | None:
    """Return the ids of the ways with a tag that `wanted` accepts, if the file's were just read.

    `read_tagged_ways` keeps the tags of every way of the last file it read (one file per
    process); for that file, unchanged since, this answers without reading it again, so
    that a reader of the same file can hand the ids to an ``IdFilter`` and keep out of
    Python the ways it would drop (in a city's file most ways are streets). Every way with a
    tag ``(key, value)`` such that ``key`` is in `keys` and ``wanted(key, value)`` is in the
    result; a tag that is not valid UTF-8 counts as wanted.

    Parameters
    ----------
    path
        An OSM PBF file.
    keys
        The keys worth a look.
    wanted
        ``wanted(key, value) -> bool`` for one tag.

    Returns
    -------
    numpy.ndarray or None
        The way ids (int64, ascending, each once), or None where the file is not the one
        `read_tagged_ways` read last (or it has changed since): read every way then.

    Examples
    --------
    >>> from walkcircle.sources.pbf import read_tagged_ways, ways_with_tags
    >>> streets = read_tagged_ways("city.osm.pbf", "highway", ["highway"])  # doctest: +SKIP
    >>> ids = ways_with_tags("city.osm.pbf", ["shop"], lambda k, v: v == "convenience")  # doctest: +SKIP
    """
    groups = _LAST_READ.get(_file_key(path)) if _LAST_READ else None
    if groups is None:
        return None
    asked_keys = {k.encode() for k in keys}
    found = [np.zeros(0, np.int64)]
    key_rows: dict[int, np.ndarray] = {}
    for group in groups:
        strings = group.strings
        rows = key_rows.get(id(strings))
        if rows is None:
            rows = key_rows[id(strings)] = np.array(
                [i for i, text in enumerate(strings) if text in asked_keys], np.uint64
            )
        asked = np.isin(group.keys, rows)
        pairs = group.keys[asked] * np.uint64(len(strings)) + group.vals[asked]
        good = [
            p for p in unique_values(pairs).tolist() if _accepts(wanted, strings, *divmod(p, len(strings)))
        ]
        hit = group.key_way[asked][np.isin(pairs, np.asarray(good, np.uint64))]
        found.append(group.way_id[unique_values(hit)])
    return unique_values(np.concatenate(found))


def _accepts(wanted: Callable[[str, str], bool], strings: list[bytes], key: int, value: int) -> bool:
    """``wanted`` of one tag given as string-table indices (True if it is not valid UTF-8)."""
    try:
        return wanted(strings[key].decode(), strings[value].decode())
    except UnicodeDecodeError:
        return True  # pyosmium reads it as it does: look at it there


def _file_key(path: str | Path) -> tuple[str, int, int, int, int]:
    """Return what tells a file from another, and from itself changed: its place, size and times."""
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev
