"""Weights: the real open_clip download path (from a local URL), caching, clear offline errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cliptagger.core.errors import WeightsUnavailableError
from cliptagger.core.model.clip import load_model, register_demo_config
from cliptagger.core.model.weights import (
    ModelRequest,
    demo_checkpoint,
    request_for,
    resolve_weights,
)
from cliptagger.core.storage import paths


def run_cli(*args: str, env_extra=None):
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "cliptagger.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_missing_weights_offline_give_one_clear_message(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not really")
    done = run_cli("tag", str(tmp_path), "--model", "ViT-B-32-256", env_extra={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    message = done.stderr
    assert "Traceback" not in message
    assert "ViT-B-32-256" in message and "datacomp_s34b_b86k" in message
    assert f"Looked in: {paths.weights_dir()}" in message
    assert "--checkpoint FILE" in message and "--model demo" in message


def test_no_download_flag_refuses_before_any_network(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(WeightsUnavailableError, match="downloads are turned off") as raised:
        resolve_weights(ModelRequest("ViT-B-32", "laion2b_s34b_b79k"), allow_download=False)
    assert "run again without --no-download" in str(raised.value)
    assert "connect to the internet" not in str(raised.value)


def test_offline_mode_is_named_as_the_reason_even_without_a_download_attempt():
    from cliptagger.core.errors import WeightsProblem

    with pytest.raises(WeightsUnavailableError) as raised:  # the tests run with HF_HUB_OFFLINE=1
        resolve_weights(ModelRequest("ViT-B-32", "laion2b_s34b_b79k"), allow_download=False)
    assert raised.value.problem is WeightsProblem.OFFLINE
    assert "offline mode is on (HF_HUB_OFFLINE)" in str(raised.value) and "unset HF_HUB_OFFLINE" in str(raised.value)


def test_missing_checkpoint_file_is_clear(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="Checkpoint file not found"):
        resolve_weights(request_for("ViT-B-32", checkpoint=tmp_path / "nope.pt"))


def test_unknown_tag_lists_known_ones():
    with pytest.raises(WeightsUnavailableError, match="known tags"):
        resolve_weights(ModelRequest("ViT-B-32", "no-such-tag"))


def test_download_path_caches_and_reports_progress(monkeypatch):
    """open_clip's own URL download, pointed at a file:// URL of the demo weights."""
    import open_clip.pretrained as pretrained

    register_demo_config()
    source = demo_checkpoint()
    monkeypatch.setitem(pretrained._PRETRAINED, "cliptagger-demo", {"local": {"url": source.as_uri()}})
    reports = []
    path = resolve_weights(ModelRequest("cliptagger-demo", "local"), progress=lambda d, t: reports.append((d, t)))
    assert path.parent == paths.weights_dir()
    assert path.read_bytes() == source.read_bytes()
    assert reports[-1] == (source.stat().st_size, source.stat().st_size)
    # second time: found in the cache, no download (progress is never called)
    again = []
    assert resolve_weights(ModelRequest("cliptagger-demo", "local"), progress=lambda d, t: again.append(d)) == path
    assert again == []
    model = load_model(ModelRequest("cliptagger-demo", "local"), device="cpu")
    assert model.model_id == "cliptagger-demo@local"


def test_checkpoint_model_id_is_content_hash(tmp_path, demo_model):
    copy = tmp_path / "renamed.safetensors"
    copy.write_bytes(demo_checkpoint().read_bytes())
    other = load_model(request_for("demo", checkpoint=copy), device="cpu")
    assert other.model_id == demo_model.model_id
    assert other.model_id.startswith("cliptagger-demo@sha256:")


class _SlowServer:
    """A loopback HTTP server that trickles a large file, so a download can be caught mid-way."""

    def __init__(self, size: int = 50_000_000) -> None:
        import http.server
        import threading

        self.size = size
        self.sent = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(outer.size))
                self.end_headers()
                try:
                    while outer.sent < outer.size:
                        self.wfile.write(b"\0" * 65536)
                        outer.sent += 65536
                        import time

                        time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *_args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/open_clip_slow.bin"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_cancel_stops_a_download_mid_way(monkeypatch):
    import threading
    import time

    import open_clip.pretrained as pretrained

    from cliptagger.core.model.weights import DownloadCancelled

    server = _SlowServer()
    try:
        register_demo_config()
        monkeypatch.setitem(pretrained._PRETRAINED, "cliptagger-demo", {"slow": {"url": server.url}})
        cancel = threading.Event()
        seen = []

        def progress(done, total):
            seen.append(done)
            if done > 1_000_000:
                cancel.set()

        started = time.monotonic()
        with pytest.raises(DownloadCancelled, match="cancelled"):
            resolve_weights(ModelRequest("cliptagger-demo", "slow"), progress=progress, cancel=cancel)
        assert time.monotonic() - started < 60
        sent_at_cancel = server.sent
        time.sleep(1.0)
        assert server.sent - sent_at_cancel <= 2 * 65536  # the transfer really stopped
        assert server.sent < server.size
        assert not any(paths.weights_dir().rglob("open_clip_slow.bin"))  # no partial file left
    finally:
        server.close()
