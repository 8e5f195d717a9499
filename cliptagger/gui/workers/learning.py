"""The learning worker: re-learning after decisions, learning the library's keywords."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Signal, Slot

from cliptagger.gui.workers.guarded import GuardedWorker

if TYPE_CHECKING:
    from cliptagger.core.session import Session
    from cliptagger.core.session.keyword_learning import KeywordLearning

#: The stages of Learn from Existing Keywords, as its progress reports them; learning has no
#: count (the dialog shows that it is busy instead of sitting at 100%).
TAGGING, READING, LEARNING = "tagging", "reading", "learning"


@dataclass(frozen=True)
class LearnProgress:
    stage: str                 # TAGGING, READING or LEARNING
    done: int
    total: int
    eta_s: Optional[float]


@dataclass(frozen=True)
class KeywordsFound:
    report: "KeywordLearning"
    added: bool                # whether its labels were added (or only looked at)


class LearnWorker(GuardedWorker):
    relearned = Signal(object)                # {set name: SetHead}
    keywords_found = Signal(object)   # KeywordsFound
    progress = Signal(object)         # LearnProgress
    failed = Signal(str)

    def __init__(self, session: "Session") -> None:
        super().__init__()
        self.session = session

    @Slot(object)
    def relearn(self, target_precision: Optional[float]) -> None:
        """Re-learn the sets decided on since; every set for a new ``target_precision``."""
        if target_precision is None:
            heads = self.guarded("Learning from your decisions failed",
                                 lambda: self.session.relearn(changed_only=True), self.failed.emit)
        else:
            heads = self.guarded("Learning from your decisions failed",
                                 lambda: self.session.relearn(target_precision=target_precision), self.failed.emit)
        if heads is not None:
            self.relearned.emit(heads)

    @Slot(object, int, bool, object)
    def learn_keywords(self, paths: list, min_examples: int, add: bool, cancel: threading.Event) -> None:
        # The session counts the tagging of the untagged photos, then (from 0) the reading.
        stage = [TAGGING if any(self.session.result(p) is None for p in paths) else READING, None]

        def progress(p) -> None:
            last = stage[1]
            if last is not None and (p.done < last.done or p.total != last.total):
                stage[0] = READING
            stage[1] = p
            self.progress.emit(LearnProgress(stage[0], p.done, p.total, p.eta_s))
            if add and stage[0] == READING and p.done >= p.total:  # training the heads comes next
                self.progress.emit(LearnProgress(LEARNING, 0, 0, None))

        report = self.guarded("Learning from the existing keywords failed",
                              lambda: self.session.learn_from_keywords(paths, min_examples, add=add,
                                                                       progress=progress, cancel=cancel),
                              self.failed.emit)
        if report is not None:
            self.keywords_found.emit(KeywordsFound(report, add))
