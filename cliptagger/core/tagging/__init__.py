"""From pixels to proposals: labels, templates, scoring, the batched engine, the embedding cache, search."""
