"""Property: whatever lines are planted in the undo journal (any path form, any hash, a forged
or missing signature), undo never touches a file outside the containment rule, and the real
write of the batch is still taken back."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliptagger.core.metadata import undo
from cliptagger.core.metadata.journal import list_batches
from cliptagger.core.metadata.sidecars import write_sidecars
from tests import helpers

VICTIM_TEXT = b"precious, not cliptagger's"


def path_forms(base: Path) -> st.SearchStrategy[str]:
    """Ways a planted line could name a victim: plain, with .., relative, through a link, as .xmp."""
    victims = ["outside/victim.txt", "outside/victim.xmp", "photos/victim.jpg", "photos/notes.txt",
               "photos/link-to-outside.xmp"]
    def spelled(victim: str, form: str) -> str:
        return {"plain": str(base / victim),
                "dotdot": str(base / "photos" / ".." / victim),
                "relative": victim,
                "double slash": str(base) + "//" + victim}[form]
    return st.builds(spelled, st.sampled_from(victims), st.sampled_from(["plain", "dotdot", "relative", "double slash"]))


def planted_line(base: Path) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({
        "id": st.integers(0, 200),
        "path": path_forms(base),
        "prior": st.sampled_from([None, base64.b64encode(b"overwritten").decode()]),
        "written_sha256": st.sampled_from(["victim", "random"]),
        "added": st.just([]),
        "removed": st.just([]),
    }, optional={"mac": st.text("0123456789abcdef", min_size=64, max_size=64),
                 "path_bytes": st.just("")})


def victims_of(base: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in [base / "outside" / "victim.txt", base / "outside" / "victim.xmp",
                                         base / "photos" / "victim.jpg", base / "photos" / "notes.txt"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_planted_journal_lines_never_touch_a_file_outside_the_rule(tmp_path_factory, data):
    base = tmp_path_factory.mktemp("planted")
    (base / "photos").mkdir()
    (base / "outside").mkdir()
    for victim in ("outside/victim.txt", "outside/victim.xmp", "photos/notes.txt"):
        (base / victim).write_bytes(VICTIM_TEXT)
    helpers.photo(base / "photos" / "victim.jpg")
    os.symlink(base / "outside" / "victim.xmp", base / "photos" / "link-to-outside.xmp")
    before = victims_of(base)
    photo = helpers.photo(base / "photos" / "mine.jpg")
    report = write_sidecars({photo: ["beach"]})
    assert report.journal is not None
    lines = data.draw(st.lists(planted_line(base), min_size=1, max_size=5))
    with report.journal.open("a") as journal:
        for line in lines:
            target = Path(line["path"]) if os.path.isabs(line["path"]) else base / line["path"]
            if line["written_sha256"] == "victim" and target.exists():
                line["written_sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
            journal.write(json.dumps(line) + "\n")
    force = data.draw(st.booleans())  # drawn once: the number of undos depends on the files, not the data
    while list_batches():
        undo.undo_last_batch(force=force)
    assert victims_of(base) == before
    assert not (base / "photos" / "mine.jpg.xmp").exists()  # the real write was taken back
