"""Property-based: generated XMP packets merged with generated keyword sets, checked by exiftool
and exiv2 (never by our own reader).

Packets vary the namespace layout (one rdf:Description for all, exiftool's one per namespace,
namespaces declared on rdf:RDF or x:xmpmeta), attribute and element forms, self-closing
Descriptions, comments and processing instructions around and inside the root (mentioning
``<x:xmpmeta>``), character references in every form, LF or CRLF line ends, either quote, and
the keyword properties as Bag, Seq, a single value or an attribute, holding keywords that
collide with the ones merged in (letter case, leaves, paths).

Each example merges keyword set A, then B, and checks:
  * every property we do not own reads the same before and after (exiftool and exiv2);
  * every keyword the packet had is still in every property it was in;
  * ours are in all three properties (the leaf in dc:subject), after each merge;
  * a keyword of A that the user did not have and B does not propose is gone after B;
  * merging B again changes nothing.

Examples: CLIPTAGGER_HYPOTHESIS_EXAMPLES (default 300). Seed: CLIPTAGGER_HYPOTHESIS_SEED (default
random; printed with a failing example, set it to replay the run).
"""

from __future__ import annotations

import itertools
import os
import random

import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

from cliptagger.core.metadata.xmp import DIGIKAM_TAGS, fold, updated_sidecar
from tests.xmp_readers import ExiftoolBatch, exiv2_many, split_exiftool, split_exiv2

EXAMPLES = int(os.environ.get("CLIPTAGGER_HYPOTHESIS_EXAMPLES", "300"))
SEED = int(os.environ.get("CLIPTAGGER_HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))

NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "acme": "http://ns.example.com/acme/2.0/",
}
RDF_URI = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

# Keyword parts that collide with each other in letter case, as leaves and as levels; none
# contains ", " (exiv2 joins array items with it) or the hierarchy separators.
PARTS = ["square", "Square", "SQUARE", "dog", "Dog", "red", "Places", "Lisbon", "café", "Café",
         "a&b", "x<y>z", "日本", "tram", "Shapes", "Animals", "it's", 'say "hi"', "AC-DC"]

# Foreign values: markup characters, CR, LF, tab, non-ASCII.
VALUE_ALPHABET = st.sampled_from(list("abcXYZ 09&<>\"'\r\n\té日"))

KEYWORD_TAGS = {"dc": "XMP-dc:Subject", "lr": "XMP-lr:HierarchicalSubject", "digiKam": "XMP-digiKam:TagsList"}
EXIV2_KEYS = {"dc": "Xmp.dc.subject", "lr": "Xmp.lr.hierarchicalSubject", "digiKam": "Xmp.digiKam.TagsList"}


# ------------------------------------------------------------------------------ generators


def escape(draw, text: str, quote: str = "") -> str:
    """XML for ``text`` with a drawn escaping form per character (named, decimal, hex, literal)."""
    out = []
    for char in text:
        # exiftool's reader ends a tag at any '>', even inside an attribute value
        must = char in "&<" or char == "\r" or (quote and (char == quote or char in "\n\t>"))
        forms = [f"&#{ord(char)};"]
        if ord(char) < 0x20:  # exiv2 0.27 reads other hexadecimal references as a space
            forms.append(f"&#x{ord(char):X};")
        named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}.get(char)
        if named:
            forms.append(named)
        if not must:
            forms.append(char)
        out.append(draw(st.sampled_from(forms)))
    return "".join(out)


@st.composite
def keyword_paths(draw, max_depth: int = 3) -> str:
    return "|".join(draw(st.lists(st.sampled_from(PARTS), min_size=1, max_size=max_depth)))


@st.composite
def packets(draw):
    """(packet bytes, {"dc"|"lr"|"digiKam": [values as the packet holds them]})."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    quote = draw(st.sampled_from(['"', "'"]))

    def attr(name: str, value: str) -> str:
        return f"{name}={quote}{escape(draw, value, quote)}{quote}"

    # what the packet holds
    properties = []  # (prefix, xml for element form or None, (name, value) for attribute form or None)
    simple = [("xmp", "Rating"), ("xmp", "Label"), ("photoshop", "City"), ("crs", "Exposure2012"),
              ("acme", "Note"), ("acme", "Caption")]
    for prefix, name in draw(st.lists(st.sampled_from(simple), unique=True, max_size=5)):
        value = draw(st.text(VALUE_ALPHABET, min_size=1, max_size=12))
        if draw(st.booleans()):
            properties.append((prefix, None, (f"{prefix}:{name}", value)))
        else:
            properties.append((prefix, f"<{prefix}:{name}>{escape(draw, value)}</{prefix}:{name}>", None))
    if draw(st.booleans()):
        title = draw(st.text(VALUE_ALPHABET, min_size=1, max_size=12))
        properties.append(("dc", f"<dc:title><rdf:Alt><rdf:li xml:lang={quote}x-default{quote}>"
                                 f"{escape(draw, title)}</rdf:li></rdf:Alt></dc:title>", None))
    if draw(st.booleans()):
        creators = draw(st.lists(st.text(VALUE_ALPHABET, min_size=1, max_size=8), min_size=1, max_size=2))
        items = "".join(f"<rdf:li>{escape(draw, c)}</rdf:li>" for c in creators)
        properties.append(("dc", f"<dc:creator><rdf:Seq>{items}</rdf:Seq></dc:creator>", None))

    keywords: dict[str, list[str]] = {}
    for prefix, name, separator in (("dc", "subject", None), ("lr", "hierarchicalSubject", "|"),
                                    ("digiKam", "TagsList", "/")):
        form = draw(st.sampled_from(["absent", "absent", "Bag", "Seq", "single", "attribute"]))
        if form == "absent":
            continue
        count = 1 if form in ("single", "attribute") else draw(st.integers(0, 4))
        values = []
        for _ in range(count):
            path = draw(keyword_paths(1 if separator is None else 3))
            values.append(path if separator is None else path.replace("|", separator))
        keywords[prefix] = values
        if form == "attribute":
            properties.append((prefix, None, (f"{prefix}:{name}", values[0])))
        elif form == "single":
            properties.append((prefix, f"<{prefix}:{name}>{escape(draw, values[0])}</{prefix}:{name}>", None))
        else:
            items = "".join(f"<rdf:li>{escape(draw, v)}</rdf:li>" for v in values)
            properties.append((prefix, f"<{prefix}:{name}><rdf:{form}>{items}</rdf:{form}></{prefix}:{name}>", None))
    properties = draw(st.permutations(properties))

    # where namespaces are declared and how properties are grouped into Descriptions
    layout = draw(st.sampled_from(["one", "per-namespace", "declared-on-rdf", "declared-on-root"]))
    used = sorted({prefix for prefix, _, _ in properties} | set(draw(st.lists(st.sampled_from(sorted(NS))))))
    declarations = " ".join(f"xmlns:{p}={quote}{NS[p]}{quote}" for p in used)
    if layout == "per-namespace":
        groups = [(p, [x for x in properties if x[0] == p]) for p in used] or [("", [])]
    else:
        groups = [("", properties)]

    def comment() -> str:
        # inside the root, markup in a comment derails exiftool's reader: only outside it (below)
        return draw(st.sampled_from(["", "<!-- a note & more -->", "<?cliptest data?>",
                                     f"{newline}<!-- -->{newline}"]))

    descriptions = []
    for prefix, members in groups:
        own = ""
        if layout in ("one", "per-namespace"):
            own = declarations if layout == "one" else (f" xmlns:{prefix}={quote}{NS[prefix]}{quote}" if prefix else "")
        attributes = "".join(f"{newline}   {attr(name, value)}" for _, _, attribute in members
                             if attribute for name, value in [attribute])
        elements = "".join(f"{newline}   {element}" + comment() for _, element, _ in members if element)
        head = f"<rdf:Description rdf:about={quote}{quote} {own}{attributes}"
        if elements or not draw(st.booleans()):
            descriptions.append(f"{head}>{elements}{newline}  </rdf:Description>")
        else:
            descriptions.append(f"{head}/>")
    rdf_declarations = declarations if layout == "declared-on-rdf" else ""
    body = f"{newline}  ".join(d + comment() for d in descriptions)
    rdf = (f"<rdf:RDF xmlns:rdf={quote}{RDF_URI}{quote} {rdf_declarations}>{newline}  {body}{newline}"
           f" </rdf:RDF>")
    # (a bare rdf:RDF root is valid XMP, but neither exiftool nor exiv2 reads such a sidecar)
    root_declarations = declarations if layout == "declared-on-root" else ""
    root = (f"<x:xmpmeta xmlns:x={quote}adobe:ns:meta/{quote} x:xmptk={quote}test &amp; co{quote} "
            f"{root_declarations}>{newline} {rdf}{newline}</x:xmpmeta>")
    before = draw(st.sampled_from(["", "<!-- a <x:xmpmeta> note -->", "<?note <x:xmpmeta>?>",
                                   f"<!-- </x:xmpmeta> -->{newline}<?pi x?>"]))
    after = draw(st.sampled_from(["", "<!-- </x:xmpmeta> -->", "<?pi </x:xmpmeta>?>"]))
    if draw(st.booleans()):
        text = (f"<?xpacket begin={quote}\ufeff{quote} id={quote}W5M0MpCehiHzreSzNTczkc9d{quote}?>{newline}"
                f"{before}{root}{after}{newline}<?xpacket end={quote}w{quote}?>")
    else:
        # exiv2 takes a file for XMP only when it starts with the xpacket or the XML declaration
        # right before x:xmpmeta: no comment before the root here
        text = f"<?xml version={quote}1.0{quote} encoding={quote}UTF-8{quote}?>{newline}{root}{newline}{after}"
    return text.encode("utf-8"), keywords


# ------------------------------------------------------------------------------ the test


@pytest.fixture(scope="module")
def exiftool():
    batch = ExiftoolBatch()
    yield batch
    batch.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("xmp-properties")


_counter = itertools.count()


def _folded(values) -> set[str]:
    return {fold(v) for v in values}


def _exiv2_list(rows: dict, key: str) -> list[str]:
    row = rows.get(key)
    return [] if row is None or not row[2] else row[2].split(", ")


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(packet=packets(),
       first=st.lists(keyword_paths(), min_size=1, max_size=4),
       second=st.lists(keyword_paths(), max_size=4))
def test_merging_keeps_everything_we_do_not_own(exiftool, workdir, packet, first, second):
    note(f"reproduce this run with CLIPTAGGER_HYPOTHESIS_SEED={SEED}")
    original, generated = packet
    merged, _ = updated_sidecar(original, first)
    merged = original if merged is None else merged  # the packet may hold all of them already
    remerged, _ = updated_sidecar(merged, second)
    final = remerged if remerged is not None else merged
    assert updated_sidecar(final, second)[0] is None  # a second identical run changes nothing

    n = next(_counter)
    paths = [workdir / f"{n}-{stage}.xmp" for stage in ("before", "first", "second")]
    for path, data in zip(paths, (original, merged, final)):
        path.write_bytes(data)
    read = [split_exiftool(record) for record in exiftool.json(paths)]
    for keywords, _ in read:  # exiftool reads an empty rdf:Bag as one empty item
        for tag in keywords:
            keywords[tag] = [v for v in keywords[tag] if v]
    rows = exiv2_many(paths)
    exiv2 = [split_exiv2(rows[p]) for p in paths]
    note(f"before:\n{original.decode()}\nafter B:\n{final.decode()}")

    # the generator made what it says (our check on the checker)
    for prop, values in generated.items():
        assert read[0][0][KEYWORD_TAGS[prop]] == values, (prop, read[0][0])
    # every property we do not own is unchanged, to both readers
    for stage in (1, 2):
        assert read[stage][1] == read[0][1]
        assert exiv2[stage][1] == exiv2[0][1]
    # every pre-existing keyword is still in every property it was in
    for prop, tag in KEYWORD_TAGS.items():
        for value in read[0][0][tag]:
            for stage in (1, 2):
                assert value in read[stage][0][tag], (prop, value, stage)
        for value in _exiv2_list(rows[paths[0]], EXIV2_KEYS[prop]):
            for stage in (1, 2):
                assert value in _exiv2_list(rows[paths[stage]], EXIV2_KEYS[prop]), (prop, value, stage)
    # ours are in all three properties
    for stage, wanted in ((1, first), (2, second)):
        for reader in ("exiftool", "exiv2"):
            if reader == "exiftool":
                got = {prop: _folded(read[stage][0][tag]) for prop, tag in KEYWORD_TAGS.items()}
            else:
                got = {prop: _folded(_exiv2_list(rows[paths[stage]], key)) for prop, key in EXIV2_KEYS.items()}
            for keyword in wanted:
                assert fold(keyword) in got["lr"], (reader, stage, keyword)
                assert fold(keyword.replace("|", "/")) in got["digiKam"], (reader, stage, keyword)
                assert fold(keyword.split("|")[-1]) in got["dc"], (reader, stage, keyword)
    # what only A proposed, and the user never had, is gone after B
    users = set()
    for prop, tag in KEYWORD_TAGS.items():
        for value in read[0][0][tag]:
            users |= {fold(value), fold(DIGIKAM_TAGS.parse(value)) if prop == "digiKam" else fold(value)}
    gone = {fold(k) for k in first} - {fold(k) for k in second} - users
    after = _folded(read[2][0][KEYWORD_TAGS["lr"]])
    assert not gone & after, gone & after
