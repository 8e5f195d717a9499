"""From command-line arguments to a ready ``Session``: one place for every command.

``add_model_arguments`` declares the options ``open_session`` reads; a command may also have
``--labels``, ``--batch-size``, ``--exact``, ``--no-cache``, ``--zero-shot`` and ``--quiet``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from cliptagger.cli.output import print_warnings, say
from cliptagger.cli.progress_bar import ProgressBar
from cliptagger.core.errors import CliptaggerError
from cliptagger.core.model.catalog import DEFAULT_KEY
from cliptagger.core.model.device import DEVICE_CHOICES
from cliptagger.core.model.precision import PRECISIONS, Precision

if TYPE_CHECKING:
    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.session import Session
    from cliptagger.core.tagging.labels import LabelSet


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_KEY,
                        help=f"model name (default {DEFAULT_KEY}; 'demo' is the bundled offline model; "
                             "any open_clip architecture works)")
    parser.add_argument("--pretrained", default="", metavar="TAG", help="open_clip pretrained tag")
    parser.add_argument("--checkpoint", type=Path, metavar="PATH",
                        help="local weights for --model: an open_clip file, or (no --model needed) a Hugging "
                             "Face CLIP folder or an OpenAI .pt file, converted once into the cache")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--no-download", action="store_true", help="never download weights")
    parser.add_argument("--precision", choices=list(PRECISIONS), default=Precision.AUTO.value,
                        help="auto: fp16 on CUDA; on a CPU, bf16 only where timing rounds show it clearly faster, else fp32")
    parser.add_argument("--text-language", default="", metavar="CODE",
                        help="the labels' language for models that must be told it (NLLB-SigLIP): "
                             "ko, ja, zh, de... or an NLLB code such as kor_Hang (default: your locale)")


def load_label_files(files: Optional[Sequence[Path]], model_key: str) -> "list[LabelSet]":
    """The label sets of these files, JSON or Lightroom keyword lists (``.txt``) (default: the
    bundled ones for the model); names unique."""
    from cliptagger.core.tagging.keyword_list import load_label_file
    from cliptagger.core.tagging.labels import default_label_file

    label_sets = [s for f in (files or [default_label_file(model_key)]) for s in load_label_file(f)]
    names = [s.name.casefold() for s in label_sets]
    if len(set(names)) != len(names):
        raise CliptaggerError("Two label sets have the same name; rename one of them.")
    return label_sets


def load_model_from_args(args: argparse.Namespace, quiet: bool = False) -> "ClipModel":
    from cliptagger.core.model.clip import load_model
    from cliptagger.core.model.weights import request_for

    request = request_for(args.model, args.pretrained, args.checkpoint, getattr(args, "text_language", ""))
    bar = ProgressBar(enabled=None if not quiet else False)

    def on_download(done: int, total: Optional[int]) -> None:
        if total:
            bar.update(min(done, total), total, 0.0, None)

    try:
        return load_model(request, device=args.device, allow_download=not args.no_download,
                          download_progress=on_download, precision=args.precision)
    finally:
        bar.close()


def open_session(args: argparse.Namespace, label_sets: "Optional[list[LabelSet]]" = None,
                 texts_to_check: Optional[Sequence[str]] = None) -> "Session":
    """A session with the command's label sets, options and model, its warnings printed.

    ``texts_to_check``: what the model's tokenizer must be able to read (default: the label
    names and prompts); a script it cannot read is a warning that names a model that can."""
    from cliptagger.core.session import EngineOptions, Session
    from cliptagger.core.tagging.script_support import label_texts, model_warning

    if label_sets is None:
        label_sets = load_label_files(getattr(args, "labels", None), args.model)
    options = EngineOptions(batch_size=getattr(args, "batch_size", None),
                            fast_decode=not getattr(args, "exact", False),
                            use_cache=not getattr(args, "no_cache", False),
                            use_learned=not getattr(args, "zero_shot", False),
                            keyword_root=getattr(args, "keyword_root", ""))
    session = Session(label_sets, options)
    model = load_model_from_args(args, quiet=getattr(args, "quiet", False))
    session.use_model(model)
    session.cache()
    print_warnings(session)
    unreadable = model_warning(label_texts(label_sets) if texts_to_check is None else texts_to_check, model)
    if unreadable:
        say(f"warning: {unreadable}")
    return session
