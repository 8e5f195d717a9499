"""The models cliptagger offers by name, in one place (CLI help, GUI picker, README).

Published numbers, so that the choice is made on evidence and not on names:

* ``imagenet`` - ImageNet-1k zero-shot top-1, from open_clip's results table
  (``docs/openclip_results.csv`` in mlfoundations/open_clip).
* ``xm3600_r1`` - Crossmodal-3600 image retrieval recall@1 averaged over its 36 languages,
  from open_clip's ``docs/openclip_multilingual_retrieval_results.csv`` (None: not measured
  there; English-only models are not, their tokenizer cannot read most of those languages).

Speed is not published here: it depends on the user's CPU, so ``cliptagger models --measure``
measures it on their machine (``cliptagger.core.model.speed``).

Not in the catalog: MobileCLIP/MobileCLIP2 (open_clip has them; Apple's model cards give
MobileCLIP-S2 74.4%, MobileCLIP-B 76.8%, MobileCLIP2-S2 77.2% ImageNet). On a 2-core AVX2
Xeon their image towers, re-parameterized, measured 0.30x (S2), 0.32x (MobileCLIP2-S2) and
0.52x (B) the img/s of ViT-B-32-256 (interleaved rounds, random weights): more accurate but
slower on a CPU like that, so not a better default; any of them still loads by its open_clip
name (``--model MobileCLIP2-S2 --pretrained dfndr2b``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class CatalogEntry:
    key: str            # what the user types: --model KEY
    arch: str           # open_clip architecture name
    pretrained: str     # open_clip pretrained tag ("" for the bundled demo model)
    download_mb: int    # approximate size of the weights download
    good_for: str
    #: Published ImageNet zero-shot top-1, percent (see the module docstring for the source).
    imagenet: Optional[float] = None
    #: Published Crossmodal-3600 image retrieval R@1, average of 36 languages, percent.
    xm3600_r1: Optional[float] = None
    #: True when the tokenizer reads many scripts (Hangul, kana, CJK, Cyrillic, Arabic...).
    multilingual: bool = False
    #: The model's text encoder wants to be told the labels' language (NLLB: ``kor_Hang``...).
    needs_language: bool = False


DEMO_KEY = "demo"
DEMO_ARCH = "cliptagger-demo"

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "ViT-B-32-256", "ViT-B-32-256", "datacomp_s34b_b86k", 605,
        "Default. 72.8% ImageNet zero-shot at ViT-B/32 cost: fast on a laptop CPU. English labels.",
        imagenet=72.8,
    ),
    CatalogEntry(
        "ViT-B-32", "ViT-B-32", "laion2b_s34b_b79k", 605,
        "66.6% ImageNet zero-shot; the classic, smallest CLIP.", imagenet=66.6,
    ),
    CatalogEntry(
        "ViT-B-16", "ViT-B-16", "datacomp_xl_s13b_b90k", 599,
        "73.5% ImageNet zero-shot; about 4x the compute of B/32, better on small details.", imagenet=73.5,
    ),
    CatalogEntry(
        "ViT-L-14", "ViT-L-14", "datacomp_xl_s13b_b90k", 1711,
        "79.2% ImageNet zero-shot; best accuracy, wants a GPU for large libraries.", imagenet=79.2,
    ),
    CatalogEntry(
        "SigLIP-i18n", "ViT-B-16-SigLIP-i18n-256", "webli", 1483,
        "Labels in your language: 75.1% ImageNet, 44.1% image retrieval R@1 over 36 languages "
        "(Korean 47.1%). SigLIP scores each label on its own (see docs/label-sets.md).",
        imagenet=75.1, xm3600_r1=44.1, multilingual=True,
    ),
    CatalogEntry(
        "NLLB-SigLIP", "nllb-clip-base-siglip", "mrl", 2030,
        "Best retrieval in many languages: 55.4% R@1 over 36 languages (Korean 54.1%); weaker on "
        "English classification (v1: 39.1% ImageNet). Give the language: --text-language ko.",
        xm3600_r1=55.4, multilingual=True, needs_language=True,
    ),
    CatalogEntry(
        "XLM-R-B-32", "xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k", 1465,
        "Multilingual CLIP: 62.4% ImageNet, 42.6% R@1 over 36 languages (Korean 43.5%).",
        imagenet=62.4, xm3600_r1=42.6, multilingual=True,
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


def entry_for_arch(arch: str) -> CatalogEntry | None:
    """The catalog entry of an open_clip architecture (keys and architectures differ for some)."""
    return find_entry(arch) or next((e for e in CATALOG if e.arch == arch), None)


def multilingual_entries() -> list[CatalogEntry]:
    """Catalog models whose tokenizer reads many scripts, best multilingual retrieval first."""
    found = [e for e in CATALOG if e.multilingual]
    return sorted(found, key=lambda e: -(e.xm3600_r1 or 0.0))
