#!/usr/bin/env bash
# Writes the files of the interop check with the lowbit CLI: one real model quantized into several
# formats (q-*.safetensors) and lowbit's own dequantization of each (d-*.safetensors, float32).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=${LOWBIT_SHARED:-$root/../shared}
out=${1:-$root/.interop}
lowbit="node $root/packages/cli/dist/bin.js"
mkdir -p "$out"
cp "$shared/datasets/models/face_expression.f32.safetensors" "$out/original.safetensors"
for f in float8_e4m3fn float8_e5m2 float6_e2m3fn float4_e2m1fn mxfp8_e4m3 mxfp6_e3m2 mxfp4 nvfp4 int8 nf4; do
  $lowbit quantize -q --on-error skip --format "$f" "$out/original.safetensors" "$out/q-$f.safetensors"
  $lowbit dequantize -q --dtype f32 "$out/q-$f.safetensors" "$out/d-$f.safetensors"
done
ls -la "$out"
