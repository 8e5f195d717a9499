"""Work the UI thread must not do: tagging, writing, searching, learning, thumbnails, scanning.
Every worker derives from ``guarded.GuardedWorker``: a failure becomes a message, never a dead thread."""
