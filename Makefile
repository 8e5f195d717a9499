# cliptagger: `make run` starts the app, `make test` runs the tests.
# Both create .venv and install the project into it the first time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test demo demo-model package package-test clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

# Generate a folder of pictures and tag it with the bundled demo model (offline).
demo: $(STAMP)
	$(BIN)/cliptagger demo demo-photos

# Re-train the bundled demo model from scratch (a few minutes on 2 CPU cores).
demo-model: $(STAMP)
	$(BIN)/python tools/train_demo_model.py

# The double-clickable app: dist/cliptagger/ (PyInstaller, one folder). Not part of `make test`.
package: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[package]'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/cliptagger.spec
	du -sh dist/cliptagger

# Build, then run the packaged app's self-test and time its start-up.
package-test: package
	$(BIN)/python packaging/check_bundle.py dist/cliptagger

clean-venv:
	rm -rf $(VENV)
