"""A faithful, safe XMP packet reader and writer.

Faithful: the xpacket wrapper and anything outside the root element are kept as bytes;
comments, processing instructions, attribute order, whitespace and the namespace
prefixes (declared on the same elements as before) all survive a round trip, so only
what cliptagger edits changes.

Safe: the packet is parsed by expat with DTDs refused outright (XMP never has one), which
stops entity expansion ("billion laughs") and external entities (XXE) before they start;
no network, no file access. Sizes and encodings are checked first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional
from xml.parsers import expat

from cliptagger.core.errors import CliptaggerError

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
XML_NS = "http://www.w3.org/XML/1998/namespace"

#: Sidecars larger than this are refused (real ones are kilobytes; 16 MB is generous).
MAX_SIDECAR_BYTES = 16 * 1024 * 1024


class XmpError(CliptaggerError):
    """A sidecar that cliptagger will not read or modify; the file is left untouched."""


def qname(namespace: str, local: str) -> str:
    return f"{{{namespace}}}{local}"


def split_qname(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


@dataclass
class XmpDocument:
    root: ET.Element
    #: Bytes before and after the root element (xpacket PIs, padding), kept verbatim.
    prefix: bytes = b""
    suffix: bytes = b""
    #: Namespace declarations per element, in their original order: element -> [(prefix, uri)].
    declarations: dict[ET.Element, list[tuple[str, str]]] = field(default_factory=dict)

    def rdf(self) -> ET.Element:
        if self.root.tag == qname(RDF_NS, "RDF"):
            return self.root
        found = self.root.find(qname(RDF_NS, "RDF"))
        if found is None:
            raise XmpError("not an XMP packet (no rdf:RDF element)")
        return found

    def descriptions(self) -> list[ET.Element]:
        return self.rdf().findall(qname(RDF_NS, "Description"))

    def prefix_for(self, uri: str) -> Optional[str]:
        for declared in self.declarations.values():
            for prefix, declared_uri in declared:
                if declared_uri == uri:
                    return prefix
        return None

    def declare(self, element: ET.Element, prefix: str, uri: str) -> str:
        """Make ``uri`` usable under ``element``; reuse an existing prefix, avoid clashes."""
        existing = self.prefix_for(uri)
        if existing is not None:
            return existing
        taken = {p for declared in self.declarations.values() for p, _ in declared}
        candidate, n = prefix, 1
        while candidate in taken:
            n += 1
            candidate = f"{prefix}{n}"
        self.declarations.setdefault(element, []).append((candidate, uri))
        return candidate


# ------------------------------------------------------------------------------ parsing


def parse_xmp(data: bytes, source: str = "sidecar") -> XmpDocument:
    if len(data) > MAX_SIDECAR_BYTES:
        raise XmpError(
            f"{source} is {len(data) / 1e6:.0f} MB, larger than any real XMP sidecar "
            f"(limit {MAX_SIDECAR_BYTES // (1024 * 1024)} MB); left untouched"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        raise XmpError(f"{source} is UTF-16/32 encoded; cliptagger only edits UTF-8 XMP; left untouched")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise XmpError(f"{source} is not valid UTF-8 (bad byte at offset {err.start}); left untouched") from None
    builder = _Builder()
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.ordered_attributes = True
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    parser.StartNamespaceDeclHandler = builder.start_ns
    try:
        parser.Parse(data, True)
    except expat.ExpatError as err:
        raise XmpError(f"{source} is not well-formed XML ({expat.errors.messages[err.code]}, "
                       f"line {err.lineno}); left untouched") from None
    except RecursionError:
        raise XmpError(f"{source} nests elements too deeply; left untouched") from None
    if builder.root is None:
        raise XmpError(f"{source} has no XML element; left untouched")
    start, end = _root_span(data)
    document = XmpDocument(builder.root, data[:start], data[end:], builder.declarations)
    try:
        document.rdf()
    except XmpError:
        raise XmpError(f"{source} is XML but not an XMP packet (no rdf:RDF element); left untouched") from None
    if document.root.tag not in (qname(X_NS, "xmpmeta"), qname(RDF_NS, "RDF"), qname(X_NS, "xapmeta")):
        raise XmpError(f"{source} is XML but not an XMP packet (root is {document.root.tag}); left untouched")
    return document


def _refuse_doctype(*_args) -> None:
    raise XmpError("the sidecar contains a DTD (<!DOCTYPE>), which XMP never uses: refused, left untouched")


def _refuse_entity(*_args) -> None:
    raise XmpError("the sidecar declares XML entities: refused, left untouched")


def _refuse_external(*_args) -> int:
    raise XmpError("the sidecar refers to an external entity: refused, left untouched")


class _Builder:
    """Expat callbacks -> ElementTree, remembering which element declared which namespace."""

    def __init__(self) -> None:
        self.root: Optional[ET.Element] = None
        self.stack: list[ET.Element] = []
        self.declarations: dict[ET.Element, list[tuple[str, str]]] = {}
        self._pending_ns: list[tuple[str, str]] = []
        self._last: Optional[ET.Element] = None  # where text goes: .text of open or .tail of closed

    def start_ns(self, prefix: Optional[str], uri: str) -> None:
        self._pending_ns.append((prefix or "", uri))

    def start(self, tag: str, attributes: list[str]) -> None:
        attrs = {_expat_name(attributes[i]): attributes[i + 1] for i in range(0, len(attributes), 2)}
        element = ET.Element(_expat_name(tag), attrs)
        self._attach(element)
        if self._pending_ns:
            self.declarations[element] = self._pending_ns
            self._pending_ns = []
        self.stack.append(element)
        self._last = None

    def end(self, _tag: str) -> None:
        self._last = self.stack.pop()

    def data(self, text: str) -> None:
        if not self.stack:
            return  # whitespace outside the root lives in prefix/suffix bytes
        if self._last is None:
            parent = self.stack[-1]
            parent.text = (parent.text or "") + text
        else:
            self._last.tail = (self._last.tail or "") + text

    def comment(self, text: str) -> None:
        if self.stack:
            self._leaf(ET.Comment(text))

    def pi(self, target: str, data: str) -> None:
        if self.stack:
            self._leaf(ET.ProcessingInstruction(target, data))

    def _leaf(self, node: ET.Element) -> None:
        self.stack[-1].append(node)
        self._last = node

    def _attach(self, element: ET.Element) -> None:
        if self.stack:
            self.stack[-1].append(element)
        elif self.root is None:
            self.root = element


def _expat_name(name: str) -> str:
    if "}" in name:
        namespace, local = name.split("}", 1)
        return f"{{{namespace}}}{local}"
    return name


_ROOT_START = re.compile(rb"<(?![?!])")
_NAME = re.compile(rb"<([^\s/>]+)")


def _root_span(data: bytes) -> tuple[int, int]:
    """Byte offsets of the root element (called only after a successful parse)."""
    position = 0
    while True:
        match = _ROOT_START.search(data, position)
        if match is None:
            return 0, len(data)
        start = match.start()
        if data.startswith(b"<!--", start):  # a comment before the root may contain '<'
            position = data.find(b"-->", start) + 3
            continue
        break
    name = _NAME.match(data, start)
    if name is None:
        return start, len(data)
    closing = data.rfind(b"</" + name.group(1), start)
    if closing < 0:  # self-closing root
        return start, data.find(b">", start) + 1
    return start, data.find(b">", closing) + 1


# -------------------------------------------------------------------------- serializing


def serialize_xmp(document: XmpDocument) -> bytes:
    parts: list[str] = []
    prefixes: dict[str, str] = {XML_NS: "xml"}
    _write(document.root, document, parts, prefixes)
    return document.prefix + "".join(parts).encode("utf-8") + document.suffix


def _write(node: ET.Element, document: XmpDocument, out: list[str], in_scope: dict[str, str]) -> None:
    if node.tag is ET.Comment:
        out.append(f"<!--{node.text or ''}-->")
        return
    if node.tag is ET.ProcessingInstruction:
        out.append(f"<?{node.text or ''}?>")
        return
    scope = dict(in_scope)
    declared = document.declarations.get(node, [])
    for prefix, uri in declared:
        scope[uri] = prefix
    name = _prefixed(node.tag, scope)
    out.append(f"<{name}")
    for prefix, uri in declared:
        attribute = f"xmlns:{prefix}" if prefix else "xmlns"
        out.append(f' {attribute}="{_escape_attribute(uri)}"')
    for key, value in node.attrib.items():
        out.append(f' {_prefixed(key, scope, attribute=True)}="{_escape_attribute(value)}"')
    if len(node) == 0 and not node.text:
        out.append("/>")
    else:
        out.append(">")
        if node.text:
            out.append(_escape_text(node.text))
        for child in node:
            _write(child, document, out, scope)
            if child.tail:
                out.append(_escape_text(child.tail))
        out.append(f"</{name}>")


def _prefixed(tag: str, scope: dict[str, str], attribute: bool = False) -> str:
    namespace, local = split_qname(tag)
    if not namespace:
        return local
    prefix = scope.get(namespace)
    if prefix is None:
        raise XmpError(f"internal error: namespace {namespace} has no prefix in scope")
    if prefix == "" and attribute:
        raise XmpError(f"internal error: attribute in default namespace {namespace}")
    return f"{prefix}:{local}" if prefix else local


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    # '>' is legal inside attribute values, but exiftool's XMP reader ends the tag there.
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\n", "&#xA;").replace("\r", "&#xD;").replace("\t", "&#x9;")
    )
