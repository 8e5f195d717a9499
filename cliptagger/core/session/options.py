"""How a session tags and learns (None: the engine's defaults for the device)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cliptagger.core.errors import SessionError
from cliptagger.core.storage.text_rules import keyword_form, keyword_problem, shown


@dataclass
class EngineOptions:
    """Options of one session: how images become embeddings, and whether it learns."""

    batch_size: Optional[int] = None
    fast_decode: bool = True
    background_priority: bool = False
    use_cache: bool = True
    cache_path: Optional[Path] = None
    #: Score with the heads learned from the user's decisions (False: zero-shot only).
    use_learned: bool = True
    #: Record accepts and rejects in the examples store (the data folder), for learning.
    record_examples: bool = True
    #: Put decisions recorded in an earlier session back in force when a photo is tagged.
    restore_decisions: bool = False
    examples_path: Optional[Path] = None
    #: A keyword every written keyword goes below (``AI`` -> ``AI|Animals|dog``; empty: none). The
    #: rooted keyword is the one written, recorded as ours and exported.
    keyword_root: str = ""

    def __post_init__(self) -> None:
        problem = keyword_problem(self.keyword_root) if keyword_form(self.keyword_root) else None
        if problem:
            raise SessionError(f'The root keyword "{shown(self.keyword_root)}" cannot be used: {problem}.')
        self.keyword_root = keyword_form(self.keyword_root)
