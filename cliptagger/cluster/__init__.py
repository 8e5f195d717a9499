"""Tagging an archive on a Ray cluster (the optional extra ``cliptagger[cluster]``).

The cluster only *fills the embedding cache*: the driver lists the photos, Ray decodes them in
CPU tasks (with cliptagger's own decoder) and encodes them in an actor pool, and every batch
that comes back is written as a Parquet shard and merged into the cache on the driver. The
normal single-machine ``Session.tag`` then finds every embedding cached and encodes nothing:
scores, proposals, CSVs and sidecars come from exactly the code one machine runs.

Nothing here imports Ray at module import time: ``cliptagger.cluster.pipeline`` does, and
only the runner loads it, when ``--ray`` is given. See docs/cluster.md.
"""
