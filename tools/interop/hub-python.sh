#!/usr/bin/env bash
# The Python huggingface_hub client against the lowbit hub, on a machine that has huggingface_hub,
# torch and safetensors but no Node (a one-off interop check, not part of npm test).
#
#   tools/interop/hub-python.sh pack DIR   # here, after npm run build: the hub bundled into one file,
#                                          # its two native modules, and this machine's node (xz)
#   DIR/run.sh                             # there: starts the hub, runs hub-python-client.py
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "${1:-}" = pack ] && [ -n "${2:-}" ] || { echo "usage: $0 pack DIR" >&2; exit 2; }
out=$2
mkdir -p "$out/node_modules"
npx --prefix "$root" esbuild "$root/apps/hub/dist/bin.js" --bundle --platform=node --format=esm --target=node20 \
  --outfile="$out/hub.mjs" --external:better-sqlite3 --external:zstd-napi --external:pg-native --log-level=error \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
for m in better-sqlite3 bindings file-uri-to-path zstd-napi; do
  mkdir -p "$out/node_modules/$m"
  for f in package.json lib dist build; do
    [ -e "$root/node_modules/$m/$f" ] && cp -r "$root/node_modules/$m/$f" "$out/node_modules/$m/"
  done
  cp "$root/node_modules/$m"/*.js "$out/node_modules/$m/" 2>/dev/null || true
done
xz -T2 -6 -c "$(command -v node)" > "$out/node.xz"
cp "$root/tools/interop/hub-python-client.py" "$out/py_check.py"
cat > "$out/run.sh" <<'RUN'
#!/bin/bash
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$D}
xz -dc "$D/node.xz" > /tmp/node && chmod +x /tmp/node
export LOWBIT_HUB_TOKEN=hf_lowbit_interop_check_token_0123456789
rm -rf /tmp/hubdata /tmp/hfhome
/tmp/node "$D/hub.mjs" serve --port 18080 --data /tmp/hubdata > "$OUT/hub.log" 2> "$OUT/hub.err" &
for i in $(seq 1 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.2; done
HF_ENDPOINT=http://127.0.0.1:18080 HF_HUB_DISABLE_XET=1 HF_TOKEN=$LOWBIT_HUB_TOKEN HF_HOME=/tmp/hfhome OUT=$OUT \
  python3 "$D/py_check.py"
kill %1; wait
RUN
chmod +x "$out/run.sh"
du -sh "$out"
