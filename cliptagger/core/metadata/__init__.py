"""Keywords in and out: XMP packets, sidecars, the undo journal, CSV export."""
