from pathlib import Path

from cliptagger.core.session.sidecar_sync import SidecarSync

A, B = Path("/p/a.jpg"), Path("/p/b.jpg")


def test_unwritten_follows_accepted_against_written():
    sync = SidecarSync()
    sync.note_accepted({A: ["dog"], B: []})
    assert sync.unwritten() == {A} and sync.unwritten_count() == 1  # B has nothing to write
    sync.mark_written({A: ["dog"]})
    assert sync.unwritten_count() == 0 and sync.is_written(A) and not sync.is_written(B)
    sync.note_accepted({A: []})  # the user rejected what we wrote: it must come out again
    assert sync.unwritten() == {A} and not sync.is_written(A)
    sync.note_accepted({A: ["dog"]})  # and back as it is on disk: nothing to write
    assert sync.unwritten_count() == 0
    sync.mark_unwritten([A])  # undone
    assert sync.unwritten() == {A}
    sync.forget_all()
    assert sync.unwritten_count() == 0 and sync.known_existing(A) is None


def test_keywords_on_disk_are_read_once_and_written_photos_are_re_read(tmp_path):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"")  # only its sidecar is read here
    (tmp_path / "a.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        '<rdf:li>mine</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n', encoding="utf-8")
    sync = SidecarSync()
    assert sync.known_existing(photo) is None
    assert sync.read_existing([photo]) == {photo: ["mine"]}
    assert sync.known_existing(photo) == ["mine"]
