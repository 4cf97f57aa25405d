#!/usr/bin/env bash
# Builds Steward's container image from the release binary and site (`make image`): FROM scratch,
# so nothing is pulled from a registry. The binary's shared libraries (glibc, libgcc) are copied
# beside it, as `ldd` lists them.
# Usage: scripts/image.sh [TAG]   (Docker from DOCKER_HOST, else the default socket)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
tag="${1:-steward:latest}"
bin="${STEWARD_BIN:-$root/target/release/steward}"
site="${STEWARD_SITE_ROOT:-$root/target/site}"
ctx="${IMAGE_CONTEXT:-$root/target/image}"

[ -x "$bin" ] || { echo "no release binary at $bin: run make build first" >&2; exit 1; }
[ -f "$site/pkg/steward.wasm" ] || { echo "no built site under $site: run make build first" >&2; exit 1; }

rm -rf "$ctx"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/usr/share/steward" "$ctx/rootfs/data" "$ctx/rootfs/tmp" "$ctx/rootfs/etc/ssl/certs"
cp "$bin" "$ctx/rootfs/usr/local/bin/steward"
# The agent alone, built beside it (`docker run IMAGE steward-agent --hub …` on a fleet host).
[ -f "${bin%/*}/steward-agent" ] && cp "${bin%/*}/steward-agent" "$ctx/rootfs/usr/local/bin/steward-agent"
cp -r "$site" "$ctx/rootfs/usr/share/steward/site"
# The dynamic loader and every library the binary links, at the paths it expects them.
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
# CA roots for outgoing HTTPS (Prometheus, notifiers), when the host has them.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
fi
# Names for the root user, so logs and tools that look them up do not fail.
printf 'root:x:0:0:root:/data:/usr/local/bin/steward\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"

cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV LEPTOS_SITE_ROOT=/usr/share/steward/site \
    STEWARD_DATA_DIR=/data \
    STEWARD_LISTEN=0.0.0.0:3000
VOLUME /data
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/steward"]
CMD ["serve"]
DOCKERFILE

DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx"
echo "built $tag ($(du -sh "$ctx/rootfs" | cut -f1) unpacked)"
