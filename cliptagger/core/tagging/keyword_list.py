"""Lightroom keyword lists (Metadata > Export Keywords / Import Keywords) as label sets.

The format: one keyword a line, one TAB more per level below its parent, ``{name}`` on the
line below a keyword (one TAB deeper) is a synonym of it, ``[name]`` is a keyword that only
organises (Lightroom's "Include on Export" off). Lightroom writes UTF-8, CRLF on Windows;
a UTF-8 or UTF-16 byte order mark is accepted. Example::

    Animals
    \tdog
    \t\t{puppy}
    \tcat
    [Scene]
    \tbeach
    sunset

How it becomes label sets (and why):

* Each top-level entry with children is a label set of its own, named after it: a keyword
  list's top level is how its author grouped the vocabulary, and a set is how cliptagger
  groups labels. A top-level keyword (``Animals``) stays the first level of its labels'
  keywords (``Animals|dog``); a top-level category (``[Scene]``) is never written, so its
  labels are written without it (``beach``). Categories deeper down are left out of the
  keyword paths the same way.
* Top-level keywords without children (``sunset``) go to one set, ``Keywords``.
* Only the leaves are labels. A keyword with children (``Animals``) is written with them
  anyway (``Animals|dog``; Lightroom and digiKam show the parent), and as a label it would
  compete with its own children.
* Synonyms become the label's ``synonyms``: each one's prompts join its ensemble; they are
  never written.
* Sets are ``independent`` (a photo has any number of keywords), threshold 0.5, photo templates.

Export is the inverse: a set whose labels all start with its name is written as that
keyword; ``Keywords`` with only flat labels as top-level lines; any other set as
``[set name]`` above its labels. What a keyword list cannot carry (modes, thresholds,
templates, a label's own prompts, a label that is also a level of another) is listed by
``keyword_list_losses``; cliptagger's JSON label file keeps all of it.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from cliptagger.core.errors import LabelSetError
from cliptagger.core.storage.fileio import atomic_write_text, read_bounded
from cliptagger.core.storage.text_rules import LEVEL_SEPARATOR, characters_problem, keyword_form, shown
from cliptagger.core.tagging.labels import (
    MAX_LABEL_FILE_BYTES,
    Label,
    LabelSet,
    Mode,
    load_label_sets,
    save_label_sets,
)

#: File names ending so are read and written as keyword lists (Lightroom exports ``.txt``).
KEYWORD_LIST_SUFFIXES = (".txt",)
#: The set that holds the top-level keywords without children.
TOP_LEVEL_SET = "Keywords"
#: Deeper than this is not a keyword hierarchy (and would make deep paths nobody can read).
MAX_LEVELS = 32
#: More keywords than this is not a vocabulary to tag with (each is 9+ prompts to embed; a big
#: Lightroom catalog has a few thousand); refused at the line that passes it.
MAX_KEYWORDS = 100_000
INDEPENDENT_THRESHOLD = 0.5


@dataclass
class _Entry:
    name: str
    category: bool
    line: int
    children: list["_Entry"] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)
    #: The children by folded name (a twin is found in O(1): a flat list of 100,000 keywords).
    named: dict[str, "_Entry"] = field(default_factory=dict)


def is_keyword_list(path: str | Path) -> bool:
    return Path(path).suffix.lower() in KEYWORD_LIST_SUFFIXES


# ----------------------------------------------------------------------------- reading


def decode_keyword_list(data: bytes, source: str = "keyword list") -> str:
    """The text of a keyword list: UTF-8 (a byte order mark is dropped) or UTF-16 with its mark."""
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].decode(encoding, errors="replace").count("\n") + 1
        raise LabelSetError(f"{source}, line {line}: not {encoding.upper()} text "
                            "(save the keyword list as UTF-8).") from None


def _parse_line(text: str, number: int, source: str) -> tuple[int, str, str]:
    """(level, kind: 'keyword' | 'category' | 'synonym', name) of one non-blank line."""
    level = len(text) - len(text.lstrip("\t"))
    rest = text[level:].rstrip(" \t")
    where = f"{source}, line {number}"
    if rest[:1].isspace():
        raise LabelSetError(f"{where}: indented with spaces; a keyword list puts one TAB before a keyword "
                            "per level.")
    kind, name = "keyword", rest
    if len(rest) >= 2 and rest[0] == "{" and rest[-1] == "}":
        kind, name = "synonym", rest[1:-1]
    elif len(rest) >= 2 and rest[0] == "[" and rest[-1] == "]":
        kind, name = "category", rest[1:-1]
    name = name.strip()
    if not name:
        raise LabelSetError(f"{where}: a {kind} with an empty name.")
    problem = characters_problem(name)
    if problem:
        raise LabelSetError(f'{where}: the {kind} "{shown(name)}" cannot be used: {problem}.')
    if kind == "keyword" and LEVEL_SEPARATOR in name:
        raise LabelSetError(f'{where}: the keyword "{shown(name)}" holds "{LEVEL_SEPARATOR}", which cliptagger '
                            "writes between levels; put the levels on lines of their own, one TAB deeper each.")
    return level, kind, name


def _read_tree(text: str, source: str) -> list[_Entry]:
    top = _Entry("", True, 0)
    stack: list[_Entry] = []  # the entry at each level above the current line
    count = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip(" \t"):
            continue
        level, kind, name = _parse_line(line, number, source)
        where = f"{source}, line {number}"
        if level > len(stack):
            above = f"the keyword above it has {len(stack) - 1}" if stack else "no keyword is above it"
            raise LabelSetError(f"{where}: indented {level} TAB{'s' if level > 1 else ''}, but {above}; a line "
                                "goes at most one TAB deeper than the keyword it belongs to.")
        if level >= MAX_LEVELS:
            raise LabelSetError(f"{where}: {level + 1} levels deep; cliptagger reads at most {MAX_LEVELS}.")
        if kind == "synonym":
            if level == 0:
                raise LabelSetError(f"{where}: the synonym {{{shown(name)}}} belongs to no keyword; put it "
                                    "one TAB deeper, right below its keyword.")
            del stack[level:]
            stack[-1].synonyms.append(name)
            continue
        del stack[level:]
        parent = stack[-1] if stack else top
        twin = parent.named.get(name.casefold())
        if twin is not None:
            raise LabelSetError(f'{where}: "{shown(name)}" is listed twice under the same parent (also on line '
                                f"{twin.line}).")
        count += 1
        if count > MAX_KEYWORDS:
            raise LabelSetError(f"{where}: more than {MAX_KEYWORDS:,} keywords; cliptagger reads at most that many "
                                "from one keyword list (split it, or leave out what you do not tag with).")
        entry = _Entry(name, kind == "category", number)
        parent.children.append(entry)
        parent.named[name.casefold()] = entry
        stack.append(entry)
    return top.children


def _labels_below(entry: _Entry, path: tuple[str, ...], into: dict[str, Label]) -> None:
    """The leaves under ``entry`` as labels (categories left out of the keyword path), in order;
    the same keyword reached twice (through two categories) is one label with both's synonyms."""
    for child in entry.children:
        if child.children:
            _labels_below(child, path if child.category else (*path, child.name), into)
        elif not child.category:  # a category that organises nothing is nothing
            label = Label(child.name, LEVEL_SEPARATOR.join(path), synonyms=tuple(dict.fromkeys(child.synonyms)))
            known = into.get(label.keyword.casefold())
            if known is not None:
                label = Label(known.name, known.parent,
                              synonyms=tuple(dict.fromkeys((*known.synonyms, *label.synonyms))))
            into[label.keyword.casefold()] = label


def _label_set(name: str, labels: Iterable[Label], where: str) -> LabelSet:
    labels = tuple(labels)
    try:
        return LabelSet(name, labels, Mode.INDEPENDENT, INDEPENDENT_THRESHOLD, max(1, len(labels)))
    except LabelSetError as err:
        raise LabelSetError(f"{where}: {err}") from None


def parse_keyword_list(text: str, source: str = "keyword list") -> list[LabelSet]:
    """The label sets of a keyword list's text (see the module's docstring); a clear
    ``LabelSetError`` naming the line for anything it cannot use."""
    roots = _read_tree(text.removeprefix("\ufeff"), source)
    sets: list[LabelSet] = []
    names: dict[str, int] = {}
    top_level: dict[str, Label] = {}
    for root in roots:
        if not root.children:
            if not root.category:
                label = Label(root.name, synonyms=tuple(dict.fromkeys(root.synonyms)))
                top_level.setdefault(label.keyword.casefold(), label)
            continue
        labels: dict[str, Label] = {}
        _labels_below(root, () if root.category else (root.name,), labels)
        if not labels:
            continue
        names[root.name.casefold()] = root.line  # unique: top-level twins were refused by line
        sets.append(_label_set(root.name, labels.values(), f"{source}, line {root.line}"))
    if top_level:
        name, number = TOP_LEVEL_SET, 1
        while name.casefold() in names:
            number += 1
            name = f"{TOP_LEVEL_SET} {number}"
        sets.append(_label_set(name, top_level.values(), f"{source}, its top-level keywords"))
    if not sets:
        raise LabelSetError(f"{source} holds no keywords; there would be nothing to tag.")
    return sets


def load_keyword_list(path: str | Path) -> list[LabelSet]:
    path = Path(path)
    try:
        data = read_bounded(path, MAX_LABEL_FILE_BYTES)
    except FileNotFoundError:
        raise LabelSetError(f"Keyword list not found: {path}") from None
    except (OSError, ValueError) as err:
        raise LabelSetError(f"Cannot read keyword list {path}: {err}") from None
    return parse_keyword_list(decode_keyword_list(data, str(path)), str(path))


# ----------------------------------------------------------------------------- writing


@dataclass
class _Node:
    name: str
    synonyms: tuple[str, ...] = ()
    children: dict[str, "_Node"] = field(default_factory=dict)


def _line_name(name: str, what: str) -> str:
    """``name`` as a keyword list line can hold it, or a LabelSetError saying why not."""
    if characters_problem(name) or not name.strip():
        raise LabelSetError(f'{what} "{shown(name)}" cannot be put in a keyword list.')
    if (name[0], name[-1]) in (("[", "]"), ("{", "}")):
        raise LabelSetError(f'{what} "{shown(name)}" would read as a category or synonym in a keyword list; '
                            "rename it, or keep it in a JSON label file.")
    return name


def _tree(paths: Iterable[tuple[Sequence[str], tuple[str, ...]]]) -> _Node:
    root = _Node("")
    for levels, synonyms in paths:
        node = root
        for level in levels:
            node = node.children.setdefault(level.casefold(), _Node(level))
        node.synonyms = tuple(dict.fromkeys((*node.synonyms, *synonyms)))
    return root


def _lines(node: _Node, depth: int, out: list[str]) -> None:
    for child in node.children.values():
        out.append("\t" * depth + _line_name(child.name, "The keyword"))
        out.extend("\t" * (depth + 1) + "{" + _line_name(s, "The synonym") + "}" for s in child.synonyms)
        _lines(child, depth + 1, out)


def _levels(label: Label) -> list[str]:
    return keyword_form(label.keyword).split(LEVEL_SEPARATOR)


def _form(label_set: LabelSet, other_names: set[str]) -> str:
    """How a set is written: 'keyword' (its labels all start with its name), 'top' (flat labels
    of the top-level set) or 'category' (``[name]`` above the labels)."""
    levels = [_levels(label) for label in label_set.labels]
    if all(len(parts) > 1 and parts[0] == label_set.name for parts in levels):
        return "keyword"
    if (label_set.name == TOP_LEVEL_SET and all(len(parts) == 1 for parts in levels)
            and not {parts[0].casefold() for parts in levels} & other_names):
        return "top"
    return "category"


def dump_keyword_list(label_sets: Sequence[LabelSet]) -> str:
    """The label sets as a keyword list (names, levels and synonyms; see ``keyword_list_losses``)."""
    out: list[str] = []
    names = {s.name.casefold() for s in label_sets}
    top_done = False
    for label_set in label_sets:
        form = _form(label_set, names - {label_set.name.casefold()})
        if form == "top" and top_done:
            form = "category"  # a second flat set would merge into the first on the way back
        entries = [(_levels(label), label.synonyms) for label in label_set.labels]
        if form == "top":
            top_done = True
            _lines(_tree(entries), 0, out)
            continue
        if form == "keyword":
            out.append(_line_name(label_set.name, "The label set"))
            entries = [(levels[1:], synonyms) for levels, synonyms in entries]
        else:
            out.append(f"[{label_set.name.strip()}]")
        _lines(_tree(entries), 1, out)
    return "".join(line + "\n" for line in out)


def dump_keyword_paths(keywords: Iterable[str], synonyms: Optional[Mapping[str, Sequence[str]]] = None) -> str:
    """Keywords (``A|B|leaf``) as a keyword list, every level a keyword: the vocabulary cliptagger
    wrote, for Lightroom's Import Keywords (so its keyword panel knows the hierarchy first)."""
    found = synonyms or {}
    paths = [(keyword_form(k).split(LEVEL_SEPARATOR), tuple(found.get(k, ()))) for k in keywords if keyword_form(k)]
    out: list[str] = []
    _lines(_tree(paths), 0, out)
    return "".join(line + "\n" for line in out)


def keyword_list_losses(label_sets: Sequence[LabelSet]) -> list[str]:
    """What a keyword list of these sets leaves out that cliptagger would read differently on
    the way back, one sentence each (empty: the sets come back as they are, modes and
    thresholds aside: a keyword list has none, see ``parse_keyword_list``)."""
    losses = []
    for label_set in label_sets:
        if (label_set.mode is not Mode.INDEPENDENT or label_set.threshold != INDEPENDENT_THRESHOLD
                or label_set.templates != "photo"):
            losses.append(f'Set "{label_set.name}": its mode, threshold and templates are not in a keyword list.')
        paths = {label.keyword.casefold() for label in label_set.labels}
        for label in label_set.labels:
            if label.prompts or label.threshold is not None:
                losses.append(f'"{label.keyword}" in "{label_set.name}": its own prompts and threshold are not '
                              "in a keyword list.")
            if any(p.startswith(label.keyword.casefold() + LEVEL_SEPARATOR) for p in paths):
                losses.append(f'"{label.keyword}" in "{label_set.name}" is also a level above another label: '
                              "read back, only the labels below it are labels.")
    return losses


def save_keyword_list(path: str | Path, label_sets: Sequence[LabelSet]) -> None:
    atomic_write_text(Path(path), dump_keyword_list(label_sets))


# ----------------------------------------------------------------------------- either kind of file


def load_label_file(path: str | Path) -> list[LabelSet]:
    """Label sets from a JSON label file or, by its ``.txt`` name, a Lightroom keyword list."""
    return load_keyword_list(path) if is_keyword_list(path) else load_label_sets(path)


def save_label_file(path: str | Path, label_sets: Sequence[LabelSet],
                    learned: Optional[Mapping[str, Mapping[str, Any]]] = None) -> list[str]:
    """Write the sets as a keyword list (``.txt``) or a JSON label file; returns what the file
    could not keep (``keyword_list_losses``; empty for JSON, which keeps everything)."""
    if is_keyword_list(path):
        text = dump_keyword_list(label_sets)  # refuses before anything is written
        atomic_write_text(Path(path), text)
        return keyword_list_losses(label_sets)
    save_label_sets(path, label_sets, learned)
    return []
