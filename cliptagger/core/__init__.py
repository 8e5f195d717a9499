"""The Qt-free core of cliptagger: models, labels, images, scoring, the tagging engine.

Nothing under this package may import Qt: it is shared by the CLI, the GUI worker
and the tests, and must run headless.
"""
