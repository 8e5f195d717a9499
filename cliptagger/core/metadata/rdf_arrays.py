"""Editing RDF arrays (rdf:Bag, rdf:Seq) inside an XMP packet, as a person would by hand.

Where a property goes (the Description that holds it, or declares its namespace), turning a
simple or attribute value into an array, appending and removing rdf:li items while keeping
the indentation already used around them. Knows nothing of keywords: ``xmp`` does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional, Protocol

from cliptagger.core.metadata.xmp_document import RDF_NS, XmpDocument, qname


class ArrayProperty(Protocol):
    """An XMP property holding an array: ``tag`` is its {namespace}name, ``container`` Bag or Seq."""

    @property
    def tag(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def container(self) -> str: ...


def property_values(document: XmpDocument, prop: ArrayProperty) -> list[str]:
    values: list[str] = []
    for description in document.descriptions():
        for element in description.findall(prop.tag):
            values.extend(array_values(element))
        attribute = description.get(prop.tag)  # a single value in attribute form
        if attribute:
            values.append(attribute)
    return values


def array_values(element: ET.Element) -> list[str]:
    values = []
    for container in element:
        for item in container.findall(qname(RDF_NS, "li")):
            if item.text and item.text.strip():
                values.append(item.text.strip())
    if len(element) == 0 and element.text and element.text.strip():
        values.append(element.text.strip())  # a simple (non-array) value
    return values


_CONTAINERS = ("Bag", "Seq", "Alt")
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def structure_problem(document: XmpDocument, prop: ArrayProperty) -> Optional[str]:
    """Why ``prop`` is in a form these functions must not edit (None: a simple value, an
    attribute, or one rdf:Bag/Seq/Alt of plain rdf:li items). Editing a form we do not understand
    (``rdf:parseType="Resource"``, a struct, a property given twice...) would change its meaning."""
    found = 0
    for description in document.descriptions():
        elements = description.findall(prop.tag)
        found += len(elements) + (prop.tag in description.attrib)
        for element in elements:
            unknown = [name for name in element.attrib if name != _LANG]
            if unknown:
                return f"it has the attribute {_short(unknown[0])}"
            children = list(element)
            if len(children) > 1 or (children and children[0].tag not in {qname(RDF_NS, c) for c in _CONTAINERS}):
                return f"it holds {_short(children[0].tag)} where cliptagger expects one rdf:Bag"
            for item in children[0] if children else ():
                if item.tag != qname(RDF_NS, "li") or len(item) or any(a != _LANG for a in item.attrib):
                    return "its items have a structure of their own"
    return "it is given more than once" if found > 1 else None


def _short(name: str) -> str:
    """``{http://www.w3.org/1999/02/22-rdf-syntax-ns#}parseType`` -> ``rdf:parseType``."""
    namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    return f"rdf:{local}" if namespace == RDF_NS else local


def drop_property(document: XmpDocument, prop: ArrayProperty) -> None:
    for description in document.descriptions():
        for element in description.findall(prop.tag):
            remove_child(description, element)
        description.attrib.pop(prop.tag, None)


def target_description(document: XmpDocument, prop: ArrayProperty) -> ET.Element:
    """The rdf:Description for ``prop``: the one holding it already, else one where its
    namespace is declared (exiftool writes one Description per namespace), else the first
    (the namespace is then declared on it)."""
    descriptions = document.descriptions()
    for description in descriptions:
        if description.find(prop.tag) is not None or prop.tag in description.attrib:
            return description
    for description in descriptions:
        if any(uri == prop.namespace and p for p, uri in document.in_scope(description).items()):
            return description
    if descriptions:
        return descriptions[0]
    rdf = document.rdf()
    about = qname(RDF_NS, "about")
    description = ET.SubElement(rdf, qname(RDF_NS, "Description"), {about: ""})
    return description


def array_container(document: XmpDocument, prop: ArrayProperty) -> ET.Element:
    """The rdf:Bag/Seq of the property, created (with indentation) when missing."""
    description = target_description(document, prop)
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
    indent = child_indent(description)
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


def child_indent(element: ET.Element) -> str:
    if len(element) and element.text and element.text.strip() == "":
        return element.text
    return "\n   "


def append_item(container: ET.Element, value: str) -> None:
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


def container_values(container: ET.Element) -> list[str]:
    return [item.text.strip() for item in container.findall(qname(RDF_NS, "li")) if item.text]


def remove_child(parent: ET.Element, child: ET.Element) -> None:
    children = list(parent)
    index = children.index(child)
    if index > 0:
        children[index - 1].tail = child.tail
    elif len(children) == 1:
        parent.text = child.tail  # the container's closing indentation
    parent.remove(child)


def set_array(document: XmpDocument, prop: ArrayProperty, values: list[str]) -> None:
    """Replace the items of ``prop`` with ``values`` (stored as given)."""
    container = array_container(document, prop)
    for item in list(container.findall(qname(RDF_NS, "li"))):
        remove_child(container, item)
    for value in values:
        append_item(container, value)
