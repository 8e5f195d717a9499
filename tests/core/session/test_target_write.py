"""One write for a photo app: inside the photos it reads that way, its sidecar for the rest."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from cliptagger.core.metadata import targets
from cliptagger.core.metadata.sidecars import SidecarStyle
from cliptagger.core.session.sidecar_sync import SidecarSync
from cliptagger.core.session.target_write import TargetWriteRequest, write_for_target
from tests.xmp_readers import exiftool_keywords


class FakeSession:
    """The three things ``write_for_target`` asks of a Session, over a real SidecarSync."""

    def __init__(self, accepted: dict[Path, list[str]]) -> None:
        self.accepted = accepted
        self.sidecars = SidecarSync()
        self.sidecars.note_accepted(accepted)

    def unwritten(self) -> set[Path]:
        return self.sidecars.unwritten()

    def accepted_keywords(self, path: Path) -> list[str]:
        return list(self.accepted[path])

    def write(self, style: SidecarStyle, description: str, paths: list[Path]):
        return self.sidecars.write({p: self.accepted[p] for p in paths}, style, False, description)


def photos(folder: Path) -> tuple[Path, Path]:
    jpeg, gif = folder / "a.jpg", folder / "b.gif"
    Image.new("RGB", (32, 24), "red").save(jpeg, quality=90)
    Image.new("P", (32, 24)).save(gif)
    return jpeg, gif


def test_lightroom_jpeg_inside_gif_in_an_adobe_sidecar_two_batches(tmp_path):
    jpeg, gif = photos(tmp_path)
    session = FakeSession({jpeg: ["dog"], gif: ["cat"]})
    report = write_for_target(session, TargetWriteRequest("lightroom"))
    assert not report.failed and not report.refused
    assert report.photos_written == 1 and report.sidecars_written == 1 and report.unread == [gif]
    assert "dog" in exiftool_keywords(jpeg)["XMP-dc:Subject"] and not Path(str(jpeg) + ".xmp").exists()
    assert exiftool_keywords(tmp_path / "b.xmp")["XMP-dc:Subject"] == ["cat"]  # Lightroom's sidecar name
    assert len(report.journals) == 2 and report.journal == report.journals[-1]
    assert session.unwritten() == set()


def test_without_the_embedded_writer_nothing_is_written_unless_sidecars_anyway(tmp_path, monkeypatch):
    jpeg, gif = photos(tmp_path)
    original = jpeg.read_bytes()
    monkeypatch.setattr(targets, "embedded_writer", lambda: None)
    session = FakeSession({jpeg: ["dog"], gif: ["cat"]})
    refused = write_for_target(session, TargetWriteRequest("lightroom"))
    assert refused.refused == [jpeg] and not refused.written and not refused.journals
    assert not list(tmp_path.glob("*.xmp")) and session.unwritten() == {jpeg, gif}
    anyway = write_for_target(session, TargetWriteRequest("lightroom", sidecars_anyway=True))
    assert anyway.sidecars_written == 2 and anyway.photos_written == 0 and jpeg.read_bytes() == original
    assert {p.name for p in tmp_path.glob("*.xmp")} == {"a.xmp", "b.xmp"}


def test_custom_keeps_the_chosen_sidecar_name(tmp_path):
    jpeg, _gif = photos(tmp_path)
    session = FakeSession({jpeg: ["dog"]})
    report = write_for_target(session, TargetWriteRequest("custom", SidecarStyle.EXT))
    assert report.written == [Path(str(jpeg) + ".xmp")] and report.photos_written == 0
