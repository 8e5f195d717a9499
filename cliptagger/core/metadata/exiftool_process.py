"""One long-lived ``exiftool -stay_open True -@ -`` process, for embedded metadata.

Starting Perl and ExifTool costs ~150 ms; a photo's read + write + verify needs five or six
commands, so they all go to one process that stays open. Commands are sent one argument per
line, ended by ``-execute<N>``; ExifTool then prints ``{ready<N>}`` on stdout and (asked with
``-echo4``) on stderr, which is how a reply's end is found. Callers are serialised by a lock
(the embedded writer drives it from one thread at a time). If the process dies (killed, Perl
crash), the command in flight fails with ``ExifToolFailed`` naming what happened and the next
command starts a fresh process. If cliptagger itself dies, ExifTool is ended with it (Linux:
the parent-death signal; elsewhere it ends at the next command it cannot answer).

ExifTool is optional: without it ``ExifToolUnavailable`` says so in one sentence, and the
sidecar writer (which needs no ExifTool) goes on working.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

from cliptagger.core.errors import CliptaggerError

#: Override of the program to run (a full path), e.g. for a bundled copy or the tests.
EXIFTOOL_ENV = "CLIPTAGGER_EXIFTOOL"
#: How long one command may take before the process is considered hung and restarted.
COMMAND_TIMEOUT_S = 120.0


class ExifToolUnavailable(CliptaggerError):
    """ExifTool is not installed (or cannot be started): embedded writing is unavailable."""


class ExifToolFailed(CliptaggerError):
    """The ExifTool process died or hung during a command."""


@dataclass(frozen=True)
class Reply:
    stdout: bytes
    stderr: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error")]


def exiftool_program() -> Optional[str]:
    """The ExifTool executable to use, or None when there is none."""
    override = os.environ.get(EXIFTOOL_ENV)
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("exiftool")


UNAVAILABLE_MESSAGE = ("Writing keywords into the photos needs ExifTool, which is not installed "
                       "(https://exiftool.org; e.g. `apt install libimage-exiftool-perl`, "
                       "`brew install exiftool`). Sidecars work without it.")


class ExifTool:
    """The stay-open process; ``execute`` runs one command and returns its reply."""

    def __init__(self, program: Optional[str] = None) -> None:
        self._program = program
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._stderr_lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._lock = threading.Lock()
        self._counter = 0
        self.restarts = 0

    # ------------------------------------------------------------------ life cycle

    def _start(self) -> subprocess.Popen[bytes]:
        program = self._program or exiftool_program()
        if not program:
            raise ExifToolUnavailable(UNAVAILABLE_MESSAGE)
        config = _write_config()
        try:
            process = subprocess.Popen(
                [program, "-config", str(config), "-stay_open", "True", "-@", "-",
                 "-common_args", "-charset", "filename=UTF8"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        except OSError as err:
            raise ExifToolUnavailable(f"{UNAVAILABLE_MESSAGE} ({program}: {err.strerror or err})") from None
        self._stderr_lines = queue.Queue()
        assert process.stderr is not None
        threading.Thread(target=_pump_lines, args=(process.stderr, self._stderr_lines),
                         name="exiftool-stderr", daemon=True).start()
        return process

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None and process.stdin is not None:
                process.stdin.write(b"-stay_open\nFalse\n")
                process.stdin.flush()
            process.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    # ------------------------------------------------------------------ commands

    def execute(self, *arguments: str) -> Reply:
        """Run one ExifTool command (its arguments, one per list item)."""
        for argument in arguments:
            if "\n" in argument or "\r" in argument:
                raise ExifToolFailed("a file name with a line break cannot be passed to ExifTool; "
                                     "rename the photo to embed keywords in it")
        try:
            request = "\n".join(arguments).encode("utf-8")
        except UnicodeEncodeError:
            raise ExifToolFailed("a file name that is not valid UTF-8 cannot be passed to ExifTool; "
                                 "rename the photo to embed keywords in it") from None
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:  # it died between two commands
                    self._stop()
                    self.restarts += 1
                self._process = self._start()
            process = self._process
            self._counter += 1
            marker = f"{{ready{self._counter}}}"
            tail = "\n".join(["", "-echo4", marker, f"-execute{self._counter}", ""]).encode("ascii")
            try:
                assert process.stdin is not None
                process.stdin.write(request + tail if arguments else tail.lstrip(b"\n"))
                process.stdin.flush()
                stdout = self._read_stdout(process, marker.encode("ascii"))
                stderr = self._read_stderr(marker)
            except (OSError, ExifToolFailed) as err:
                self._stop()
                self.restarts += 1  # the next command starts a fresh process
                code = process.poll()
                why = f"it exited with code {code}" if code is not None else str(err)
                raise ExifToolFailed(f"ExifTool stopped in the middle of a command ({why}); "
                                     "it is restarted for the next photo") from None
            return Reply(stdout, stderr)

    @staticmethod
    def _read_stdout(process: subprocess.Popen[bytes], marker: bytes) -> bytes:
        assert process.stdout is not None
        chunks: list[bytes] = []
        tail = marker + b"\n"
        while True:
            line = process.stdout.readline()
            if not line:
                raise ExifToolFailed("its output ended")
            if line == tail or line == marker + b"\r\n":
                return b"".join(chunks)
            if line.endswith(tail):  # binary output without a final newline (-b)
                chunks.append(line[:-len(tail)])
                return b"".join(chunks)
            chunks.append(line)

    def _read_stderr(self, marker: str) -> str:
        lines: list[str] = []
        while True:
            try:
                line = self._stderr_lines.get(timeout=COMMAND_TIMEOUT_S)
            except queue.Empty:
                raise ExifToolFailed("no answer within the time limit") from None
            if line is None:
                raise ExifToolFailed("its error output ended")
            if line.rstrip("\r\n") == marker:
                return "".join(lines)
            lines.append(line)


def _die_with_parent() -> None:
    """In the child, before ExifTool starts: end it when cliptagger dies. ExifTool in stay-open
    mode keeps polling its argument file at end of input, so a killed cliptagger (SIGKILL, a
    crash) would otherwise leave it running for ever. Linux: PR_SET_PDEATHSIG."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _pump_lines(stream: IO[bytes], lines: "queue.Queue[Optional[str]]") -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", "replace"))
    lines.put(None)


#: cliptagger's XMP namespace, made known to ExifTool: a packet too large for one JPEG segment is
#: copied in property by property (into extended XMP), and ExifTool copies only what it knows.
NAMESPACE_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::XMP::Main' => {
        cliptagger => { SubDirectory => { TagTable => 'Image::ExifTool::UserDefined::cliptagger' } },
    },
);
%Image::ExifTool::UserDefined::cliptagger = (
    GROUPS => { 0 => 'XMP', 1 => 'XMP-cliptagger', 2 => 'Image' },
    NAMESPACE => { 'cliptagger' => 'http://ns.cliptagger.app/1.0/' },
    WRITABLE => 'string',
    OwnedSubject => { List => 'Bag' },
    OwnedHierarchicalSubject => { List => 'Bag' },
    OwnedTagsList => { List => 'Bag' },
    AutoKeywords => { List => 'Bag' },
);
1;
"""


def _write_config() -> Path:
    from cliptagger.core.storage import paths
    from cliptagger.core.storage.fileio import atomic_write_text

    folder = paths.cache_dir() / "embed"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "exiftool.config"
    if not config.exists() or config.read_text(encoding="utf-8", errors="replace") != NAMESPACE_CONFIG:
        atomic_write_text(config, NAMESPACE_CONFIG)
    return config


_shared: Optional[ExifTool] = None
_shared_guard = threading.Lock()


def shared_exiftool() -> ExifTool:
    """The process every embedded write of this program uses (started on first use)."""
    global _shared
    with _shared_guard:
        if _shared is None:
            _shared = ExifTool()
            atexit.register(_shared.close)
        return _shared


def exiftool_available() -> bool:
    return exiftool_program() is not None
