"""Controllers: each owns one part of the window's behaviour (model, sidecars, search,
learning) and talks to the session only through workers and plain data objects."""
