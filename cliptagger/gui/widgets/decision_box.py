"""One tag's review state as a three-state tick: undecided (empty), accepted (✓), rejected (–).

A click (or Space) moves undecided -> accepted -> rejected -> undecided, the same cycle as the
number keys in the photo list, so a decision can always be taken back to undecided.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QWidget

from cliptagger.core.session.decisions import Decision

#: undecided -> accepted -> rejected -> undecided (clicks, Space, and keys 1-9 in the photo list)
NEXT_DECISION: dict[Optional[Decision], Optional[Decision]] = {
    None: Decision.ACCEPTED, Decision.ACCEPTED: Decision.REJECTED, Decision.REJECTED: None}
_STATE = {None: Qt.Unchecked, Decision.ACCEPTED: Qt.Checked, Decision.REJECTED: Qt.PartiallyChecked}
_DECISION = {state: decision for decision, state in _STATE.items()}


class DecisionBox(QCheckBox):
    """A tick that shows and changes one tag's decision (``decided`` carries the new one)."""

    decided = Signal(object)  # Decision or None (undecided)

    def __init__(self, text: str, decision: Optional[Decision], parent: Optional[QWidget] = None) -> None:
        super().__init__(text, parent)
        self.setTristate(True)
        self.setCheckState(_STATE[decision])
        self.stateChanged.connect(self._state_changed)

    def decision(self) -> Optional[Decision]:
        return _DECISION[Qt.CheckState(self.checkState())]

    def nextCheckState(self) -> None:
        """A click: the next state of the review cycle (not Qt's own tristate order)."""
        self.setCheckState(_STATE[NEXT_DECISION[self.decision()]])

    @Slot(int)
    def _state_changed(self, _state: int) -> None:
        self.decided.emit(self.decision())
