# Sourced by ./octoqa and ./selftest: make sure .venv holds this checkout, installed editable.
#
# A fresh clone needs only python3 (node/npm too for the OpenAPI linter). Python packages come
# pinned by constraints.txt (what CI passed with). The install is redone when pyproject.toml,
# constraints.txt or openapi/package-lock.json changes, so the wrappers stay fast afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OCTOQA_VENV:-$ROOT/.venv}"
STAMP="$VENV/.octoqa-installed"

fingerprint() {
  cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" "$ROOT/openapi/package-lock.json" 2>/dev/null | python3 -c \
    'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$(fingerprint)" ]; then
  echo "octoqa: installing into $VENV (first run or changed dependencies)..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[dev]" >&2
  if [ -f "$ROOT/openapi/package-lock.json" ] && command -v npm >/dev/null 2>&1; then
    npm ci --silent --prefix "$ROOT/openapi" >&2
  fi
  fingerprint > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
