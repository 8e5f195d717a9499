"""``cliptagger cache``: where the embedding cache is, prune it, clear it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cliptagger.cli.exits import EXIT_OK
from cliptagger.cli.output import say


def register(commands: "argparse._SubParsersAction[Any]") -> None:
    cache = commands.add_parser("cache", help="the embedding cache: where it is, prune it, clear it")
    cache.add_argument("action", choices=["info", "prune", "clear"], nargs="?", default="info",
                       help="prune: forget moved, deleted or changed files; clear: delete the cache")
    cache.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cliptagger.core.tagging.cache import EmbeddingCache, default_cache_path

    location = default_cache_path()
    if args.action == "clear":
        removed = 0
        for suffix in ("", "-wal", "-shm"):
            target = Path(str(location) + suffix)
            if target.exists():
                target.unlink()
                removed += 1
        print(f"cleared {location}" if removed else f"no cache at {location}")
        return EXIT_OK
    cache = EmbeddingCache(location)
    for warning in cache.warnings:
        say(f"warning: {warning}")
    if args.action == "prune":
        print(f"pruned {cache.prune()} stale entries; {cache.count()} remain in {location}")
    else:
        size = location.stat().st_size if location.exists() else 0
        print(f"{cache.count()} embeddings, {size / 2**20:.1f} MiB, in {location}")
    cache.close()
    return EXIT_OK
