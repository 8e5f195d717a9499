"""Embedded writes under trouble: another program editing the photo mid-write, a read-only
photo, malformed embedded XMP, XMP too large for one JPEG segment, no ExifTool, ExifTool dying,
and the writer killed with SIGKILL in the middle of a batch."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cliptagger.core.metadata import embedded
from cliptagger.core.metadata.embedded import write_embedded
from cliptagger.core.metadata.exiftool_process import ExifTool, shared_exiftool
from cliptagger.core.metadata.undo import undo_last_batch
from tests.core.metadata import embedded_photos as photos

pytestmark = [photos.needs_exiftool, photos.needs_exiv2]
ROOT = Path(__file__).resolve().parents[3]


def test_a_concurrent_writer_is_never_overwritten(tmp_path, monkeypatch):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    real_swap = embedded.replace_with_file_if_unchanged
    calls = []

    def swap_after_another_program(expected, temp_name):
        if not calls:  # between our read and our rename, exiftool edits the photo
            photos.exiftool_run("-q", "-overwrite_original", "-XMP-dc:Description=edited meanwhile", str(photo))
        calls.append(temp_name)
        return real_swap(expected, temp_name)

    monkeypatch.setattr(embedded, "replace_with_file_if_unchanged", swap_after_another_program)
    report = write_embedded({photo: ["dog"]})
    assert len(calls) == 2  # the first swap was refused, the second merged into the new version
    assert report.written == [photo], report.failed
    tags = photos.exiftool_tags(photo)
    assert tags["XMP-dc:Description"] == "edited meanwhile"
    assert photos.keywords_by_exiftool(photo) == ["dog"]
    assert [p.name for p in tmp_path.iterdir()] == ["IMG.jpg"]


def test_a_read_only_photo_fails_clearly_and_stays(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    os.chmod(photo, 0o444)
    before = photo.read_bytes()
    report = write_embedded({photo: ["dog"]})
    assert "read-only" in dict(report.failed)[photo]
    assert photo.read_bytes() == before


def test_malformed_embedded_xmp_is_refused_untouched(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    photos.exiftool_run("-q", "-overwrite_original", "-XMP:all=", str(photo))
    data = photo.read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><broken"
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    photo.write_bytes(data[:2] + segment + data[2:])
    before = photo.read_bytes()
    report = write_embedded({photo: ["dog"]})
    assert photo in dict(report.failed), report.written
    assert "left untouched" in dict(report.failed)[photo] or "nothing written" in dict(report.failed)[photo]
    assert photo.read_bytes() == before


def test_xmp_larger_than_one_jpeg_segment_goes_to_extended_xmp(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg", iptc_keywords=())
    original = photo.read_bytes()
    foreign = photos.foreign_exiftool(photo)
    keywords = [f"Things|keyword number {i}" for i in range(2000)]
    report = write_embedded({photo: keywords})
    assert report.written == [photo], report.failed
    read = photos.exiftool_run("-m", "-j", "-XMP-dc:Subject", "-XMP-xmpNote:HasExtendedXMP", str(photo))
    assert read.count("keyword number") == 2000 and "HasExtendedXMP" in read
    assert photos.foreign_exiftool(photo) == foreign
    # exiv2 0.27 does not merge extended XMP: it reads the file, the standard packet and its pointer
    assert any(line.startswith("Xmp.xmpNote.HasExtendedXMP") for line in photos.exiv2_lines(photo))
    assert "Exif.Image.Make" in "".join(photos.exiv2_lines(photo))
    assert undo_last_batch().restored == [photo]
    assert photo.read_bytes() == original


def test_without_exiftool_embedding_is_unavailable_and_says_so(tmp_path, monkeypatch):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    monkeypatch.setenv("CLIPTAGGER_EXIFTOOL", "")
    report = write_embedded({photo: ["dog"]}, exiftool=ExifTool())
    assert "needs ExifTool" in dict(report.failed)[photo]


def test_exiftool_dying_mid_command_fails_one_photo_and_is_restarted(tmp_path, monkeypatch):
    first, second = (photos.rich_jpeg(tmp_path / f"IMG_{i}.jpg") for i in (1, 2))
    tool = ExifTool()
    real_read = ExifTool._read_stdout
    calls = []

    def die_while_answering(process, marker):
        calls.append(marker)
        if len(calls) == 2:  # the first photo's first command (after the version check)
            process.kill()
            process.wait()
        return real_read(process, marker)

    monkeypatch.setattr(ExifTool, "_read_stdout", staticmethod(die_while_answering))
    before = first.read_bytes()
    report = write_embedded({first: ["dog"], second: ["dog"]}, exiftool=tool)
    assert "ExifTool stopped" in dict(report.failed)[first] and first.read_bytes() == before
    assert report.written == [second] and tool.restarts == 1
    tool.close()


def test_exiftool_dying_between_commands_is_restarted_quietly():
    tool = ExifTool()
    assert tool.execute("-ver").stdout.strip()
    pid = tool.pid
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert tool.execute("-ver").stdout.strip() and tool.pid != pid and tool.restarts == 1
    tool.close()


KILL_SCRIPT = """
import sys
from pathlib import Path
from cliptagger.core.metadata.embedded import write_embedded
photos = [Path(p) for p in sys.argv[1:]]
print("ready", flush=True)
write_embedded({p: ["dog", "Animals|cat"] for p in photos})
"""


@pytest.mark.parametrize("moment", ["after-a-replace", "while-a-temp-copy-exists"])
def test_sigkill_mid_batch_leaves_every_photo_old_or_verified_new(tmp_path, moment):
    folder = tmp_path / "photos"
    folder.mkdir()
    originals = {}
    for i in range(6):
        photo = photos.rich_jpeg(folder / f"IMG_{i}.jpg")
        originals[photo] = photo.read_bytes()
    foreign = photos.foreign_exiftool(next(iter(originals)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, *map(str, originals)],
                               stdout=subprocess.PIPE, env=env, cwd=ROOT)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once a photo was replaced / while ExifTool's copy exists
        if moment == "after-a-replace" and any(p.read_bytes() != data for p, data in originals.items()):
            break
        if moment != "after-a-replace" and any(n.endswith(".embed.tmp") for n in os.listdir(folder)):
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    config = str(Path(os.environ["CLIPTAGGER_CACHE_DIR"]) / "embed" / "exiftool.config")
    if sys.platform.startswith("linux"):  # its ExifTool must not outlive it (stay-open polls for ever)
        deadline = time.monotonic() + 10
        while _processes_with(config) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _processes_with(config)
    changed = 0
    for photo, data in originals.items():
        now = photo.read_bytes()
        if now == data:
            continue
        changed += 1
        assert sorted(photos.keywords_by_exiftool(photo)) == ["cat", "dog"]
        assert photos.pixels(photo) == photos.pixels_of_bytes(data)
        assert {k: v for k, v in photos.foreign_exiftool(photo).items()} == foreign
    assert changed >= 1 or moment != "after-a-replace"
    undone = undo_last_batch()
    assert len(undone.restored) == changed
    assert all(hashlib.sha256(p.read_bytes()).digest() == hashlib.sha256(d).digest() for p, d in originals.items())
    shared_exiftool().close()


def test_undo_of_a_photo_changed_since_needs_force_and_keeps_the_users_edits(tmp_path):
    photo = photos.rich_jpeg(tmp_path / "IMG.jpg")
    assert write_embedded({photo: ["dog", "Animals|cat"]}).written == [photo]
    photos.exiftool_run("-q", "-overwrite_original", "-XMP-dc:Subject+=holiday",
                        "-XMP-dc:Description=added later", str(photo))
    edited = photo.read_bytes()
    plain = undo_last_batch()
    assert not plain.restored and "--force" in dict(plain.skipped)[photo]
    assert photo.read_bytes() == edited
    forced = undo_last_batch(force=True)
    assert forced.merged == [photo], forced.skipped
    assert photos.keywords_by_exiftool(photo) == ["holiday"]
    assert photos.exiftool_tags(photo)["XMP-dc:Description"] == "added later"
    assert sorted(photos.keywords_by_exiftool(photo, "IPTC:Keywords")) == ["mine"]


def _processes_with(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if text in command:
                found.append(entry.name)
    return found


def test_relative_names_starting_with_a_dash_and_undecodable_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dir").mkdir()
    photo = photos.plain_png(tmp_path / "-dir" / "-x.png")
    original = photo.read_bytes()
    report = write_embedded({Path("-dir/-x.png"): ["dog"]})  # not an ExifTool option
    assert report.written == [Path("-dir/-x.png")], report.failed
    assert photos.keywords_by_exiftool(photo) == ["dog"]
    assert undo_last_batch().restored == [photo]  # the journal named it absolutely
    assert photo.read_bytes() == original

    odd = tmp_path / os.fsdecode(b"odd-\xff.png")
    photos.plain_png(odd)
    before = odd.read_bytes()
    report = write_embedded({odd: ["dog"]})
    assert "not valid UTF-8" in dict(report.failed)[odd]
    assert odd.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == sorted(["-dir", odd.name])


def test_a_full_disk_while_copying_fails_that_photo_cleanly(tmp_path, monkeypatch):
    import errno

    first, second = photos.plain_png(tmp_path / "a.png"), photos.plain_png(tmp_path / "b.png")
    before = first.read_bytes()
    real = embedded._sibling_temp

    def full_disk_once(target, data, temps):
        if target.name == "a.png":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(target, data, temps)

    monkeypatch.setattr(embedded, "_sibling_temp", full_disk_once)
    report = write_embedded({first: ["dog"], second: ["dog"]})
    assert "No space left" in dict(report.failed)[first] and first.read_bytes() == before
    assert report.written == [second]
