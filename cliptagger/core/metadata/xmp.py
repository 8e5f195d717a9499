"""Keywords in XMP: reading them from sidecars and images, merging ours in without loss.

The declarative table ``KEYWORD_PROPERTIES`` says where a keyword goes:

=====================  ==========================================  =========  ==========
property               namespace                                   container  form
=====================  ==========================================  =========  ==========
dc:subject             http://purl.org/dc/elements/1.1/            rdf:Bag    leaf name
lr:hierarchicalSubject http://ns.adobe.com/lightroom/1.0/          rdf:Bag    ``A|B|leaf``
digiKam:TagsList       http://www.digikam.org/ns/1.0/              rdf:Seq    ``A/B/leaf``
=====================  ==========================================  =========  ==========

Ownership: ``cliptagger:OwnedSubject``, ``cliptagger:OwnedHierarchicalSubject`` and
``cliptagger:OwnedTagsList`` (rdf:Bag each) record exactly which entries of each property
cliptagger introduced, as written there (leaves for dc:subject, full paths for the others). A
later run may remove those entries and nothing else: an entry the sidecar held before (in any of
the three properties, in any letter case) is the user's. When a keyword property is missing, it
is started with the user's keywords (flat ones as top-level entries), so that digiKam (which
reads TagsList first), Lightroom and darktable all keep seeing every keyword.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from cliptagger import __version__
from cliptagger.core.metadata.rdf_arrays import (
    append_item,
    array_container,
    drop_property,
    property_values,
    remove_child,
    set_array,
    structure_problem,
)
from cliptagger.core.metadata.xmp_document import (
    RDF_NS,
    XmpDocument,
    XmpError,
    parse_xmp,
    qname,
    serialize_xmp,
)
from cliptagger.core.storage.text_rules import keyword_form
from cliptagger.core.tagging.labels import HIERARCHY_SEPARATOR

#: cliptagger's own separator of hierarchical keywords, as label sets write them (``A|B|leaf``)
HIERARCHY = HIERARCHY_SEPARATOR
CLIPTAGGER_NS = "http://ns.cliptagger.app/1.0/"


@dataclass(frozen=True)
class KeywordProperty:
    prefix: str
    namespace: str
    name: str
    container: str         # "Bag" or "Seq"
    separator: Optional[str]  # None: leaf names only

    @property
    def tag(self) -> str:
        return qname(self.namespace, self.name)

    @property
    def exiftool_tag(self) -> str:
        """exiftool's name for the property, e.g. ``XMP-lr:HierarchicalSubject``."""
        return f"XMP-{self.prefix}:{self.name[0].upper()}{self.name[1:]}"

    def render(self, keyword: str) -> str:
        parts = keyword.split(HIERARCHY)
        return parts[-1] if self.separator is None else self.separator.join(parts)

    def parse(self, value: str) -> str:
        """A stored value back to our ``A|B|leaf`` form."""
        return value if self.separator in (None, HIERARCHY) else value.replace(self.separator, HIERARCHY)


DC_SUBJECT = KeywordProperty("dc", "http://purl.org/dc/elements/1.1/", "subject", "Bag", None)
LR_HIERARCHICAL = KeywordProperty("lr", "http://ns.adobe.com/lightroom/1.0/", "hierarchicalSubject", "Bag", HIERARCHY)
DIGIKAM_TAGS = KeywordProperty("digiKam", "http://www.digikam.org/ns/1.0/", "TagsList", "Seq", "/")
#: The record versions before 0.2 kept: every keyword added, ``A|B|leaf`` form (read, then dropped).
AUTO_KEYWORDS = KeywordProperty("cliptagger", CLIPTAGGER_NS, "AutoKeywords", "Bag", HIERARCHY)

KEYWORD_PROPERTIES: tuple[KeywordProperty, ...] = (DC_SUBJECT, LR_HIERARCHICAL, DIGIKAM_TAGS)

#: The ownership record: per keyword property, the exact entries cliptagger introduced.
OWNERSHIP: dict[KeywordProperty, KeywordProperty] = {
    DC_SUBJECT: KeywordProperty("cliptagger", CLIPTAGGER_NS, "OwnedSubject", "Bag", None),
    LR_HIERARCHICAL: KeywordProperty("cliptagger", CLIPTAGGER_NS, "OwnedHierarchicalSubject", "Bag", None),
    DIGIKAM_TAGS: KeywordProperty("cliptagger", CLIPTAGGER_NS, "OwnedTagsList", "Bag", None),
}
OWNED_PROPERTIES: tuple[KeywordProperty, ...] = KEYWORD_PROPERTIES + tuple(OWNERSHIP.values()) + (AUTO_KEYWORDS,)


def fold(keyword: str) -> str:
    return keyword.casefold()


def leaf(keyword: str) -> str:
    return keyword.split(HIERARCHY)[-1]


def new_document() -> XmpDocument:
    """An empty sidecar, in the xpacket wrapper Adobe and exiftool write."""
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="cliptagger {__version__}">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return parse_xmp(text.encode("utf-8"), "new sidecar")


# ------------------------------------------------------------------------------ reading


@dataclass
class KeywordState:
    """What a sidecar says, in our ``A|B|leaf`` form."""

    leaves: list[str]          # dc:subject
    hierarchical: list[str]    # lr:hierarchicalSubject
    digikam: list[str]         # digiKam:TagsList, converted to '|'
    auto: list[str]            # the entries cliptagger introduced (ownership record), '|' form

    def all_keywords(self) -> list[str]:
        """The union a user thinks of as 'the keywords', hierarchical where known."""
        return union_keywords(self.hierarchical + self.digikam + self.leaves)


def union_keywords(keywords: Iterable[str]) -> list[str]:
    """Case-insensitive union; a flat keyword that is the leaf of a hierarchical one is folded in."""
    keywords = list(keywords)
    hierarchical_leaves = {fold(leaf(k)) for k in keywords if HIERARCHY in k}
    result: list[str] = []
    seen: set[str] = set()
    for keyword in sorted(keywords, key=lambda k: HIERARCHY not in k):  # stable: hierarchical first
        key = fold(keyword)
        if key in seen or (HIERARCHY not in keyword and key in hierarchical_leaves):
            continue
        seen.add(key)
        result.append(keyword)
    return result


def read_keywords(document: XmpDocument) -> KeywordState:
    return KeywordState(
        leaves=[DC_SUBJECT.parse(v) for v in property_values(document, DC_SUBJECT)],
        hierarchical=[LR_HIERARCHICAL.parse(v) for v in property_values(document, LR_HIERARCHICAL)],
        digikam=[DIGIKAM_TAGS.parse(v) for v in property_values(document, DIGIKAM_TAGS)],
        auto=_dedupe([prop.parse(v) if prop.separator else v
                      for prop, record in OWNERSHIP.items() for v in property_values(document, record)]
                     + [AUTO_KEYWORDS.parse(v) for v in property_values(document, AUTO_KEYWORDS)]),
    )


# ------------------------------------------------------------------------------ ownership
#
# An entry of a keyword property is cliptagger's only when cliptagger introduced it: the exact
# values it added are recorded per property (cliptagger:OwnedSubject & co., see OWNERSHIP).
# Everything else is the user's and is never removed. A keyword the user has in any of the
# three properties (any letter case) is the user's in all three: a copy cliptagger adds of it
# elsewhere is not recorded as ours either.


def _key(prop: KeywordProperty, value: str) -> str:
    """What makes two entries of ``prop`` the same keyword (letter case ignored)."""
    return fold(value.strip() if prop.separator is None else prop.parse(value.strip()))


def _render(prop: KeywordProperty, keyword: str) -> str:
    return prop.render(keyword)


def _counts(prop: KeywordProperty, values: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[_key(prop, value)] = counts.get(_key(prop, value), 0) + 1
    return counts


def _owned(document: XmpDocument, entries: dict[KeywordProperty, list[str]]) -> dict[KeywordProperty, set[str]]:
    """Keys of the entries cliptagger introduced, per property.

    From the current record (exact values). From the record older versions wrote
    (cliptagger:AutoKeywords, keywords in ``A|B|leaf`` form, no per-property detail) only what
    that version cannot have found already there: the full paths in the hierarchical
    properties and flat keywords; a leaf it put in dc:subject may have been the user's, so it
    stays. An entry present twice (someone else added it again) is the user's.
    """
    owned: dict[KeywordProperty, set[str]] = {prop: set() for prop in KEYWORD_PROPERTIES}
    counts = {prop: _counts(prop, entries[prop]) for prop in KEYWORD_PROPERTIES}
    for prop, record in OWNERSHIP.items():
        for value in property_values(document, record):
            owned[prop].add(_key(prop, value))
    for keyword in property_values(document, AUTO_KEYWORDS):
        keyword = keyword_form(AUTO_KEYWORDS.parse(keyword))
        for prop in (LR_HIERARCHICAL, DIGIKAM_TAGS):
            owned[prop].add(_key(prop, prop.render(keyword)))
        if HIERARCHY not in keyword:
            owned[DC_SUBJECT].add(fold(keyword))
    return {prop: {k for k in keys if counts[prop].get(k) == 1} for prop, keys in owned.items()}


def _user_keywords(entries: dict[KeywordProperty, list[str]],
                   owned: dict[KeywordProperty, set[str]]) -> list[str]:
    """The user's keywords (entries not ours), in ``A|B|leaf`` form, hierarchical first.

    A flat keyword that names a level of one of the user's hierarchical keywords (Lightroom
    puts ``Portugal`` and ``Lisbon`` in dc:subject for ``Places|Portugal|Lisbon``) is covered
    by it.
    """
    paths: list[str] = []
    for prop in (LR_HIERARCHICAL, DIGIKAM_TAGS, DC_SUBJECT):
        for value in entries[prop]:
            if _key(prop, value) not in owned[prop]:
                paths.append(value.strip() if prop.separator is None else prop.parse(value.strip()))
    levels = {fold(part) for path in paths if HIERARCHY in path for part in path.split(HIERARCHY)}
    return _dedupe([p for p in paths if HIERARCHY in p] + [p for p in paths if HIERARCHY not in p and fold(p) not in levels])


def _user_keys(entries: dict[KeywordProperty, list[str]],
               owned: dict[KeywordProperty, set[str]]) -> tuple[set[str], set[str]]:
    """(paths, leaves) of the user's entries in every property, folded; generous on purpose:
    a digiKam ``AC/DC`` counts both as the path ``AC|DC`` and as the flat ``AC/DC``. A flat
    dc:subject entry that names a level of one of the user's hierarchical keywords is its leaf
    (Lightroom writes those), not a keyword of its own."""
    paths: set[str] = set()
    for prop in (LR_HIERARCHICAL, DIGIKAM_TAGS):
        for value in entries[prop]:
            if _key(prop, value) not in owned[prop]:
                paths |= {_key(prop, value), fold(value.strip())}
    levels = {part for path in paths for part in path.replace("/", HIERARCHY).split(HIERARCHY)}
    flat = {_key(DC_SUBJECT, v) for v in entries[DC_SUBJECT] if _key(DC_SUBJECT, v) not in owned[DC_SUBJECT]}
    # a dc:subject entry naming a level of a hierarchical keyword is that keyword's leaf, not a keyword
    leaves = {p.split(HIERARCHY)[-1] for p in paths} | {p.split("/")[-1] for p in paths} | flat
    return paths | (flat - levels), leaves


# ------------------------------------------------------------------------------ merging


@dataclass
class MergeOutcome:
    added: list[str]
    removed: list[str]
    #: The user's keywords copied into a keyword property that lacked them (not ours to remove).
    carried: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.carried)


def merge_keywords(
    document: XmpDocument,
    keywords: Iterable[str],
    replace_previous_auto: bool = True,
) -> MergeOutcome:
    """Put ``keywords`` (``A|B|leaf`` form) into the document, in place.

    Every keyword ends up in all three properties (the leaf in dc:subject). Entries cliptagger
    introduced on an earlier run (recorded per property) and not proposed now are removed,
    unless ``replace_previous_auto`` is off; anything else stays. When a keyword property is
    missing (or empty), it is started with the user's keywords so every application sees all
    of them. Comparisons ignore letter case.
    """
    wanted = _dedupe(k for k in map(keyword_form, keywords) if k)
    entries = {prop: property_values(document, prop) for prop in KEYWORD_PROPERTIES}
    owned = _owned(document, entries)
    user_paths, user_leaves = _user_keys(entries, owned)
    user_list = _user_keywords(entries, owned)

    removed: list[str] = []
    if replace_previous_auto:
        for prop in KEYWORD_PROPERTIES:
            keep = {_key(prop, prop.render(k)) for k in wanted} | (user_leaves if prop is DC_SUBJECT else user_paths)
            doomed = owned[prop] - keep
            if doomed:
                removed.extend(_remove_entries(document, prop, doomed))
                owned[prop] -= doomed
                entries[prop] = [v for v in entries[prop] if _key(prop, v) not in doomed]

    added: list[str] = []
    carried: list[str] = []
    for prop in KEYWORD_PROPERTIES:
        present = {_key(prop, v) for v in entries[prop]}
        values: list[str] = []
        if not entries[prop] and wanted:
            for keyword in user_list:  # a property we start: the user's keywords first
                value = leaf(keyword) if prop is DC_SUBJECT else prop.render(keyword)
                if _key(prop, value) not in present:
                    present.add(_key(prop, value))
                    values.append(value)
                    carried.append(keyword)
        for keyword in wanted:
            value = prop.render(keyword)
            key = _key(prop, value)
            if key in present:
                continue
            present.add(key)
            values.append(value)
            users = fold(leaf(keyword)) in user_leaves if prop is DC_SUBJECT else fold(keyword) in user_paths
            if users:  # the user's keyword, now in this property too: still the user's
                carried.append(keyword)
            else:
                owned[prop].add(key)
                added.append(keyword)
        if values:
            container = array_container(document, prop)
            for value in values:
                append_item(container, value)
            entries[prop].extend(values)

    outcome = MergeOutcome(added=_dedupe(added), removed=_dedupe(removed), carried=_dedupe(carried))
    if outcome.changed:
        _write_record(document, entries, owned)
    return outcome


def _write_record(document: XmpDocument, entries: dict[KeywordProperty, list[str]],
                  owned: dict[KeywordProperty, set[str]]) -> None:
    """Rewrite the ownership record: exactly our entries, as written, per property."""
    for prop, record in OWNERSHIP.items():
        ours = _dedupe(v.strip() for v in entries[prop] if _key(prop, v) in owned[prop])
        current = property_values(document, record)
        if current == ours:
            continue
        if ours:
            set_array(document, record, ours)
        else:
            drop_property(document, record)
    drop_property(document, AUTO_KEYWORDS)  # the older record, now carried over


def _dedupe(keywords: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for keyword in keywords:
        if fold(keyword) not in seen:
            seen.add(fold(keyword))
            result.append(keyword)
    return result


def _remove_entries(document: XmpDocument, prop: KeywordProperty, doomed: set[str]) -> list[str]:
    """Remove the array items of ``prop`` whose key is in ``doomed``; returns them as keywords."""
    removed = []
    for description in document.descriptions():
        for element in description.findall(prop.tag):
            emptied = False
            for container in element:
                items = container.findall(qname(RDF_NS, "li"))
                for item in items:
                    if item.text and _key(prop, item.text) in doomed:
                        removed.append(item.text.strip() if prop.separator is None else prop.parse(item.text.strip()))
                        remove_child(container, item)
                emptied = emptied or (bool(items) and not container.findall(qname(RDF_NS, "li")))
            if emptied:  # an empty array reads as one blank keyword in exiftool and some apps
                remove_child(description, element)
    return removed


# ------------------------------------------------------------------------------ public


def _check_editable(document: XmpDocument, source: str) -> None:
    """``XmpError`` when a keyword property (or our record) is in a form cliptagger does not edit."""
    for prop in (*KEYWORD_PROPERTIES, *OWNERSHIP.values(), AUTO_KEYWORDS):
        problem = structure_problem(document, prop)
        if problem:
            raise XmpError(f"{source}: {prop.prefix}:{prop.name} is in a form cliptagger does not edit "
                           f"({problem}); left untouched")


def _seeded_document(seed: Iterable[str]) -> XmpDocument:
    """A new packet that starts with the user's keywords ``seed`` (``A|B|leaf``) in every keyword
    property, recorded as nobody's: the user's own, never removed."""
    document = new_document()
    for prop in KEYWORD_PROPERTIES:
        values = _dedupe(leaf(k) if prop is DC_SUBJECT else prop.render(k) for k in seed)
        if values:
            container = array_container(document, prop)
            for value in values:
                append_item(container, value)
    return document


def updated_sidecar(existing: Optional[bytes], keywords: Iterable[str], source: str = "sidecar",
                    replace_previous_auto: bool = True, seed: Iterable[str] = ()) -> tuple[Optional[bytes], MergeOutcome]:
    """New sidecar bytes with ``keywords`` merged in, or None when nothing would change.
    ``seed``: for a new sidecar, the keywords the photo already carries inside (its embedded
    XMP and IPTC): an app that reads the sidecar instead of the photo must still see them."""
    document = parse_xmp(existing, source) if existing is not None else _seeded_document(seed)
    _check_editable(document, source)
    outcome = merge_keywords(document, keywords, replace_previous_auto)
    if existing is not None and not outcome.changed:
        return None, outcome
    data = serialize_xmp(document)
    if existing is not None and data == existing:
        return None, outcome
    return data, outcome


def without_our_keywords(existing: bytes, source: str = "sidecar") -> Optional[bytes]:
    """The sidecar with every entry cliptagger introduced removed (the user's all kept), or None
    when it holds none: what an undo of a file changed since our write may safely do."""
    data, _outcome = updated_sidecar(existing, [], source)
    return data


def without_listed_keywords(existing: bytes, keywords: Iterable[str], restore: Iterable[str],
                            source: str = "sidecar") -> Optional[bytes]:
    """The sidecar with the entries of ``keywords`` (``A|B|leaf`` form) taken out of every keyword
    property and ``restore`` put back, or None when nothing would change.

    For a sidecar whose ownership record another program dropped: the undo journal's own list
    of what a write added says what to take out. An entry present more than once is left (someone
    else added it again), as with the record.
    """
    document = parse_xmp(existing, source)
    _check_editable(document, source)
    entries = {prop: property_values(document, prop) for prop in KEYWORD_PROPERTIES}
    changed = False
    for prop in KEYWORD_PROPERTIES:
        counts = _counts(prop, entries[prop])
        doomed = {key for key in (_key(prop, prop.render(k)) for k in keywords) if counts.get(key) == 1}
        if doomed:
            changed = bool(_remove_entries(document, prop, doomed)) or changed
    outcome = merge_keywords(document, restore, replace_previous_auto=False)
    if not (changed or outcome.changed):
        return None
    return serialize_xmp(document)


def keywords_in_sidecar(data: bytes, source: str = "sidecar") -> list[str]:
    return read_keywords(parse_xmp(data, source)).all_keywords()


__all__ = [
    "KEYWORD_PROPERTIES",
    "KeywordState",
    "MergeOutcome",
    "XmpError",
    "keywords_in_sidecar",
    "merge_keywords",
    "new_document",
    "read_keywords",
    "updated_sidecar",
    "without_listed_keywords",
    "without_our_keywords",
]
