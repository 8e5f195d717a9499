"""Search by text and by example: core ranking, the session's cache use, the CLI and the app."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from cliptagger.core.media.synthetic import COLOURS, SHAPES, write_demo_folder
from cliptagger.core.session.facade import Session
from cliptagger.core.tagging.search import (
    SearchIndex,
    SearchQuery,
    combine,
    query_prompts,
    relevant,
)


def searched_session(demo_model, demo_label_sets) -> Session:
    session = Session(demo_label_sets)
    session.use_model(demo_model)
    return session


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Enough generated pictures that every colour and shape appears several times."""
    folder = tmp_path_factory.mktemp("search")
    return write_demo_folder(folder, count=120, seed=9090)


def relevant_paths(pictures, colour=None, shape=None) -> set[Path]:
    return {p for p, s in pictures if (colour is None or s.colour == colour) and (shape is None or s.shape == shape)}


def precision_at_5(hits, wanted: set[Path]) -> float:
    """Hits in the top five that are wanted, over the five (or fewer, if fewer are wanted)."""
    top = [h.path for h in hits[:5]]
    return sum(p in wanted for p in top) / min(5, len(wanted))


# ---------------------------------------------------------------------------- core pieces


def test_query_prompts_fill_templates_without_doubling_the_article():
    prompts = query_prompts("a red circle")
    assert "a photo of a red circle." in prompts
    assert not any("a a " in p for p in prompts)
    assert query_prompts("A photo of my dog at dusk.") == ("A photo of my dog at dusk.",)
    assert query_prompts("   ") == ()


def test_index_ranks_by_cosine_and_grows_in_place():
    import torch

    torch.manual_seed(0)
    vectors = torch.nn.functional.normalize(torch.randn(300, 32), dim=-1)
    index = SearchIndex()
    index.put((Path(f"/p/{i}"), v) for i, v in enumerate(vectors[:100]))
    index.put((Path(f"/p/{i}"), v) for i, v in enumerate(vectors))  # replaces 100, adds 200
    assert len(index) == 300 and index.nbytes == 300 * 32 * 2
    query = vectors[42]
    hits = index.search(query, top=3)
    assert hits[0].path == Path("/p/42") and abs(hits[0].score - 1.0) < 2e-3
    exact = (vectors @ query).topk(3).indices.tolist()
    assert [int(h.path.name) for h in hits] == exact
    subset = index.search(query, paths=[Path("/p/7"), Path("/p/42"), Path("/nowhere")])
    assert [h.path.name for h in subset] == ["42", "7"]
    assert all(h.score >= 0.5 for h in index.search(query, min_score=0.5))


def test_negative_direction_and_relevance_cut():
    import torch

    a, b = torch.eye(4)[0], torch.eye(4)[1]
    q = combine([a + b], [b])
    assert q @ a > q @ b
    assert relevant([0.9, 0.85, 0.2, 0.21, 0.19, 0.2]) > 0.21
    assert relevant([0.3]) == 0.3


# ---------------------------------------------------------------------------- with the demo model


def test_text_queries_rank_matching_pictures_first(demo_model, demo_label_sets, pictures):
    assert demo_model.precision == "fp32"
    session = searched_session(demo_model, demo_label_sets)
    paths = [p for p, _ in pictures]
    queries = [(f"a {c} {s}", c, s) for c, s in [("red", "circle"), ("blue", "square"), ("green", "triangle"),
                                                  ("yellow", "star"), ("purple", "circle"), ("orange", "square")]]
    queries += [(f"a {s}", None, s) for s in SHAPES] + [(f"something {c}", c, None) for c in COLOURS]
    precisions = {}
    for text, colour, shape in queries:
        hits = session.search(SearchQuery(text), paths, top=5)
        precisions[text] = precision_at_5(hits, relevant_paths(pictures, colour, shape))
    mean = sum(precisions.values()) / len(precisions)
    assert mean >= 0.8, precisions
    assert precisions["a red circle"] >= 0.8


def test_like_ranks_a_recompressed_resized_copy_first(demo_model, demo_label_sets, pictures, tmp_path):
    session = searched_session(demo_model, demo_label_sets)
    paths = [p for p, _ in pictures]
    for original in paths[:3]:
        copy = tmp_path / f"copy-of-{original.stem}.jpg"
        with Image.open(original) as image:
            image.convert("RGB").resize((180, 180), Image.LANCZOS).save(copy, quality=55)
        hits = session.search(SearchQuery(like=(copy,)), paths, top=3)
        assert hits[0].path == original, hits
        assert copy not in session.paths()  # an example from elsewhere is not added to the photos


def test_not_pushes_a_colour_down(demo_model, demo_label_sets, pictures):
    session = searched_session(demo_model, demo_label_sets)
    paths = [p for p, _ in pictures]
    red = relevant_paths(pictures, colour="red")
    circles = relevant_paths(pictures, shape="circle")

    def red_ranks(query):
        ranked = [h.path for h in session.search(query, paths)]
        return [ranked.index(p) for p in red]

    plain, without_red = red_ranks(SearchQuery("a circle")), red_ranks(SearchQuery("a circle", unlike=("red",)))
    assert sum(without_red) / len(red) > sum(plain) / len(red) + 10
    top = [h.path for h in session.search(SearchQuery("a circle", unlike=("red",)), paths, top=8)]
    assert not set(top) & red
    assert sum(p in circles for p in top) >= 6  # still circles, just not red ones


def test_uncached_photos_are_encoded_once_then_served_from_memory(demo_model, demo_label_sets, tmp_path):
    photos = [p for p, _ in write_demo_folder(tmp_path / "new", count=10, seed=31)]
    encoded: list[int] = []
    demo_model.encode_listeners.append(encoded.append)
    try:
        session = searched_session(demo_model, demo_label_sets)
        progress = []
        hits = session.search(SearchQuery("a star"), photos, progress=progress.append)
        assert sum(encoded) == 10 and progress and progress[-1].done == 10
        assert len(hits) == 10
        encoded.clear()
        again = session.search(SearchQuery("a green square"), photos)
        assert encoded == [] and len(again) == 10
        # a new session (another run of the CLI) reads the cache: still no image encoded
        fresh = searched_session(demo_model, demo_label_sets)
        third = fresh.search(SearchQuery("a star"), photos)
        assert encoded == []
        assert [h.path for h in third] == [h.path for h in hits]
    finally:
        demo_model.encode_listeners.remove(encoded.append)


def test_cli_search_ranks_prints_json_and_filters(pictures, capsys):
    from cliptagger.cli import main

    folder = str(pictures[0][0].parent)
    args = ["search", "a red circle", folder, "--model", "demo", "--device", "cpu", "--precision", "fp32", "-q"]
    assert main([*args, "--json", "--top", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]
    assert "red-circle" in Path(lines[0]["path"]).name
    assert main([*args, "--min-score", "0.99"]) == 1  # nothing that close: says so, exits 1
    captured = capsys.readouterr()
    assert captured.out == "" and "0 of 120 photos" in captured.err
    assert main(["search", "", folder, "--model", "demo"]) == 2  # no text and no --like


# ---------------------------------------------------------------------------- the app

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt, QTimer  # noqa: E402

from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.gui.widgets.image_list import SCORE_COLUMN  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets as app_label_sets  # noqa: E402
from tests.gui_helpers import closing_without_asking  # noqa: E402

TIMEOUT_MS = 60_000




def open_window(qtbot) -> MainWindow:
    win = MainWindow(Settings(model="demo", device="cpu", precision="fp32"), app_label_sets())
    win.session.options.batch_size = 8
    qtbot.addWidget(win, before_close_func=closing_without_asking)
    win.show()
    qtbot.waitUntil(lambda: win.models.ready, timeout=TIMEOUT_MS)
    return win


def tagged_window(qtbot, folder: Path, count: int = 24, seed: int = 77) -> tuple[MainWindow, dict]:
    truth = {p: s for p, s in write_demo_folder(folder, count=count, seed=seed)}
    win = open_window(qtbot)
    win.add_paths([folder])
    qtbot.waitUntil(lambda: len(win.images.paths) == count, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(win.run_done, timeout=TIMEOUT_MS):
        win.actions.run.trigger()
    return win, truth


def shown_paths(win: MainWindow) -> list[Path]:
    return [win.sorted.path_at(row) for row in range(win.sorted.rowCount())]


def test_typing_reranks_the_list_without_encoding_images_or_blocking(qtbot, tmp_path):
    win, truth = tagged_window(qtbot, tmp_path / "photos")
    encoded: list[int] = []
    win.session.model.encode_listeners.append(encoded.append)
    assert win.table.isColumnHidden(SCORE_COLUMN)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    win.actions.find.trigger()  # Ctrl+F
    assert win.search.edit.hasFocus() or not win.isActiveWindow()
    with qtbot.waitSignal(win.search.searched, timeout=TIMEOUT_MS):
        qtbot.keyClicks(win.search.edit, "an orange", delay=15)
    qtbot.keyClicks(win.search.edit, " triangle", delay=15)  # three in the list (seed 77)
    qtbot.waitUntil(lambda: win.search.last_query.text == "an orange triangle", timeout=TIMEOUT_MS)
    qtbot.wait(200)
    timer.stop()

    assert encoded == []  # only the query text went through a model
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(gaps) > 20 and max(gaps) < 0.100, f"longest gap {max(gaps) * 1000:.0f} ms"
    shown = shown_paths(win)
    assert 3 <= len(shown) < len(truth)  # filtered
    assert all(truth[p].colour == "orange" and truth[p].shape == "triangle" for p in shown[:3])
    assert not win.table.isColumnHidden(SCORE_COLUMN)
    scores = [float(win.sorted.index(row, SCORE_COLUMN).data()) for row in range(len(shown))]
    assert scores == sorted(scores, reverse=True)

    # the best hit is selected and in the panel, never a photo the search hid (issue 19, item 8)
    assert win.panel.path == shown[0] and win.review.selected_paths() == [shown[0]]

    # the hits are a selection like any other: accept their proposals in one go
    win.table.selectAll()
    win.actions.accept.trigger()
    assert all(win.session.accepted_keywords(p) for p in shown)
    assert not any(win.session.accepted_keywords(p) for p in truth if p not in shown)

    # Esc in the search box shows every photo again, in the order they were added
    qtbot.keyClick(win.search.edit, Qt.Key_Escape)
    assert win.search.edit.text() == "" and win.table.isColumnHidden(SCORE_COLUMN)
    assert shown_paths(win) == list(win.images.paths)
    assert encoded == []


def test_more_like_this_ranks_the_photo_and_its_twins_first(qtbot, tmp_path):
    win, truth = tagged_window(qtbot, tmp_path / "photos", count=24, seed=78)
    target = win.images.paths[5]
    win.table.selectRow(win.sorted.row_of(target))
    rect = win.table.visualRect(win.sorted.index(win.sorted.row_of(target), 0))
    win.table.customContextMenuRequested.emit(rect.center())
    from PySide6.QtWidgets import QMenu

    menu = [m for m in win.table.findChildren(QMenu) if m.isVisible()][-1]  # the one just opened
    action = next(a for a in menu.actions() if a.text() == "More Like This")
    with qtbot.waitSignal(win.search.searched, timeout=TIMEOUT_MS):
        action.trigger()
    menu.close()
    shown = shown_paths(win)
    assert shown[0] == target
    assert truth[shown[1]].colour == truth[target].colour or truth[shown[1]].shape == truth[target].shape
    assert len(shown) < len(truth)
    # Esc in the list clears the search too (and does not reach the Stop action)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key_Escape)
    assert len(shown_paths(win)) == len(truth) and win.search.like_button.isHidden()
