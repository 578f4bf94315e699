#!/usr/bin/env bash
# Copy the generated CRD (crds/bedrockloggingpolicies.yaml, written by
# `bedrock-logging-operator crd`) into the Helm chart and the kustomize base.
# Called by `make crds`; the packaging tests fail while the copies differ.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/crds/bedrockloggingpolicies.yaml"

if [[ ! -s "$src" ]]; then
  echo "sync-crd: $src is missing or empty; generate it first:" >&2
  echo "  bedrock-logging-operator crd > crds/bedrockloggingpolicies.yaml" >&2
  exit 1
fi

for dest in \
  "$root/charts/bedrock-logging-operator/crds/bedrockloggingpolicies.yaml" \
  "$root/config/crd/bedrockloggingpolicies.yaml"; do
  mkdir -p "$(dirname "$dest")"
  if cmp -s "$src" "$dest"; then
    echo "sync-crd: ${dest#"$root"/} up to date"
  else
    cp "$src" "$dest"
    echo "sync-crd: ${dest#"$root"/} updated"
  fi
done
