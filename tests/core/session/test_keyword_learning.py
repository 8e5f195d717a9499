from pathlib import Path

from cliptagger.core.session.keyword_learning import MY_KEYWORDS, count_keywords, library_examples, my_keywords_set


def test_keywords_on_enough_photos_become_labels_spelled_as_first_seen():
    found = {Path(f"/p/{i}.jpg"): kws for i, kws in enumerate([
        ["Dog", "Places|Paris"], ["dog ", "places|paris"], ["DOG"], [], ["cat"]])}
    report, chosen = count_keywords(found, photos=6, min_examples=2)
    assert chosen == ["dog", "places|paris"]
    assert report.labels == ["Dog", "Places|Paris"] and report.counts["Dog"] == 3 and report.counts["cat"] == 1
    assert (report.photos, report.photos_with_keywords) == (6, 4)
    label_set = my_keywords_set(report)
    assert label_set.name == MY_KEYWORDS and [l.keyword for l in label_set.labels] == ["Dog", "Places|Paris"]
    items = library_examples(found, label_set, chosen, embedding=lambda path: path.name)
    # a photo with no keyword says nothing; the others are positive or negative per label
    assert {p.name for p, *_ in items} == {"0.jpg", "1.jpg", "2.jpg", "4.jpg"}
    verdicts = {(p.name, keyword): positive for p, _, _, keyword, positive in items}
    assert verdicts[("2.jpg", "Dog")] and not verdicts[("2.jpg", "Places|Paris")] and not verdicts[("4.jpg", "Dog")]


def test_keywords_that_cannot_be_labels_are_left_out_with_why_and_the_rest_learned():
    """An IPTC keyword with U+0001 (or an empty level) used to make the whole set invalid."""
    found = {Path(f"/p/{i}.jpg"): ["dog", "bad\x01word", "Places||Rome"] for i in range(3)}
    report, chosen = count_keywords(found, photos=3, min_examples=2)
    assert report.labels == ["dog"] and chosen == ["dog"]
    assert "U+0001" in report.left_out["bad\x01word"] and "empty level" in report.left_out["Places||Rome"]
    assert [label.keyword for label in my_keywords_set(report).labels] == ["dog"]
