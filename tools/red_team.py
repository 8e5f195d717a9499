"""Red-team regression suite: each class of hostile input from issue 18, run end to end against
the CLI as a separate process (the demo model, private config/cache/data folders), the way an
adversarial user would. Every case checks its own promise and that nothing printed a traceback.

    python tools/red_team.py            # all cases; exit 1 if any fails
    python tools/red_team.py -k undo    # the cases whose name holds "undo"
    python tools/red_team.py --list

Each case gets a fresh folder with its own app folders, so cases never see each other's state.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
CLI_TIMEOUT_S = 240


class Broken(AssertionError):
    """The promise of a case does not hold."""


@dataclass
class Run:
    code: int
    out: str
    err: str


class Lab:
    """A case's folder: photos under ``photos/``, app folders under ``app/``, files outside the
    photo tree under ``outside/``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.photos = base / "photos"
        self.outside = base / "outside"
        for folder in (self.photos, self.outside):
            folder.mkdir(parents=True)
        self.env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
        for name in ("CACHE", "CONFIG", "DATA"):
            folder = base / "app" / name.lower()
            folder.mkdir(parents=True)
            self.env[f"CLIPTAGGER_{name}_DIR"] = str(folder)

    def app_dir(self, name: str) -> Path:
        return self.base / "app" / name

    def photo(self, name: str, folder: Path | None = None, colour: str = "red") -> Path:
        from PIL import Image

        path = (folder or self.photos) / name
        Image.new("RGB", (64, 64), colour).save(path, format="JPEG" if path.suffix.lower() in (".jpg", ".jpeg")
                                                else None)
        return path

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT_S, model: bool = True) -> Run:
        command = [sys.executable, "-m", "cliptagger.cli", *args]
        if model:
            command += ["--model", "demo", "--device", "cpu"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.env,
                                  cwd=self.base, errors="replace")
        except subprocess.TimeoutExpired:
            raise Broken(f"`cliptagger {' '.join(args)}` still ran after {timeout:.0f} s (it blocks)") from None
        if "Traceback (most recent call last)" in done.stderr:
            raise Broken(f"`cliptagger {' '.join(args)}` printed a traceback:\n{done.stderr[-1500:]}")
        return Run(done.returncode, done.stdout, done.stderr)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Broken(message)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- containment


def planted_journal_line(lab: Lab) -> None:
    """A line added to the undo journal by hand never makes undo touch a file outside the rule."""
    photo = lab.photo("a.jpg")
    run = lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet")
    expect(run.code == 0, f"tag failed: {run.err}")
    victim = lab.outside / "victim.txt"
    victim.write_text("precious")
    batch = max((lab.app_dir("data") / "journal").glob("*.jsonl"))
    with batch.open("a") as journal:
        journal.write(json.dumps({"id": 99, "path": str(victim), "prior": None, "prior_sha256": None,
                                  "written_sha256": digest(victim), "added": [], "removed": []}) + "\n")
        journal.write(json.dumps({"id": 100, "path": str(lab.photos / "sub" / ".." / ".." / "outside" / "victim.txt"),
                                  "prior": "AAAA", "written_sha256": digest(victim)}) + "\n")
    run = lab.cli("undo", model=False)
    expect(victim.read_text() == "precious", "undo changed a file named by a planted journal line")
    expect("not acted on" in run.err, f"undo did not name the refused lines: {run.err}")
    expect(not (photo.parent / "a.jpg.xmp").exists(), "undo did not take back the real write")


def symlinked_photo_outside(lab: Lab) -> None:
    """A photo that links to a file outside the tree gets its sidecar next to the link."""
    target = lab.photo("real.jpg", lab.outside)
    (lab.photos / "link.jpg").symlink_to(target)
    run = lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet")
    expect(run.code == 0, f"tag failed: {run.err}")
    expect(not list(lab.outside.glob("*.xmp")), "a sidecar was written outside the photo tree")
    expect((lab.photos / "link.jpg.xmp").exists(), "the linked photo got no sidecar next to its link")


def dangling_sidecar_link(lab: Lab) -> None:
    """A sidecar that is a dangling link never creates its target outside the tree."""
    lab.photo("a.jpg")
    (lab.photos / "a.jpg.xmp").symlink_to(lab.outside / "created.xmp")
    lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet")
    expect(not (lab.outside / "created.xmp").exists(), "a dangling sidecar link created a file outside the tree")


# ----------------------------------------------------------------------------- values that land


def structure_we_do_not_edit(lab: Lab) -> None:
    """dc:subject in rdf:parseType="Resource" form is refused and left byte for byte."""
    lab.photo("a.jpg")
    sidecar = lab.photos / "a.jpg.xmp"
    sidecar.write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
                       'syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                       '<dc:subject rdf:parseType="Resource"><rdf:value>mine</rdf:value></dc:subject>'
                       "</rdf:Description></rdf:RDF></x:xmpmeta>")
    before = digest(sidecar)
    run = lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet")
    expect(digest(sidecar) == before, "a sidecar in a form cliptagger does not edit was changed")
    expect("does not edit" in run.err, f"the refusal was not reported: {run.err}")


def colliding_names(lab: Lab) -> None:
    """a.jpg and a.jpg.png never share or rewrite each other's sidecar."""
    lab.photo("a.jpg", colour="red")
    lab.photo("a.jpg.png", colour="blue")
    for style in ("ext", "adobe"):
        run = lab.cli("tag", str(lab.photos), "--write-xmp", "--sidecar-style", style, "--quiet")
        expect(run.code == 0 and "share the sidecar" not in run.err, f"collision not kept apart ({style}): {run.err}")
    expect((lab.photos / "a.jpg.png.xmp").exists(), "a.jpg.png got no sidecar of its own")


def spreadsheet_formulas(lab: Lab) -> None:
    """Label names that start like formulas are text in the scores CSV."""
    lab.photo("=1+1.jpg")
    labels = lab.base / "labels.json"
    labels.write_text(json.dumps({"name": "=cmd|' /C calc'!A0", "mode": "independent", "threshold": 0,
                                  "labels": ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)"]}))
    out = lab.base / "scores.csv"
    run = lab.cli("tag", str(lab.photos), "--labels", str(labels), "--csv", str(out), "--quiet")
    expect(run.code == 0, f"tag failed: {run.err}")
    import csv

    cells = [cell for row in csv.reader(out.open(newline="", encoding="utf-8")) for cell in row]
    live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    expect(not live, f"cells a spreadsheet would evaluate: {live[:3]}")


def terminal_escapes(lab: Lab) -> None:
    """File names with escape sequences are printed escaped."""
    lab.photo("evil\x1b[2J\x1b]0;pwned\x07.jpg")
    (lab.photos / "broken\x1b[2J.jpg").write_bytes(b"not a jpeg")
    run = lab.cli("tag", str(lab.photos))
    expect(not any(c in run.out + run.err for c in "\x1b\x07\x9b"), "a raw escape sequence reached the terminal")


def exiftool_separators(lab: Lab) -> None:
    """Keywords holding commas and tildes stay whole through the printed exiftool command."""
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        raise Skipped("exiftool is not installed")
    photo = lab.photo("a.jpg")
    labels = lab.base / "labels.json"
    labels.write_text(json.dumps({"name": "Odd", "mode": "independent", "threshold": 0, "max_tags": 2,
                                  "labels": ["com,ma", "a~b"]}))
    out = lab.base / "apply.csv"
    run = lab.cli("tag", str(lab.photos), "--labels", str(labels), "--csv", str(out), "--csv-format", "exiftool",
                  "--quiet")
    command = next((line.strip() for line in (run.out + run.err).splitlines() if line.strip().startswith("exiftool ")),
                   "")
    expect(command != "", f"no exiftool command printed: {run.err}")
    subprocess.run(["bash", "-c", command], check=True, timeout=60, capture_output=True, cwd=lab.outside)
    read = subprocess.run([exiftool, "-j", "-XMP-lr:HierarchicalSubject", str(photo)], capture_output=True,
                          text=True, timeout=60, check=True)
    found = json.loads(read.stdout)[0].get("HierarchicalSubject", [])
    expect(sorted(found if isinstance(found, list) else [found]) == ["a~b", "com,ma"], f"exiftool read {found}")


# ----------------------------------------------------------------------------- resources


def fifo_and_device_sidecars(lab: Lab) -> None:
    """A sidecar that is a FIFO, or a link to /dev/zero, neither hangs nor exhausts memory."""
    lab.photo("a.jpg")
    lab.photo("b.jpg")
    os.mkfifo(lab.photos / "a.jpg.xmp")
    if os.path.exists("/dev/zero"):
        (lab.photos / "b.jpg.xmp").symlink_to("/dev/zero")
    run = lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet", timeout=120)
    expect("a.jpg.xmp: cannot read sidecar: not a regular file" in run.err, f"FIFO sidecar not reported: {run.err}")
    expect(not os.path.exists("/dev/zero") or "b.jpg.xmp: the sidecar is a symlink" in run.err,
           f"/dev/zero sidecar not reported: {run.err}")


def fifo_photo(lab: Lab) -> None:
    """A FIFO named like a photo is reported as what it is, and the rest is tagged."""
    lab.photo("a.jpg")
    os.mkfifo(lab.photos / "pipe.jpg")
    run = lab.cli("tag", str(lab.photos), "--quiet", timeout=120)
    expect(run.code == 0 and "not a regular file" in run.err, f"FIFO photo not reported: {run.err}")


def decode_memory_bomb(lab: Lab) -> None:
    """A tiny PNG claiming 12000x12000 RGBA (under the pixel cap) is refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 12_000, 12_000, 8, 6, 0, 0, 0)
    (lab.photos / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                                          + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    lab.photo("fine.jpg")
    run = lab.cli("tag", str(lab.photos), "--quiet")
    expect(run.code == 0 and "GB of memory" in run.err, f"the bomb was not refused by its cost: {run.err}")


# ----------------------------------------------------------------------------- values and state files


BAD_LABEL_FILES = {
    "1e999": '{"name": "A", "labels": ["a", "b"], "max_tags": 1e999}',
    "5000 digits": '{"name": "A", "labels": ["a", "b"], "max_tags": ' + "9" * 5000 + "}",
    "lone surrogate": '{"name": "A", "labels": ["a\\ud800", "b"]}',
    "no sets": "[]",
    "baseline text": '{"name": "A", "labels": ["a", "b"], "baseline_prompts": "abc"}',
    "deep": "[" * 100_000 + "]" * 100_000,
}


def label_file_values(lab: Lab) -> None:
    """Each bad label file ends in one clear line and exit 2, never a traceback or a silent run."""
    lab.photo("a.jpg")
    for name, text in BAD_LABEL_FILES.items():
        labels = lab.base / "labels.json"
        labels.write_text(text)
        run = lab.cli("tag", str(lab.photos), "--labels", str(labels), "--quiet")
        expect(run.code == 2 and "cliptagger:" in run.err, f"label file with {name}: exit {run.code}, {run.err!r}")


def option_values(lab: Lab) -> None:
    """Out-of-range options are refused with what is allowed."""
    for args in (["search", "x", "--top", "-1"], ["learn", "x", "--target-precision", "nan"],
                 ["tag", "x", "--batch-size", "0"]):
        run = lab.cli(*args, model=False)
        expect(run.code == 2 and "is not" in run.err, f"{' '.join(args)}: exit {run.code}, {run.err!r}")


def damaged_state_files(lab: Lab) -> None:
    """Damaged heads, probe, cache and examples files: tagging goes on and names each file."""
    lab.photo("a.jpg")
    heads = lab.app_dir("data") / "heads"
    heads.mkdir()
    for number, text in enumerate(['{"format": "cliptagger-heads", "version": 1, "model_id": "x", "label_sets": '
                                   '[{"name": "A", "labels": []}]}', "[" * 50_000, "\xff\xfe"]):
        (heads / f"demo-{number}.json").write_text(text, errors="surrogateescape")
    (lab.app_dir("cache") / "precision-probe.json").write_text('{"k": 1e999}')
    (lab.app_dir("cache") / "embeddings.sqlite3").write_bytes(b"not a database" * 64)
    (lab.app_dir("data") / "examples.sqlite3").write_bytes(b"\0" * 4096)
    run = lab.cli("tag", str(lab.photos), "--quiet")
    expect(run.code == 0, f"tag failed with damaged state files: {run.err}")
    run = lab.cli("learn", str(lab.photos), "--quiet")
    expect(run.code in (0, 1), f"learn failed with damaged state files: {run.err}")


# ----------------------------------------------------------------------------- undo


def two_undos_at_once(lab: Lab) -> None:
    """Two undo processes started together take back one batch each."""
    for name in ("a.jpg", "b.jpg"):
        photo = lab.photo(name)
        run = lab.cli("tag", str(photo), "--write-xmp", "--quiet")
        expect(run.code == 0, f"tag failed: {run.err}")
    command = [sys.executable, "-m", "cliptagger.cli", "undo"]
    both = [subprocess.Popen(command, env=lab.env, cwd=lab.base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [process.communicate(timeout=CLI_TIMEOUT_S) for process in both]
    expect(all("Traceback" not in err for _, err in results), f"an undo printed a traceback: {results}")
    expect(not list(lab.photos.glob("*.xmp")), f"not every batch was undone: {results}")


def undo_force_after_record_dropped(lab: Lab) -> None:
    """undo --force takes cliptagger's keywords out even where another program dropped its record."""
    lab.photo("a.jpg")
    run = lab.cli("tag", str(lab.photos), "--write-xmp", "--quiet")
    expect(run.code == 0, f"tag failed: {run.err}")
    sidecar = lab.photos / "a.jpg.xmp"
    text = sidecar.read_text(encoding="utf-8")
    ours = re.findall(r"<rdf:li>([^<]+)</rdf:li>", text)
    text = re.sub(r"<cliptagger:(\w+)>.*?</cliptagger:\1>\s*", "", text, flags=re.S)
    text = text.replace("<rdf:li>", "<rdf:li>mine</rdf:li><rdf:li>", 1)
    sidecar.write_text(text, encoding="utf-8")
    lab.cli("undo", model=False)
    lab.cli("undo", "--force", model=False)
    left = re.findall(r"<rdf:li>([^<]+)</rdf:li>", sidecar.read_text(encoding="utf-8"))
    expect("mine" in left and not set(ours) & set(left), f"after undo --force the sidecar holds {left}")


class Skipped(Exception):
    """The case cannot run here (a tool is missing)."""


CASES: dict[str, Callable[[Lab], None]] = {case.__name__: case for case in (
    planted_journal_line, symlinked_photo_outside, dangling_sidecar_link, structure_we_do_not_edit,
    colliding_names, spreadsheet_formulas, terminal_escapes, exiftool_separators, fifo_and_device_sidecars,
    fifo_photo, decode_memory_bomb, label_file_values, option_values, damaged_state_files, two_undos_at_once,
    undo_force_after_record_dropped)}


def run_case(name: str) -> tuple[str, str, str, float]:
    """(name, "ok" / "FAILED" / "skipped", detail, seconds)."""
    started = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix=f"red-team-{name}-"))
    try:
        CASES[name](Lab(base))
        outcome, detail = "ok", ""
    except Skipped as why:
        outcome, detail = "skipped", str(why)
    except Broken as why:
        outcome, detail = "FAILED", str(why)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return name, outcome, detail, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only the cases whose name holds this text")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="cases run side by side")
    args = parser.parse_args(argv)
    names = [n for n in CASES if args.k in n]
    if args.list:
        print("\n".join(f"{n}: {(CASES[n].__doc__ or '').strip()}" for n in names))
        return 0
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, outcome, detail, seconds in pool.map(run_case, names):
            failed += outcome == "FAILED"
            print(f"{outcome:8} {name} ({seconds:.1f} s)" + (f"\n         {detail}" if detail else ""), flush=True)
    print(f"{len(names) - failed} of {len(names)} red-team cases hold")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
