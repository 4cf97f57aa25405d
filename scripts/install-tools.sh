#!/usr/bin/env bash
# Installs the build tools Steward needs, reusing whatever is already installed.
# Only package registries are used (crates.io, Debian, npm); nothing is downloaded from elsewhere.
# Usage: scripts/install-tools.sh [build|test]
set -euo pipefail

mode="${1:-build}"
root="$(cd "$(dirname "$0")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_NPM_VERSION=132.0.0
# The accessibility checks in the browser tests (zero serious violations on every page).
AXE_CORE_VERSION=4.14.1
# The wasm-bindgen CLI must match the wasm-bindgen crate in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' "$root/Cargo.lock")"

log() { printf '[install-tools] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# fonts-dejavu-core: the weekly digest chart's words (alerts.digest.font_file).
apt_packages=(pkg-config brotli fonts-dejavu-core)
if [ "$mode" = test ]; then
  # cmake and g++ build the real llama-server the model tests talk to (scripts/llama-server.sh);
  # python3-aiosmtpd is the SMTP server the email tests deliver to; victoria-metrics is the
  # second remote-write receiver the fleet samples are tested against; postgresql holds users
  # and sessions shared by hub replicas ([database] url), tested on a throwaway cluster.
  apt_packages+=(chromium chromium-driver prometheus prometheus-node-exporter docker.io busybox-static cmake g++ python3 curl prometheus-alertmanager python3-aiosmtpd victoria-metrics postgresql)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown

# Installs a crate from its registry source after pinning one dependency whose locked version
# cannot be used here (too new for this rustc, or missing from the registry mirror).
install_with_pin() {
  local crate="$1" version="$2" dep="$3" dep_version="$4"
  local src
  src="$(ls -d "$HOME"/.cargo/registry/src/*/"$crate-$version" 2>/dev/null | head -n1 || true)"
  if [ -z "$src" ]; then
    # A plain install fetches the source; it may fail on the lock problem, which we fix below.
    cargo install "$crate@$version" --locked >/dev/null 2>&1 || true
    if command -v "$crate" >/dev/null 2>&1 && "$crate" --version 2>/dev/null | grep -q "$version"; then return 0; fi
    src="$(ls -d "$HOME"/.cargo/registry/src/*/"$crate-$version" | head -n1)"
  fi
  local work
  work="$(mktemp -d)"
  cp -r "$src" "$work/src"
  (cd "$work/src" && cargo update -q -p "$dep" --precise "$dep_version" && cargo install --path . --locked)
  rm -rf "$work"
}

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes on 2 cores)"
  install_with_pin cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas 0.14.1
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  install_with_pin wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

# Debian's binaryen (wasm-opt 108) silently breaks hydration of release builds; use the npm one.
if [ ! -x "$root/tools/npm/node_modules/.bin/wasm-opt" ]; then
  log "installing binaryen $BINARYEN_NPM_VERSION (wasm-opt) from npm"
  npm install --silent --no-audit --no-fund --prefix "$root/tools/npm" "binaryen@$BINARYEN_NPM_VERSION" >/dev/null
fi
if [ "$mode" = test ] && ! grep -qs "\"version\": \"$AXE_CORE_VERSION\"" "$root/tools/npm/node_modules/axe-core/package.json"; then
  log "installing axe-core $AXE_CORE_VERSION from npm (browser accessibility tests)"
  npm install --silent --no-audit --no-fund --prefix "$root/tools/npm" "axe-core@$AXE_CORE_VERSION" >/dev/null
fi
if [ "$mode" = test ]; then
  # Cached outside the work tree by version: built once per machine (about 4 minutes).
  "$root/scripts/llama-server.sh" >/dev/null
fi
log "tools ready"
