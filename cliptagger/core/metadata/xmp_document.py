"""A faithful, safe XMP packet reader and writer.

Faithful, byte for byte: the parser records where every element, comment, processing
instruction, attribute and run of text sits in the original bytes. Serializing copies the
original bytes of everything cliptagger did not change (character references such as
``&#xD;``, quoting style, CRLF line ends, attribute order and layout all survive); only the
elements cliptagger edited are written anew, and even inside those the unchanged attributes
and text runs are copied. The packet root (x:xmpmeta or rdf:RDF) is located by the parser
itself, so comments and processing instructions before it (even ones mentioning
``<x:xmpmeta>``) cannot fool it; everything outside the root is kept as bytes.

Safe: expat parses the packet with DTDs refused (XMP never has one): no entity expansion
("billion laughs"), no external entities (XXE), no network or file access. Sizes and
encodings are checked first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Optional
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
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, local


@dataclass
class _Original:
    """Where a node sat in the source bytes, and what it held when parsed."""

    start: int
    end: int = -1
    tag_end: int = -1                 # end of the start tag (== end for ``<a/>``)
    close_start: int = -1             # start of the end tag (== end for ``<a/>``)
    name: bytes = b""                 # the qualified name as written, e.g. b"rdf:Description"
    #: Raw attribute/namespace segments of the start tag (leading whitespace included), in order:
    #: (("xmlns", prefix) or ("attr", expanded name), bytes).
    segments: list[tuple[tuple[str, str], bytes]] = field(default_factory=list)
    closer: bytes = b">"              # the start tag's end: ``>``, ``/>``, ``\n  >`` ...
    attrs: list[tuple[str, str]] = field(default_factory=list)
    declarations: list[tuple[str, str]] = field(default_factory=list)
    text: Optional[str] = None
    tail: Optional[str] = None
    children: list[ET.Element] = field(default_factory=list)
    raw_text: bytes = b""
    raw_tail: bytes = b""

    @property
    def self_closing(self) -> bool:
        return self.closer.endswith(b"/>")


@dataclass
class XmpDocument:
    root: ET.Element
    #: Bytes before and after the root element (xpacket PIs, comments, padding), kept verbatim.
    prefix: bytes = b""
    suffix: bytes = b""
    #: Namespace declarations per element, in their original order: element -> [(prefix, uri)].
    declarations: dict[ET.Element, list[tuple[str, str]]] = field(default_factory=dict)
    source: bytes = b""
    originals: dict[ET.Element, _Original] = field(default_factory=dict)

    def rdf(self) -> ET.Element:
        if self.root.tag == qname(RDF_NS, "RDF"):
            return self.root
        found = self.root.find(qname(RDF_NS, "RDF"))
        if found is None:
            raise XmpError("not an XMP packet (no rdf:RDF element)")
        return found

    def descriptions(self) -> list[ET.Element]:
        return self.rdf().findall(qname(RDF_NS, "Description"))

    def ancestry(self, element: ET.Element) -> list[ET.Element]:
        """The elements from the root down to ``element`` (inclusive); [] when not in the tree."""
        def walk(node: ET.Element, path: list[ET.Element]) -> Optional[list[ET.Element]]:
            path = path + [node]
            if node is element:
                return path
            for child in node:
                if isinstance(child.tag, str):
                    found = walk(child, path)
                    if found:
                        return found
            return None

        return walk(self.root, []) or []

    def in_scope(self, element: ET.Element) -> dict[str, str]:
        """prefix -> namespace URI as seen inside ``element``."""
        scope: dict[str, str] = {"xml": XML_NS}
        for node in self.ancestry(element):
            for prefix, uri in self.declarations.get(node, []):
                scope[prefix] = uri
        return scope

    def prefix_for(self, uri: str) -> Optional[str]:
        for declared in self.declarations.values():
            for prefix, declared_uri in declared:
                if declared_uri == uri and prefix:
                    return prefix
        return None

    def declare(self, element: ET.Element, prefix: str, uri: str) -> str:
        """Make ``uri`` usable (with a prefix) for ``element`` and its children.

        Reuses a prefix already in scope; otherwise declares one on ``element``: the prefix the
        document uses for ``uri`` elsewhere, else ``prefix``, else ``prefix2``...; a prefix is
        never bound to a second URI anywhere in the document (raw copied descendants keep
        their meaning).
        """
        scope = self.in_scope(element)
        for bound, bound_uri in scope.items():
            if bound_uri == uri and bound:
                return bound
        bindings: dict[str, set[str]] = {}
        for declared in self.declarations.values():
            for p, u in declared:
                bindings.setdefault(p, set()).add(u)
        candidates = [p for p in (self.prefix_for(uri), prefix) if p]
        n = 1
        while True:
            for candidate in candidates:
                if bindings.get(candidate, {uri}) == {uri} and candidate not in scope and candidate != "xml":
                    self.declarations.setdefault(element, []).append((candidate, uri))
                    return candidate
            n += 1
            candidates = [f"{prefix}{n}"]


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
    parser = expat.ParserCreate(encoding="utf-8", namespace_separator="}")
    builder = _Builder(parser, data)
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
    builder.finish()
    span = builder.originals[builder.root]
    document = XmpDocument(builder.root, data[:span.start], data[span.end:], builder.declarations,
                           data, builder.originals)
    try:
        document.rdf()
    except XmpError:
        raise XmpError(f"{source} is XML but not an XMP packet (no rdf:RDF element); left untouched") from None
    if document.root.tag not in (qname(X_NS, "xmpmeta"), qname(RDF_NS, "RDF"), qname(X_NS, "xapmeta")):
        raise XmpError(f"{source} is XML but not an XMP packet (root is {document.root.tag}); left untouched")
    return document


def _refuse_doctype(*_args: object) -> None:
    raise XmpError("the sidecar contains a DTD (<!DOCTYPE>), which XMP never uses: refused, left untouched")


def _refuse_entity(*_args: object) -> None:
    raise XmpError("the sidecar declares XML entities: refused, left untouched")


def _refuse_external(*_args: object) -> int:
    raise XmpError("the sidecar refers to an external entity: refused, left untouched")


_ATTRIBUTE = re.compile(rb"""(\s+)([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")
_CLOSER = re.compile(rb"\s*/?>")
_TAG_NAME = re.compile(rb"<([^\s/>]+)")


class _Builder:
    """Expat callbacks -> ElementTree, remembering declarations and where each node sits.

    Offsets come from expat's ``CurrentByteIndex`` (the start of the token being reported);
    the ends of tags are found by lexing the (already validated) tag from there.
    """

    def __init__(self, parser: Any, data: bytes) -> None:
        self.parser = parser
        self.source = data
        self.root: Optional[ET.Element] = None
        self.stack: list[ET.Element] = []
        self.declarations: dict[ET.Element, list[tuple[str, str]]] = {}
        self.originals: dict[ET.Element, _Original] = {}
        self._pending_ns: list[tuple[str, str]] = []
        self._last: Optional[ET.Element] = None  # where text goes: .text of open or .tail of closed

    def start_ns(self, prefix: Optional[str], uri: str) -> None:
        self._pending_ns.append((prefix or "", uri))

    def start(self, tag: str, attributes: list[str]) -> None:
        if self.root is not None and not self.stack:
            return  # expat rejects a second root; never reached
        attrs = {_expat_name(attributes[i]): attributes[i + 1] for i in range(0, len(attributes), 2)}
        element = ET.Element(_expat_name(tag), attrs)
        self._attach(element)
        declared = self._pending_ns
        self._pending_ns = []
        if declared:
            self.declarations[element] = declared
        self.originals[element] = self._lex_start_tag(self.parser.CurrentByteIndex, list(attrs), declared)
        self.originals[element].attrs = list(attrs.items())
        self.originals[element].declarations = list(declared)
        self.stack.append(element)
        self._last = None

    def _lex_start_tag(self, start: int, attribute_names: list[str], declared: list[tuple[str, str]]) -> _Original:
        data = self.source
        name = _TAG_NAME.match(data, start)
        assert name is not None
        position = name.end()
        segments = []
        names = iter(attribute_names)
        while True:
            match = _ATTRIBUTE.match(data, position)
            if match is None:
                break
            raw_name = match.group(2)
            if raw_name == b"xmlns" or raw_name.startswith(b"xmlns:"):
                key = ("xmlns", raw_name[6:].decode("utf-8"))
            else:
                key = ("attr", next(names))
            segments.append((key, match.group(0)))
            position = match.end()
        closer = _CLOSER.match(data, position)
        assert closer is not None
        return _Original(start=start, tag_end=closer.end(), name=name.group(1), segments=segments,
                         closer=closer.group(0))

    def end(self, _tag: str) -> None:
        element = self.stack.pop()
        original = self.originals[element]
        if original.self_closing:
            original.close_start = original.end = original.tag_end
        else:
            original.close_start = self.parser.CurrentByteIndex
            original.end = self.source.index(b">", original.close_start) + 1
        self._last = element

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
            start = self.parser.CurrentByteIndex
            self._leaf(ET.Comment(text), start, self.source.index(b"-->", start + 4) + 3)

    def pi(self, target: str, data: str) -> None:
        if self.stack:
            start = self.parser.CurrentByteIndex
            self._leaf(ET.ProcessingInstruction(target, data), start, self.source.index(b"?>", start + 2) + 2)

    def _leaf(self, node: "ET.Element[Any]", start: int, end: int) -> None:
        self.stack[-1].append(node)
        self.originals[node] = _Original(start=start, end=end, tag_end=end, close_start=end)
        self._last = node

    def _attach(self, element: ET.Element) -> None:
        if self.stack:
            self.stack[-1].append(element)
        elif self.root is None:
            self.root = element

    def finish(self) -> None:
        """Record each node's original text, tail and children, and the raw bytes of the text runs."""
        data = self.source
        for node, original in self.originals.items():
            original.text = node.text
            original.tail = node.tail
            children = list(node)
            original.children = children
            if not isinstance(node.tag, str):
                original.text = node.text
                continue
            boundary = children[0] if children else None
            original.raw_text = data[original.tag_end:self.originals[boundary].start if boundary is not None
                                     else original.close_start]
            for index, child in enumerate(children):
                after = children[index + 1] if index + 1 < len(children) else None
                self.originals[child].raw_tail = data[self.originals[child].end:
                                                      self.originals[after].start if after is not None
                                                      else original.close_start]


def _expat_name(name: str) -> str:
    if "}" in name:
        namespace, local = name.split("}", 1)
        return f"{{{namespace}}}{local}"
    return name


# -------------------------------------------------------------------------- serializing


def serialize_xmp(document: XmpDocument) -> bytes:
    writer = _Writer(document)
    writer.write(document.root, {XML_NS: "xml"})
    return document.prefix + b"".join(writer.out) + document.suffix


class _Writer:
    def __init__(self, document: XmpDocument) -> None:
        self.document = document
        self.source = document.source
        self.out: list[bytes] = []
        self._clean: dict[ET.Element, bool] = {}
        self.newline = "\r\n" if document.source.count(b"\r\n") > document.source.count(b"\n") / 2 else "\n"

    def clean(self, node: ET.Element) -> bool:
        """Unchanged since parsing, itself and everything below it."""
        if node in self._clean:
            return self._clean[node]
        original = self.document.originals.get(node)
        if original is None:
            result = False
        elif not isinstance(node.tag, str):
            result = node.text == original.text
        else:
            result = (
                node.text == original.text
                and list(node.attrib.items()) == original.attrs
                and self.document.declarations.get(node, []) == original.declarations
                and list(node) == original.children
                and all(self.clean(child) and child.tail == self.document.originals[child].tail for child in node)
            )
        self._clean[node] = result
        return result

    def write(self, node: ET.Element, in_scope: dict[str, str]) -> None:
        original = self.document.originals.get(node)
        if original is not None and self.clean(node):
            self.out.append(self.source[original.start:original.end])
            return
        tag: Any = node.tag  # a str, or the Comment / ProcessingInstruction factory
        if tag is ET.Comment:
            self.out.append(f"<!--{node.text or ''}-->".encode("utf-8"))
            return
        if tag is ET.ProcessingInstruction:
            self.out.append(f"<?{node.text or ''}?>".encode("utf-8"))
            return
        scope = dict(in_scope)
        declared = self.document.declarations.get(node, [])
        for prefix, uri in declared:
            scope[uri] = prefix
        has_content = bool(len(node) or node.text)
        if original is not None:
            name = original.name
            self.out.append(self._start_tag(node, original, scope, has_content))
        else:
            name = _prefixed(node.tag, scope).encode("utf-8")
            self.out.append(b"<" + name)
            for prefix, uri in declared:
                attribute = f"xmlns:{prefix}" if prefix else "xmlns"
                self.out.append(f' {attribute}="{_escape_attribute(uri)}"'.encode("utf-8"))
            for key, value in node.attrib.items():
                self.out.append(f' {_prefixed(key, scope, attribute=True)}="{_escape_attribute(value)}"'.encode("utf-8"))
            self.out.append(b">" if has_content else b"/>")
        if not has_content:
            if original is not None and not original.self_closing:
                self.out.append(self.source[original.close_start:original.end])
            return
        if node.text:
            if original is not None and node.text == original.text:
                self.out.append(original.raw_text)
            else:
                self.out.append(self._text(node.text))
        for child in node:
            self.write(child, scope)
            child_original = self.document.originals.get(child)
            if child_original is not None and child.tail == child_original.tail:
                self.out.append(child_original.raw_tail)
            elif child.tail:
                self.out.append(self._text(child.tail))
        if original is not None and not original.self_closing:
            self.out.append(self.source[original.close_start:original.end])
        else:
            self.out.append(b"</" + name + b">")

    def _start_tag(self, node: ET.Element, original: _Original, scope: dict[str, str], has_content: bool) -> bytes:
        """The original start tag, with only the changed attributes and declarations rewritten."""
        parts = [b"<" + original.name]
        declared = self.document.declarations.get(node, [])
        written_declarations = set()
        written_attributes = set()
        separator = b" "
        for (kind, key), raw in original.segments:
            separator = raw[: len(raw) - len(raw.lstrip())] or b" "
            if kind == "xmlns":
                if any(prefix == key for prefix, _ in declared):
                    parts.append(raw)
                    written_declarations.add(key)
            elif key in node.attrib:
                written_attributes.add(key)
                if (key, node.attrib[key]) in original.attrs:
                    parts.append(raw)
                else:
                    parts.append(separator + self._attribute(key, node.attrib[key], scope))
        for prefix, uri in declared:
            if prefix not in written_declarations:
                attribute = f"xmlns:{prefix}" if prefix else "xmlns"
                parts.append(separator + f'{attribute}="{_escape_attribute(uri)}"'.encode("utf-8"))
        for key, value in node.attrib.items():
            if key not in written_attributes:
                parts.append(separator + self._attribute(key, value, scope))
        closer = original.closer
        if has_content and original.self_closing:
            closer = closer[:-2] + b">"
        parts.append(closer)
        return b"".join(parts)

    @staticmethod
    def _attribute(key: str, value: str, scope: dict[str, str]) -> bytes:
        return f'{_prefixed(key, scope, attribute=True)}="{_escape_attribute(value)}"'.encode("utf-8")

    def _text(self, text: str) -> bytes:
        if not text.strip():  # indentation we wrote: follow the file's line ends
            return text.replace("\n", self.newline).encode("utf-8")
        return _escape_text(text).encode("utf-8")


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
    # A raw CR would be read back as a line feed (XML end-of-line handling): keep it a reference.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def _escape_attribute(text: str) -> str:
    # '>' is legal inside attribute values, but exiftool's XMP reader ends the tag there.
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\n", "&#xA;").replace("\r", "&#xD;").replace("\t", "&#x9;")
    )
