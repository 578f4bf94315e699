#!/usr/bin/env bash
# Runs the strict AWS layer's own tests (boto3 -> tests/strict/strict_aws.py -> moto).
# Needs moto in .venv (`bash hack/moto.sh install`); installs pytest there if missing.
# Exits with pytest's exit code. Extra arguments go to pytest (e.g. -k kms -x).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
if [ ! -x "$PY" ] || [ ! -x .venv/bin/moto_server ]; then
  echo "moto is not installed in .venv: run 'bash hack/moto.sh install' first" >&2
  exit 2
fi
if ! "$PY" -c 'import pytest' 2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check -r tests/strict/requirements.txt >&2 || exit 2
fi
"$PY" -m pytest -q -p no:cacheprovider tests/strict "$@"
exit $?
