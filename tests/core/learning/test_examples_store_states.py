"""The examples store holds the user's decisions: only a damaged file is ever set aside.

Busy (another process holds a write transaction past the timeout), newer (a later schema),
read-only or full: the file is left as it is, a warning says so and what it means, and the
review goes on. Each case failed before: busy and newer were 'set aside as corrupt'.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import torch

from cliptagger.core.learning import examples as examples_module
from cliptagger.core.learning.examples import SCHEMA_VERSION, ExampleStore


def one_decision(path: Path) -> list:
    return [(path, torch.ones(4) / 2, "Scene", "beach", True)]


def filled_store(location: Path, photo: Path) -> None:
    store = ExampleStore(location)
    assert store.record(one_decision(photo), "model") == 1
    store.close()


def aside_files(location: Path) -> list[Path]:
    return list(location.parent.glob(f"{location.name}.corrupt-*"))


def test_a_busy_store_is_left_alone_and_said(tmp_path, monkeypatch):
    location, photo = tmp_path / "examples.sqlite3", tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    filled_store(location, photo)
    holder = sqlite3.connect(location, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    real = examples_module.connect_checked

    def impatient(path):  # the 30 s wait, shortened
        db, version = real(path)
        db.execute("PRAGMA busy_timeout = 100")
        db.execute("CREATE TABLE IF NOT EXISTS probe (x)")  # needs the write lock
        return db, version

    monkeypatch.setattr(examples_module, "connect_checked", impatient)
    try:
        store = ExampleStore(location)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not store.available and aside_files(location) == []
    assert "in use by another program" in store.warnings[0]
    assert store.record(one_decision(photo), "model") == 0 and store.examples("model") == []
    monkeypatch.setattr(examples_module, "connect_checked", real)
    assert len(ExampleStore(location).examples("model")) == 1  # nothing was lost


def test_a_newer_store_is_left_alone_and_said(tmp_path):
    location, photo = tmp_path / "examples.sqlite3", tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    filled_store(location, photo)
    db = sqlite3.connect(location)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    store = ExampleStore(location)
    assert not store.available and aside_files(location) == []
    assert "newer cliptagger" in store.warnings[0]
    db = sqlite3.connect(location)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert db.execute("SELECT COUNT(*) FROM examples").fetchone()[0] == 1


def test_a_damaged_store_is_set_aside_with_a_message(tmp_path):
    location = tmp_path / "examples.sqlite3"
    location.write_bytes(b"this is not a database" * 100)
    store = ExampleStore(location)
    assert store.available and len(aside_files(location)) == 1
    assert "set aside" in store.warnings[0]


def test_a_write_that_fails_keeps_the_review_going_with_a_warning(tmp_path, monkeypatch):
    location, photo = tmp_path / "examples.sqlite3", tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    store = ExampleStore(location)

    class FullDisk:  # what SQLite says when the disk fills during COMMIT
        in_transaction = False

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            if sql == "ROLLBACK":
                raise sqlite3.OperationalError("cannot rollback - no transaction is active")

        def executemany(self, *args):
            pass

    monkeypatch.setattr(store, "_db", FullDisk())
    assert store.record(one_decision(photo), "model") == 0
    assert "disk is full" in store.warnings[-1] and "not for learning" in store.warnings[-1]


@pytest.mark.parametrize("damage", [b"", b"SQLite format 3\x00" + b"\xff" * 200])
def test_truncated_or_flipped_stores_never_raise(tmp_path, damage):
    location = tmp_path / "examples.sqlite3"
    location.write_bytes(damage)
    store = ExampleStore(location)
    store.examples("model")
    store.counts("model")
    threading.Thread(target=store.close).start()
