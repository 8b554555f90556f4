#!/bin/sh
# Build the worker's virtualenv the way zkg's build_command does, for
# installs without zkg: ./packaging/build.sh [python] [target-dir]
#   python      interpreter to use (default: python3; needs >= 3.10)
#   target-dir  where the venv goes (default: ./.venv in the checkout)
set -eu

here="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
venv="${2:-$here/.venv}"

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "HAMAD needs Python >= 3.10")'
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "$here"
"$venv/bin/hamad" --help >/dev/null
echo "built $venv; the worker is $venv/bin/hamad (try: $venv/bin/hamad serve --help)"
