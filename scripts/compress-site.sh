#!/usr/bin/env bash
# Writes brotli (quality 11) and gzip (-9) copies of the built site's JS, WASM and CSS next to
# them, for the server to send as they are. The server ignores any copy older than its source
# and then compresses on the fly instead, so a stale copy can never be served.
set -euo pipefail
pkg="${1:-target/site/pkg}"
for f in "$pkg"/*.wasm "$pkg"/*.js "$pkg"/*.css; do
  [ -f "$f" ] || continue
  gzip -9 -k -f -n "$f"
  if command -v brotli >/dev/null 2>&1; then
    brotli -q 11 -k -f "$f"
  fi
done
