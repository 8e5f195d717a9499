"""Small dialogs of the main window: unwritten decisions, a command to copy, help, errors."""

from __future__ import annotations

import html
from enum import Enum
from pathlib import Path
from typing import Optional

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from cliptagger.gui.wording import plural


class UnwrittenChoice(str, Enum):
    WRITE = "write"
    DISCARD = "discard"
    CANCEL = "cancel"


#: Photos named in the unwritten-tags prompt's details (the rest are counted).
NAMED_UNWRITTEN = 200


def ask_about_unwritten(parent: QWidget, photos: list[Path], doing: str,
                        failed: Optional[dict[Path, str]] = None) -> UnwrittenChoice:
    """Write / Discard / Cancel, before ``doing`` (e.g. "quitting") would lose accepted tags;
    the details name the photos (and why a write of theirs failed before)."""
    failed = failed or {}
    box = QMessageBox(QMessageBox.Icon.Warning, "Unwritten tags",
                      f"{plural(len(photos), 'photo')} {'has' if len(photos) == 1 else 'have'} accepted tags "
                      "that are not written to their sidecars yet"
                      + (f" ({len([p for p in photos if p in failed])} failed to write before)." if failed else "."),
                      parent=parent)
    box.setInformativeText(f"Write them before {doing}?")
    names = [f"{p}" + (f"  (failed before: {failed[p]})" if p in failed else "") for p in photos[:NAMED_UNWRITTEN]]
    if len(photos) > NAMED_UNWRITTEN:
        names.append(f"… and {len(photos) - NAMED_UNWRITTEN} more")
    box.setDetailedText("\n".join(names))
    write = box.addButton("Write XMP", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(write)
    box.exec()
    clicked = box.clickedButton()
    if clicked is write:
        return UnwrittenChoice.WRITE
    if clicked is discard:
        return UnwrittenChoice.DISCARD
    return UnwrittenChoice.CANCEL


class CommandDialog(QDialog):
    """A command line the user is meant to run, with a Copy button (not a vanishing message)."""

    def __init__(self, parent: QWidget, title: str, intro: str, command: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.command = QLineEdit(command)
        self.command.setReadOnly(True)
        self.command.setCursorPosition(0)
        text = QLabel(intro)
        text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.command)
        layout.addWidget(buttons)
        self.resize(720, 160)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command.text())
        self.copy_button.setText("Copied")


HOW_TAGGING_WORKS = """
<h3>How tagging works</h3>
<p><b>Label sets.</b> A label set is a question with its possible answers, e.g. <i>Scene: beach,
forest, city</i>. An <i>exclusive</i> set picks one answer; an <i>independent</i> set can give
any number (e.g. objects present). Labels can have a parent (<i>Animals|dog</i>), which becomes a
hierarchical keyword. Edit them with Tagging ▸ Label Sets (Ctrl+L).</p>
<p><b>Templates.</b> Each label is turned into several sentences (<i>a photo of a dog.</i>,
<i>a close-up photo of a dog.</i>, ...). CLIP reads every sentence and the average of their
meanings stands for the label: this "prompt ensembling" is more reliable than one sentence.</p>
<p><b>Probabilities.</b> CLIP compares each photo with every label. In an exclusive set the
probabilities add up to 100% across the set. In an independent set each label is scored on its
own, against a neutral caption ("a photo."), so adding labels does not shrink the others.
A label at or above its threshold (the dashed mark on its bar) is <i>proposed</i>: the set's
threshold, one learned from your decisions, or your own (hover a bar: it says which, and why a
label is not proposed).</p>
<p><b>Learning.</b> Every accept and reject is kept. Each label starts at CLIP's guess and moves
with your decisions, but only where that beats the guess on your own held-out decisions and
hides no tag you accepted that the guess finds. With 5 accepts and 5 rejects a label gets its
own threshold, never above the lowest photo you accepted. Tagging ▸ Learn from Existing
Keywords learns the keywords your photos already have.</p>
<p><b>Search.</b> Type a description in the search box (Ctrl+F): the list shows the photos that
match it best, with a Score column. Right-click a photo for "More like this". Esc ends the
search.</p>
<p><b>Reviewing.</b> A tag's box has three states: empty (undecided), ✓ (accepted, written)
and – (rejected, never written, and learned from). A click moves it to the next state and back to
undecided, which also forgets the decision for learning. Accept All Above
Threshold (Ctrl+Shift+Return) accepts every proposal you have not rejected. Nothing is written
until you press Write XMP (Ctrl+S).</p>
<p><b>Where tags go.</b> Choose your photo app under "Tags for": Write XMP puts each photo's
tags where that app reads them, inside the photo (Lightroom Classic reads JPEG, TIFF and DNG only
so) or in an XMP sidecar next to it (<i>IMG_1.jpg.xmp</i>, or <i>IMG_1.xmp</i> in Adobe style),
and the status bar says what to do in the app to see them. "Other (custom)" writes sidecars with
the name you choose: dc:subject, lr:hierarchicalSubject and digiKam:TagsList. Keywords you already
had are kept; cliptagger only ever removes keywords it added itself. Every write can be undone
(Ctrl+Z).</p>
"""


#: Keys that are not menu actions (the menus list the rest with their shortcuts).
REVIEW_KEYS = [("Up / Down", "move between photos"), ("Tab", "from the photo list to its tags"),
               ("Space", "the focused tag: accept, reject, undecided again"),
               ("1 … 9", "in the photo list: accept, reject, or undecide the photo's tag of that number"),
               ("Esc", "end a search (or stop tagging)")]


def show_help(parent: QWidget, shortcuts: Optional[list[tuple[str, str]]] = None) -> QDialog:
    """``shortcuts``: (action, key) of the window's actions, listed with the review keys."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("How tagging works")
    text = QTextBrowser()
    rows = "".join(f"<tr><td><b>{html.escape(key)}</b></td><td>{html.escape(what)}</td></tr>"
                   for key, what in [*REVIEW_KEYS, *((key, name) for name, key in shortcuts or [])])
    text.setHtml(HOW_TAGGING_WORKS + f"<p><b>Keyboard.</b></p><table cellspacing='4'>{rows}</table>")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(640, 560)
    dialog.show()
    return dialog


def show_errors(parent: QWidget, errors: list[tuple[Path, str]]) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(f"{plural(len(errors), 'photo')} could not be tagged or written")
    text = QTextEdit()
    text.setReadOnly(True)
    text.setPlainText("\n".join(f"{path}\n    {reason}" for path, reason in errors) or "No errors.")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    layout.addWidget(buttons)
    dialog.resize(700, 400)
    dialog.show()
    return dialog


def show_about(parent: QWidget, model_state: str) -> None:
    from cliptagger import __version__

    QMessageBox.about(parent, "About cliptagger",
                      f"<b>cliptagger {__version__}</b><br>Zero-shot photo tagging with CLIP (open_clip).<br>"
                      "Tags go to XMP sidecars that Lightroom, darktable and digiKam read.<br><br>"
                      f"{model_state}")
