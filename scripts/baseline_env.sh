#!/usr/bin/env bash
# Build the environment of a wrapped baseline: ./.venv-<name> from baselines/<name>/requirements-<name>.txt.
# Usage: bash scripts/baseline_env.sh wav2lip [ip_lap ...]   (idempotent: an up-to-date env is kept)
# The official repositories pin packages that no longer install on today's Python; each file
# says which pins replace them. torch is the local CPU wheel (torch==2.13.0), never a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ $# -gt 0 ] || { echo "usage: $0 wav2lip|ip_lap|musetalk ..." >&2; exit 2; }
quiet_pip() { "$@" 2> >(grep -v "is ignored" >&2); }  # the extra indexes' notes about absent folders
for name in "$@"; do
  req="baselines/$name/requirements-$name.txt"
  [ -f "$req" ] || { echo "[baseline-env] no $req" >&2; exit 2; }
  venv=".venv-$name"
  stamp="$venv/.eadbench-requirements"
  wanted=$(cat "$req")
  if [ -f "$stamp" ] && [ "$wanted" = "$(cat "$stamp")" ]; then
    echo "[baseline-env] $venv is up to date"; continue
  fi
  echo "[baseline-env] building $venv from $req"
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  quiet_pip "$venv/bin/python" -m pip install -q -r "$req"
  # Upstream scripts call a bare `ffmpeg`; the adapter puts $venv/bin first on PATH.
  ff=$("$venv/bin/python" -c "import imageio_ffmpeg as f; print(f.get_ffmpeg_exe())" 2>/dev/null || true)
  [ -z "$ff" ] || ln -sf "$ff" "$venv/bin/ffmpeg"
  printf '%s' "$wanted" > "$stamp"
  echo "[baseline-env] done: $venv/bin/python"
done
