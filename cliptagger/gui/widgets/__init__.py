"""Widgets and item models: what the window shows (photo list, results panel, label editor, ...)."""
