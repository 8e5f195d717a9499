"""Learning from the user's decisions: the examples store, learned heads, the span solver."""
