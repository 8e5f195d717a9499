# cliptagger: `make run` starts the app, `make test` runs the tests.
# Both create .venv and install the project into it the first time; `make test` also
# installs the system packages the tests need (apt-get as root or with sudo), or stops at
# once with the one command to run.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

# The independent XMP readers (exiftool, exiv2), a virtual X display for screenshots, and
# the shared libraries Qt's offscreen platform loads.
APT_PACKAGES := libimage-exiftool-perl exiv2 xvfb libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 \
	libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1

.PHONY: run test lint system-packages demo demo-model package package-test clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# make run ARGS="FOLDER --model demo": what to open, and the app's options
run: $(STAMP)
	$(BIN)/python main.py $(ARGS)

test: system-packages $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff over the code, tests and tools; mypy strict over the Qt-free core (pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check cliptagger tests benchmarks tools main.py packaging
	$(BIN)/mypy

# Debian/Ubuntu: install what is missing (as root, or with sudo when it needs no password);
# elsewhere check that exiftool and exiv2 are on PATH. Otherwise stop with the command to run.
system-packages:
	@if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		missing=""; \
		for pkg in $(APT_PACKAGES); do \
			dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
		done; \
		if [ -n "$$missing" ]; then \
			if [ "$$(id -u)" = 0 ]; then as_root=""; \
			elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo"; \
			else \
				echo "make test needs system packages it cannot install without root. Run:" >&2; \
				echo "  sudo apt-get install -y --no-install-recommends$$missing" >&2; \
				exit 1; \
			fi; \
			echo "installing system packages:$$missing"; \
			$$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
			$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
		fi; \
	elif ! command -v exiftool >/dev/null 2>&1 || ! command -v exiv2 >/dev/null 2>&1; then \
		echo "make test needs exiftool and exiv2 on PATH. Install them, e.g.:" >&2; \
		echo "  brew install exiftool exiv2" >&2; \
		exit 1; \
	fi

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
