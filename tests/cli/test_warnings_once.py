"""A warning reaches the user once: as ``cliptagger: warning: ...`` on stderr, not also as a
bare logging line before it. Run as a separate process: pytest's own log capture would hide the
second line."""

from __future__ import annotations

import os
import subprocess
import sys

from tests import helpers


def test_a_damaged_embedding_cache_is_reported_once(tmp_path):
    helpers.photo(tmp_path / "one.jpg")
    cache = os.path.join(os.environ["CLIPTAGGER_CACHE_DIR"], "embeddings.sqlite3")
    with open(cache, "wb") as damaged:
        damaged.write(b"this is not a database" * 100)
    done = subprocess.run([sys.executable, "-c", "import sys; from cliptagger import cli; sys.exit(cli.main(sys.argv[1:]))",
                           "tag", str(tmp_path), "--model", "demo", "--device", "cpu", "--quiet"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    mentions = [line for line in done.stderr.splitlines() if "embeddings.sqlite3" in line]
    assert len(mentions) == 1 and mentions[0].startswith("cliptagger: warning:"), done.stderr
