"""The models cliptagger offers by name, in one place (CLI help, GUI picker, README)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogEntry:
    key: str            # what the user types: --model KEY
    arch: str           # open_clip architecture name
    pretrained: str     # open_clip pretrained tag ("" for the bundled demo model)
    download_mb: int    # approximate size of the weights download
    good_for: str


DEMO_KEY = "demo"
DEMO_ARCH = "cliptagger-demo"

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "ViT-B-32-256", "ViT-B-32-256", "datacomp_s34b_b86k", 605,
        "Default. 72.8% ImageNet zero-shot at ViT-B/32 cost: fast on a laptop CPU.",
    ),
    CatalogEntry(
        "ViT-B-32", "ViT-B-32", "laion2b_s34b_b79k", 605,
        "66.6% ImageNet zero-shot; the classic, smallest CLIP.",
    ),
    CatalogEntry(
        "ViT-B-16", "ViT-B-16", "datacomp_xl_s13b_b90k", 599,
        "73.5% ImageNet zero-shot; about 4x the compute of B/32, better on small details.",
    ),
    CatalogEntry(
        "ViT-L-14", "ViT-L-14", "datacomp_xl_s13b_b90k", 1711,
        "79.2% ImageNet zero-shot; best accuracy, wants a GPU for large libraries.",
    ),
    CatalogEntry(
        DEMO_KEY, DEMO_ARCH, "", 0,
        "Bundled 3 MB model trained on generated shapes; works offline, knows only its toy labels.",
    ),
)

DEFAULT_KEY = CATALOG[0].key


def find_entry(key: str) -> CatalogEntry | None:
    folded = key.casefold()
    for entry in CATALOG:
        if entry.key.casefold() == folded:
            return entry
    return None
