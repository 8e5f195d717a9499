"""Keyword properties in forms cliptagger does not edit are refused, the file left byte for byte;
the ordinary forms (attribute, simple value, Bag, Seq) are still edited."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliptagger.core.metadata.sidecars import sidecar_path, write_sidecars
from cliptagger.core.metadata.undo import undo_last_batch
from cliptagger.core.metadata.xmp import keywords_in_sidecar
from tests import helpers

HEAD = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:lr="http://ns.adobe.com/lightroom/1.0/">')
TAIL = "</rdf:Description></rdf:RDF></x:xmpmeta>"


def sidecar_with(body: str) -> bytes:
    """A packet whose one Description holds ``body``; a body that is itself the Description's
    opening tag (the attribute form) replaces ours."""
    if body.startswith("<rdf:Description"):
        return (HEAD.rsplit("<rdf:Description", 1)[0] + body + TAIL).encode()
    return (HEAD + body + TAIL).encode()


REFUSED = {
    "parseType Resource": '<dc:subject rdf:parseType="Resource"><rdf:value>mine</rdf:value></dc:subject>',
    "a struct": "<dc:subject><rdf:Description><rdf:value>mine</rdf:value></rdf:Description></dc:subject>",
    "items with structure": '<dc:subject><rdf:Bag><rdf:li rdf:parseType="Resource"><rdf:value>mine</rdf:value>'
                            "</rdf:li></rdf:Bag></dc:subject>",
    "two containers": "<dc:subject><rdf:Bag><rdf:li>mine</rdf:li></rdf:Bag><rdf:Bag><rdf:li>b</rdf:li></rdf:Bag>"
                      "</dc:subject>",
    "given twice": "<dc:subject><rdf:Bag><rdf:li>mine</rdf:li></rdf:Bag></dc:subject>"
                   "<dc:subject><rdf:Bag><rdf:li>b</rdf:li></rdf:Bag></dc:subject>",
    "a resource link": '<lr:hierarchicalSubject rdf:resource="http://example.com/k"/>',
}
EDITED = {
    "attribute": '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:subject="mine">',
    "simple value": "<dc:subject>mine</dc:subject>",
    "Seq": "<dc:subject><rdf:Seq><rdf:li>mine</rdf:li></rdf:Seq></dc:subject>",
    "language item": '<dc:subject><rdf:Bag><rdf:li xml:lang="en">mine</rdf:li></rdf:Bag></dc:subject>',
}


def setup(tmp_path: Path, data: bytes) -> tuple[Path, Path]:
    photo = helpers.photo(tmp_path / "IMG_1.jpg")
    sidecar = sidecar_path(photo)
    sidecar.write_bytes(data)
    return photo, sidecar


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_a_form_cliptagger_does_not_edit_is_refused_and_left_byte_for_byte(tmp_path, form):
    data = sidecar_with(REFUSED[form])
    photo, sidecar = setup(tmp_path, data)
    report = write_sidecars({photo: ["beach"]})
    assert report.written == [] and len(report.failed) == 1
    assert "form cliptagger does not edit" in report.failed[0][1] and str(sidecar) in report.failed[0][1]
    assert sidecar.read_bytes() == data


@pytest.mark.parametrize("form", sorted(EDITED))
def test_the_ordinary_forms_are_still_edited_and_undone(tmp_path, form):
    data = sidecar_with(EDITED[form])
    photo, sidecar = setup(tmp_path, data)
    assert keywords_in_sidecar(data) == ["mine"]
    report = write_sidecars({photo: ["beach"]})
    assert report.written == [sidecar] and not report.failed
    assert set(keywords_in_sidecar(sidecar.read_bytes())) >= {"mine", "beach"}
    assert undo_last_batch().restored == [sidecar] and sidecar.read_bytes() == data
