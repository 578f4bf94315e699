#!/usr/bin/env bash
# Packaging tests: Helm chart, kustomize, Dockerfile, GitOps docs (tests/packaging).
# Offline once the requirements are installed; no cluster, docker or network needed.
#   bash hack/test-packaging.sh [extra pytest args]
# Set BLO_BIN=target/release/bedrock-logging-operator to also compare RBAC rules and the IAM
# policy with the binary's own output.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
req="$root/tests/packaging/requirements.txt"
marker="$venv/.packaging-requirements.sha256"

if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi

# Install only when the requirements changed since the last install (marker holds their
# hash) or a package has gone missing from the venv.
want="$(sha256sum "$req" | cut -d' ' -f1)"
have="$(cat "$marker" 2>/dev/null || true)"
if [[ "$want" != "$have" ]] \
  || ! "$venv/bin/python" -c 'import pytest, helm_python, kubernetes_validate, jsonschema, yaml, yamllint, lupa' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$marker"
fi

# promtool (Prometheus' rule checker, for tests/packaging/test_alerts.py and test_dashboard.py).
# When it is not on PATH, take it from Debian's `prometheus` package: only the promtool binary,
# unpacked into the venv (the package's Prometheus server and its service are not installed).
# Without apt (or as non-root with no package lists) the promtool tests skip, saying why.
install_promtool() {
  command -v apt-get >/dev/null 2>&1 || return 1
  # Not `grep -q`: it exits at the first match, apt-cache then dies of SIGPIPE, and under
  # pipefail the pipeline fails (it did, every time: the promtool tests always skipped).
  candidate() { apt-cache policy prometheus 2>/dev/null | grep -E 'Candidate: [0-9]' >/dev/null; }
  if ! candidate && [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq >/dev/null || return 1
  fi
  candidate || return 1
  local tmp
  tmp="$(mktemp -d)"
  if (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) \
    && dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root" \
    && install -m 0755 "$tmp/root/usr/bin/promtool" "$venv/bin/promtool"; then
    rm -rf "$tmp"
    return 0
  fi
  rm -rf "$tmp"
  return 1
}
export PATH="$venv/bin:$PATH"
if ! command -v promtool >/dev/null 2>&1; then
  install_promtool || echo "note: promtool could not be installed (Debian package prometheus); its tests will skip" >&2
fi

export PYTHONDONTWRITEBYTECODE=1
set +e
"$venv/bin/python" -m pytest -q tests/packaging "$@"
rc=$?
set -e
exit "$rc"
