"""Keywords in XMP: reading them from sidecars and images, merging ours in without loss.

The declarative table ``KEYWORD_PROPERTIES`` says where a keyword goes:

=====================  ==========================================  =========  ==========
property               namespace                                   container  form
=====================  ==========================================  =========  ==========
dc:subject             http://purl.org/dc/elements/1.1/            rdf:Bag    leaf name
lr:hierarchicalSubject http://ns.adobe.com/lightroom/1.0/          rdf:Bag    ``A|B|leaf``
digiKam:TagsList       http://www.digikam.org/ns/1.0/              rdf:Seq    ``A/B/leaf``
=====================  ==========================================  =========  ==========

``cliptagger:AutoKeywords`` (rdf:Bag, ``|`` form) records which keywords cliptagger added
itself, so that a later run can replace them and never touch a keyword the user typed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterable, Optional

from cliptagger import __version__
from cliptagger.core.xmp_document import (
    RDF_NS,
    XmpDocument,
    XmpError,
    parse_xmp,
    qname,
    serialize_xmp,
)

HIERARCHY = "|"
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
LR_HIERARCHICAL = KeywordProperty("lr", "http://ns.adobe.com/lightroom/1.0/", "hierarchicalSubject", "Bag", "|")
DIGIKAM_TAGS = KeywordProperty("digiKam", "http://www.digikam.org/ns/1.0/", "TagsList", "Seq", "/")
AUTO_KEYWORDS = KeywordProperty("cliptagger", CLIPTAGGER_NS, "AutoKeywords", "Bag", "|")

KEYWORD_PROPERTIES: tuple[KeywordProperty, ...] = (DC_SUBJECT, LR_HIERARCHICAL, DIGIKAM_TAGS)
OWNED_PROPERTIES: tuple[KeywordProperty, ...] = KEYWORD_PROPERTIES + (AUTO_KEYWORDS,)


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


def _items(document: XmpDocument, prop: KeywordProperty) -> list[str]:
    values: list[str] = []
    for description in document.descriptions():
        for element in description.findall(prop.tag):
            values.extend(_array_values(element))
        attribute = description.get(prop.tag)  # a single value in attribute form
        if attribute:
            values.append(attribute)
    return values


def _array_values(element: ET.Element) -> list[str]:
    values = []
    for container in element:
        for item in container.findall(qname(RDF_NS, "li")):
            if item.text and item.text.strip():
                values.append(item.text.strip())
    if len(element) == 0 and element.text and element.text.strip():
        values.append(element.text.strip())  # a simple (non-array) value
    return values


@dataclass
class KeywordState:
    """What a sidecar says, in our ``A|B|leaf`` form."""

    leaves: list[str]          # dc:subject
    hierarchical: list[str]    # lr:hierarchicalSubject
    digikam: list[str]         # digiKam:TagsList, converted to '|'
    auto: list[str]            # cliptagger:AutoKeywords

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
        leaves=[DC_SUBJECT.parse(v) for v in _items(document, DC_SUBJECT)],
        hierarchical=[LR_HIERARCHICAL.parse(v) for v in _items(document, LR_HIERARCHICAL)],
        digikam=[DIGIKAM_TAGS.parse(v) for v in _items(document, DIGIKAM_TAGS)],
        auto=[AUTO_KEYWORDS.parse(v) for v in _items(document, AUTO_KEYWORDS)],
    )


# ------------------------------------------------------------------------------ merging


@dataclass
class MergeOutcome:
    added: list[str]
    removed: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def merge_keywords(
    document: XmpDocument,
    keywords: Iterable[str],
    replace_previous_auto: bool = True,
) -> MergeOutcome:
    """Put ``keywords`` (``A|B|leaf`` form) into the document, in place.

    Keywords cliptagger added on an earlier run (recorded in cliptagger:AutoKeywords) and
    not proposed now are removed, unless ``replace_previous_auto`` is off; anything else
    already present stays. Comparisons ignore letter case.
    """
    wanted = _dedupe(k.strip(HIERARCHY + " ") for k in keywords if k.strip(HIERARCHY + " "))
    state = read_keywords(document)
    present = {fold(k) for k in state.hierarchical + state.digikam}
    present_leaves = {fold(k) for k in state.leaves}
    previous_auto = {fold(k): k for k in state.auto}

    to_remove = []
    if replace_previous_auto:
        wanted_folded = {fold(k) for k in wanted}
        to_remove = [k for f, k in previous_auto.items() if f not in wanted_folded]
    # A keyword is "ours" only if we put it there; one the user already had stays theirs.
    to_add = [k for k in wanted if fold(k) not in present and not (HIERARCHY not in k and fold(k) in present_leaves)]
    still_auto = [k for f, k in previous_auto.items() if f not in {fold(r) for r in to_remove}]
    new_auto = _dedupe(still_auto + to_add)

    if to_remove:
        _remove(document, to_remove, keep=[k for k in state.all_keywords() if fold(k) not in {fold(r) for r in to_remove}] + wanted)
    if to_add:
        _add(document, to_add)
    if [fold(k) for k in new_auto] != [fold(k) for k in state.auto]:
        _set_array(document, AUTO_KEYWORDS, new_auto)
    return MergeOutcome(added=to_add, removed=to_remove)


def _dedupe(keywords: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for keyword in keywords:
        if fold(keyword) not in seen:
            seen.add(fold(keyword))
            result.append(keyword)
    return result


def _target_description(document: XmpDocument, prop: KeywordProperty) -> ET.Element:
    descriptions = document.descriptions()
    for description in descriptions:
        if description.find(prop.tag) is not None:
            return description
    if descriptions:
        return descriptions[0]
    rdf = document.rdf()
    description = ET.SubElement(rdf, qname(RDF_NS, "Description"), {qname(RDF_NS, "about"): ""})
    return description


def _container(document: XmpDocument, prop: KeywordProperty) -> ET.Element:
    """The rdf:Bag/Seq of the property, created (with indentation) when missing."""
    description = _target_description(document, prop)
    element = description.find(prop.tag)
    if element is not None:
        for child in element:
            if child.tag in (qname(RDF_NS, "Bag"), qname(RDF_NS, "Seq"), qname(RDF_NS, "Alt")):
                return child
        # a simple value or attribute-less empty property: turn it into an array
        value = (element.text or "").strip()
        element.text = None
        container = ET.SubElement(element, qname(RDF_NS, prop.container))
        if value:
            ET.SubElement(container, qname(RDF_NS, "li")).text = value
        return container
    if description.get(prop.tag) is not None:  # attribute form: move into element form
        value = description.attrib.pop(prop.tag)
    else:
        value = ""
    document.declare(description, prop.prefix, prop.namespace)
    indent = _child_indent(description)
    if len(description) == 0:
        description.text = indent
        closing = indent[:-1] if indent.endswith(" ") and len(description) == 0 and indent != "\n" else indent
    else:
        closing = description[-1].tail or ""
        description[-1].tail = indent
    element = ET.SubElement(description, prop.tag)
    element.tail = closing
    container = ET.SubElement(element, qname(RDF_NS, prop.container))
    element.text = indent + " "
    container.tail = indent
    if value:
        ET.SubElement(container, qname(RDF_NS, "li")).text = value
    return container


def _child_indent(element: ET.Element) -> str:
    if len(element) and element.text and element.text.strip() == "":
        return element.text
    return "\n   "


def _append_item(container: ET.Element, value: str) -> None:
    """Append an rdf:li, following the indentation already used around the container."""
    items = container.findall(qname(RDF_NS, "li"))
    item = ET.Element(qname(RDF_NS, "li"))
    item.text = value
    if items:
        between = container.text if container.text and not container.text.strip() else ""
        item.tail = items[-1].tail
        items[-1].tail = between
        container.insert(list(container).index(items[-1]) + 1, item)
    else:
        outer = container.tail if container.tail and not container.tail.strip() else "\n"
        container.text = outer + "  "
        item.tail = outer + " "
        container.append(item)


def _add(document: XmpDocument, keywords: list[str]) -> None:
    for prop in KEYWORD_PROPERTIES:
        container = _container(document, prop)
        present = {fold(prop.parse(v)) for v in _array_values_of(container)}
        for keyword in keywords:
            value = prop.render(keyword)
            if fold(prop.parse(value)) not in present:
                _append_item(container, value)
                present.add(fold(prop.parse(value)))


def _array_values_of(container: ET.Element) -> list[str]:
    return [item.text.strip() for item in container.findall(qname(RDF_NS, "li")) if item.text]


def _remove(document: XmpDocument, keywords: list[str], keep: list[str]) -> None:
    """Remove keywords we added earlier; a leaf stays in dc:subject while a kept keyword uses it."""
    kept_leaves = {fold(leaf(k)) for k in keep}
    for prop in KEYWORD_PROPERTIES:
        doomed = set()
        for keyword in keywords:
            if prop.separator is None and fold(leaf(keyword)) in kept_leaves:
                continue
            doomed.add(fold(prop.parse(prop.render(keyword))))
        for description in document.descriptions():
            for element in description.findall(prop.tag):
                for container in element:
                    for item in list(container.findall(qname(RDF_NS, "li"))):
                        if item.text and fold(prop.parse(item.text.strip())) in doomed:
                            _remove_child(container, item)


def _remove_child(parent: ET.Element, child: ET.Element) -> None:
    children = list(parent)
    index = children.index(child)
    if index > 0:
        children[index - 1].tail = child.tail
    elif len(children) == 1:
        parent.text = child.tail  # the container's closing indentation
    parent.remove(child)


def _set_array(document: XmpDocument, prop: KeywordProperty, values: list[str]) -> None:
    container = _container(document, prop)
    for item in list(container.findall(qname(RDF_NS, "li"))):
        _remove_child(container, item)
    for value in values:
        _append_item(container, prop.render(value))


# ------------------------------------------------------------------------------ public


def updated_sidecar(existing: Optional[bytes], keywords: Iterable[str], source: str = "sidecar",
                    replace_previous_auto: bool = True) -> tuple[Optional[bytes], MergeOutcome]:
    """New sidecar bytes with ``keywords`` merged in, or None when nothing would change."""
    document = parse_xmp(existing, source) if existing is not None else new_document()
    outcome = merge_keywords(document, keywords, replace_previous_auto)
    if existing is not None and not outcome.changed:
        return None, outcome
    data = serialize_xmp(document)
    if existing is not None and data == existing:
        return None, outcome
    return data, outcome


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
]
