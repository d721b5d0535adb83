"""The numpy PBF reader against pyosmium (libosmium) on the same files, and its fallbacks."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import osmium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walkcircle.errors import InputError
from walkcircle.sources.osm import WALK_TAG_KEYS, _highway_ways_osmium, read_osm
from walkcircle.sources.osm_features import _tag_test, tag_matcher
from walkcircle.sources.pbf import (
    UNDEFINED_COORDINATE,
    TaggedWays,
    _packed,
    _zigzag,
    is_pbf,
    read_tagged_ways,
    ways_with_tags,
)

ARRAYS = ("way_id", "ref_way", "ref_id", "ref_x", "ref_y")


def assert_same_ways(fast: TaggedWays | None, slow: TaggedWays) -> None:
    assert fast is not None, "the numpy reader left the file to pyosmium"
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
        assert getattr(fast, name).dtype == np.int64, name
    assert fast.tags == slow.tags


def rewrite(src: Path, dst: Path, options: str = "pbf") -> Path:
    """Write `src` again with libosmium, in the format and options given."""
    with osmium.SimpleWriter(osmium.io.File(str(dst), options)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dst


# ---------------------------------------------------------------------------- real extracts


def test_real_pbf_reads_as_pyosmium_reads_it(helsinki_pbf):
    fast = read_tagged_ways(helsinki_pbf, "highway", WALK_TAG_KEYS)
    slow = _highway_ways_osmium(helsinki_pbf)
    assert_same_ways(fast, slow)
    assert (fast.ref_x == UNDEFINED_COORDINATE).sum() > 0  # the extract cuts ways: missing nodes kept as such


@pytest.mark.parametrize(
    "options", ["pbf", "pbf,pbf_compression=none", "pbf,add_metadata=false", "pbf,locations_on_ways=true"]
)
def test_real_extracts_written_by_libosmium(cau_osm, tsinghua_osm, tmp_path, options):
    for src in (cau_osm, tsinghua_osm):
        pbf = rewrite(src, tmp_path / f"{src.name}.osm.pbf", options)
        fast = read_tagged_ways(pbf, "highway", WALK_TAG_KEYS)
        assert_same_ways(fast, _highway_ways_osmium(pbf))
        assert len(fast.tags) > 100


@pytest.mark.parametrize("options", ["pbf,pbf_dense_nodes=false", "pbf,pbf_compression=lz4"])
def test_what_it_does_not_decode_goes_to_pyosmium(cau_osm, tmp_path, options):
    pbf = rewrite(cau_osm, tmp_path / "cau.osm.pbf", options)
    assert read_tagged_ways(pbf, "highway", WALK_TAG_KEYS) is None
    net = read_osm(pbf)  # read by pyosmium instead, the same network
    reference = read_osm(rewrite(cau_osm, tmp_path / "plain.osm.pbf"))
    np.testing.assert_array_equal(net.node_id, reference.node_id)
    np.testing.assert_array_equal(net.edge_length_m, reference.edge_length_m)


def test_xml_and_misnamed_files_stay_with_pyosmium(cau_osm, tmp_path):
    assert read_tagged_ways(cau_osm, "highway", WALK_TAG_KEYS) is None
    pbf = rewrite(cau_osm, tmp_path / "cau.osm.pbf")
    assert is_pbf(pbf)
    misnamed = tmp_path / "cau.osm"
    misnamed.write_bytes(pbf.read_bytes())
    assert is_pbf(misnamed)
    assert read_tagged_ways(misnamed, "highway", WALK_TAG_KEYS) is None  # libosmium reads it as XML
    not_pbf = tmp_path / "notes.osm.pbf"
    not_pbf.write_text("<osm></osm>")
    assert not is_pbf(not_pbf)
    assert read_tagged_ways(not_pbf, "highway", WALK_TAG_KEYS) is None


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.97])
def test_damaged_pbf_gets_pyosmiums_error(cau_osm, tmp_path, keep):
    pbf = rewrite(cau_osm, tmp_path / "cau.osm.pbf")
    data = pbf.read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert read_tagged_ways(cut, "highway", WALK_TAG_KEYS) is None
    with pytest.raises(InputError, match="cut.osm.pbf"):
        read_osm(cut)


# ---------------------------------------------------------------------------- random data


@st.composite
def osm_data(draw):
    """Nodes (some ids shared by two versions, some negative) and ways with walk tags."""
    ids = draw(st.lists(st.integers(-(2**40), 2**40).filter(bool), min_size=1, max_size=25, unique=True))
    nodes = []
    for nid in ids:
        lon = draw(st.floats(-180, 180, allow_nan=False))
        lat = draw(st.floats(-90, 90, allow_nan=False))
        nodes.append((nid, lon, lat))
    # a node listed again: its first place counts
    for nid in draw(st.lists(st.sampled_from(ids), max_size=2)):
        nodes.append(
            (nid, draw(st.floats(-180, 180, allow_nan=False)), draw(st.floats(-90, 90, allow_nan=False)))
        )
    missing = draw(st.lists(st.integers(1, 2**50), max_size=3))
    keys = st.sampled_from([*WALK_TAG_KEYS, "building", "name:en", "surface"])
    values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=6)
    ways = []
    for wid in draw(st.lists(st.integers(-(2**40), 2**40).filter(bool), max_size=12, unique=True)):
        refs = draw(st.lists(st.sampled_from(ids + missing), min_size=0, max_size=8))
        tags = draw(
            st.dictionaries(keys, values | st.sampled_from(["residential", "footway", "yes"]), max_size=5)
        )
        ways.append((wid, refs, tags))
    return nodes, ways


def write_pbf(path: Path, nodes, ways) -> Path:
    with osmium.SimpleWriter(str(path), overwrite=True) as writer:
        for nid, lon, lat in nodes:
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat)))
        for wid, refs, tags in ways:
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=osm_data())
def test_random_files_read_as_pyosmium_reads_them(tmp_path, data):
    pbf = write_pbf(tmp_path / "random.osm.pbf", *data)
    assert_same_ways(read_tagged_ways(pbf, "highway", WALK_TAG_KEYS), _highway_ways_osmium(pbf))


# ---------------------------------------------------------------------------- hand-built files


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 63)


def field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def packed(values, signed: bool = False, delta: bool = False) -> bytes:
    out, before = b"", 0
    for v in values:
        step = v - before if delta else v
        before = v
        out += varint(zigzag(step) if signed else step)
    return out


def blob(kind: str, block: bytes) -> bytes:
    body = field(2, len(block)) + field(3, zlib.compress(block))
    header = field(1, kind.encode()) + field(3, len(body))
    return len(header).to_bytes(4, "big") + header + body


def hand_built(
    path: Path, granularity: int, lat_offset: int, lon_offset: int, nodes, ways, tags=((1, 3), (2, 4))
) -> Path:
    """A PBF with the given granularity and offsets, written field by field as osmformat.proto says.

    Every way has the `tags` given as (key, value) indices into the string table:
    ``highway=footway``, ``name=东路`` unless told.
    """
    strings = [b"", b"highway", b"footway", b"name", "东路".encode()]
    table = field(1, b"".join(field(1, s) for s in strings))
    dense = field(1, packed([n[0] for n in nodes], signed=True, delta=True))
    dense += field(8, packed([n[2] for n in nodes], signed=True, delta=True))
    dense += field(9, packed([n[1] for n in nodes], signed=True, delta=True))
    way_msgs = b"".join(
        field(
            3,
            field(1, wid)
            + field(2, packed(list(tags[0])))
            + field(3, packed(list(tags[1])))
            + field(8, packed(refs, True, True)),
        )
        for wid, refs in ways
    )
    block = table + field(2, field(2, dense)) + field(2, way_msgs)
    block += field(17, granularity) + field(19, lat_offset) + field(20, lon_offset)
    header = field(4, b"OsmSchema-V0.6") + field(4, b"DenseNodes")
    path.write_bytes(blob("OSMHeader", header) + blob("OSMData", block))
    return path


@pytest.mark.parametrize(
    ("granularity", "lat_offset", "lon_offset"),
    [(100, 0, 0), (1000, 0, 0), (7, -123456789, 987654321), (1, 0, 0)],
)
def test_granularity_and_offsets_as_libosmium(tmp_path, granularity, lat_offset, lon_offset):
    nodes = [(1, 1_160_000_000, 357_000_000), (2, -1_799_999_999, -899_999_999), (3, 5, -5), (-4, -7, 3)]
    nodes = [(i, x // granularity, y // granularity) for i, x, y in nodes]
    pbf = hand_built(
        tmp_path / "hand.osm.pbf", granularity, lat_offset, lon_offset, nodes, [(9, [1, 2, 3, -4, 77])]
    )
    fast = read_tagged_ways(pbf, "highway", WALK_TAG_KEYS)
    assert_same_ways(fast, _highway_ways_osmium(pbf))
    assert fast.tags == [{"highway": "footway", "name": "东路"}]
    assert fast.ref_x[-1] == UNDEFINED_COORDINATE


@pytest.mark.parametrize("tags", [((1, 3), (2, 99)), ((1, 77), (2, 4))])
def test_a_tag_outside_the_string_table_goes_to_pyosmium(tmp_path, tags):
    nodes = [(1, 1_160_000_000, 357_000_000), (2, 1_160_001_000, 357_000_000)]
    pbf = hand_built(tmp_path / "bad.osm.pbf", 100, 0, 0, nodes, [(9, [1, 2])], tags)
    assert read_tagged_ways(pbf, "highway", WALK_TAG_KEYS) is None
    assert ways_with_tags(pbf, WANTED, _tag_test(WANTED)) is None
    with pytest.raises(InputError, match="bad.osm.pbf"):
        read_osm(pbf)


# ---------------------------------------------------------------------------- varints


@given(st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_packed_varints(values):
    data = np.frombuffer(b"".join(varint(v) for v in values), np.uint8)
    decoded, last = _packed(data)
    assert decoded.tolist() == values
    assert last.size == len(values)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
def test_zigzag(values):
    encoded = np.array([zigzag(v) & ((1 << 64) - 1) for v in values], np.uint64)
    assert _zigzag(encoded).tolist() == values


# ---------------------------------------------------------------------------- ways with a tag

WANTED = {"highway": ["bus_stop"], "shop": ["convenience", "kiosk"], "building": True}


@st.composite
def tagged_ways(draw):
    """Ways whose tags hit, miss and nearly hit `WANTED` (value lists, ``no``, spaces)."""
    keys = st.sampled_from(["highway", "shop", "building", "amenity", "name"])
    values = st.sampled_from(
        ["bus_stop", "footway", "bus_stop;crossing", "crossing; bus_stop ", "convenience;bakery", "kiosk",
         "no", "yes", "", "bus_stop_x", "东路", ";"]
    )  # fmt: skip
    ways = []
    for wid in draw(st.lists(st.integers(-(2**40), 2**40).filter(bool), max_size=30, unique=True)):
        ways.append((wid, [1, 2], draw(st.dictionaries(keys, values, max_size=3))))
    return [(1, 114.3, 35.7), (2, 114.31, 35.71)], ways


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tagged_ways())
def test_ways_with_tags_are_the_ways_the_matcher_keeps(tmp_path, data):
    pbf = write_pbf(tmp_path / "tagged.osm.pbf", *data)
    matches = tag_matcher(WANTED)
    expected = sorted(w.id for w in osmium.FileProcessor(str(pbf), osmium.osm.WAY) if matches(dict(w.tags)))
    assert read_tagged_ways(pbf, "highway", WALK_TAG_KEYS) is not None
    got = ways_with_tags(pbf, WANTED, _tag_test(WANTED))
    assert got is not None and got.tolist() == expected


def test_ways_with_tags_on_real_extracts(cau_osm, tsinghua_osm, helsinki_pbf, tmp_path):
    tags = {"highway": ["bus_stop"], "amenity": ["school", "kindergarten"], "building": ["residential"]}
    matches = tag_matcher(tags)
    for src in (cau_osm, tsinghua_osm, helsinki_pbf):
        pbf = rewrite(src, tmp_path / f"{src.name}.osm.pbf") if src.suffix != ".pbf" else src
        ways = [(w.id, dict(w.tags)) for w in osmium.FileProcessor(str(pbf), osmium.osm.WAY)]
        assert read_tagged_ways(pbf, "highway", WALK_TAG_KEYS) is not None
        got = ways_with_tags(pbf, tags, _tag_test(tags))
        assert got is not None and got.tolist() == sorted(i for i, t in ways if matches(t))
        assert 0 < got.size < sum("highway" in t for _, t in ways) / 4, src.name  # most streets left out


def test_ways_with_tags_knows_only_the_file_just_read_as_it_was(cau_osm, tsinghua_osm, tmp_path):
    cau = rewrite(cau_osm, tmp_path / "cau.osm.pbf")
    tsinghua = rewrite(tsinghua_osm, tmp_path / "tsinghua.osm.pbf")
    test = _tag_test(WANTED)
    read_tagged_ways(cau, "highway", WALK_TAG_KEYS)
    assert ways_with_tags(cau, WANTED, test) is not None
    assert ways_with_tags(tsinghua, WANTED, test) is None  # not read
    read_tagged_ways(tsinghua, "highway", WALK_TAG_KEYS)
    assert ways_with_tags(cau, WANTED, test) is None  # another file read since
    assert ways_with_tags(tsinghua, WANTED, test) is not None
    tsinghua.write_bytes(cau.read_bytes())  # changed since it was read
    assert ways_with_tags(tsinghua, WANTED, test) is None
    for unread in (
        rewrite(cau_osm, tmp_path / "cau.osm"),  # XML stays with pyosmium
        rewrite(cau_osm, tmp_path / "lz4.osm.pbf", "pbf,pbf_compression=lz4"),  # not decoded
    ):
        read_tagged_ways(cau, "highway", WALK_TAG_KEYS)
        assert read_tagged_ways(unread, "highway", WALK_TAG_KEYS) is None
        assert ways_with_tags(unread, WANTED, test) is None
        assert ways_with_tags(cau, WANTED, test) is None  # forgotten when another file was read
