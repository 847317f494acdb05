"""Interop check (a one-off, run on a machine with torch, safetensors, numpy and ml_dtypes).

For each q-<format>.safetensors written by `lowbit quantize` (see make-files.sh):
1. the Python safetensors package opens it and reads every tensor (FP8 parts come back as torch float8);
2. each quantized tensor is rebuilt from its parts with PyTorch/ml_dtypes' own decoders and compared
   bit for bit with lowbit's dequantization (d-<format>.safetensors);
3. where torch has the cast (float8 per-channel), the original weights are quantized by torch and the
   codes compared with lowbit's.
"""
import json, sys, os
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

d = sys.argv[1] if len(sys.argv) > 1 else ".interop"
orig = load_file(os.path.join(d, "original.safetensors"))
print("torch", torch.__version__, "numpy", np.__version__, "ml_dtypes", getattr(ml_dtypes, "__version__", None))

E2M1 = torch.tensor([0, .5, 1, 1.5, 2, 3, 4, 6, -0.0, -.5, -1, -1.5, -2, -3, -4, -6], dtype=torch.float32)

def unpack_lsb(b: torch.Tensor, bits: int, n: int) -> torch.Tensor:
    a = np.unpackbits(b.numpy().astype(np.uint8), bitorder="little")[: n * bits].reshape(n, bits)
    return torch.from_numpy((a.astype(np.int64) << np.arange(bits)).sum(1))

def minifloat(codes: torch.Tensor, name: str) -> torch.Tensor:
    t = getattr(ml_dtypes, name)
    return torch.from_numpy(codes.numpy().astype(np.uint8).view(t).astype(np.float32))

def rebuild(fmt, spec, shape, p):
    n = int(np.prod(shape)) if len(shape) else 1
    if fmt in ("float8_e4m3fn", "float8_e5m2"):
        v = p["qdata"].float().reshape(-1)  # torch float8 → float32
        s = p["scales"]
        inner = n // s.numel() if spec.get("scaling") == "channel" and spec.get("axis", 0) == 0 else None
        return (v.reshape(s.numel(), -1) * s[:, None]).reshape(-1) if inner else v * s
    if fmt in ("float6_e2m3fn", "float4_e2m1fn"):
        bits = 6 if fmt.startswith("float6") else 4
        v = minifloat(unpack_lsb(p["qdata"], bits, n), fmt)
        s = p["scales"]
        return (v.reshape(s.numel(), -1) * s[:, None]).reshape(-1)
    if fmt.startswith("mxfp"):
        scale = p["scales"].reshape(-1).float()  # float8_e8m0fnu → 2^(e-127)
        if fmt == "mxfp8_e4m3":
            v = p["qdata"].view(torch.float8_e4m3fn).float().reshape(-1)
        elif fmt == "mxfp6_e3m2":
            v = minifloat(unpack_lsb(p["qdata"].reshape(-1), 6, n), "float6_e3m2fn")
        else:
            v = E2M1[unpack_lsb(p["qdata"].reshape(-1), 4, n)]
        return (v.reshape(-1, 32) * scale[:, None]).reshape(-1)
    if fmt == "nvfp4":
        v = E2M1[unpack_lsb(p["qdata"].reshape(-1), 4, n)]
        bs = p["scales"].reshape(-1).float()
        g = p["globalScale"].float().reshape(())
        return (v.reshape(-1, 16) * (bs * g)[:, None]).reshape(-1)
    return None

report = []
for fmt in sorted(f[2:-12] for f in os.listdir(d) if f.startswith("q-")):
    qpath, dpath = os.path.join(d, f"q-{fmt}.safetensors"), os.path.join(d, f"d-{fmt}.safetensors")
    with safe_open(qpath, framework="pt") as fh:
        meta = json.loads(fh.metadata()["lowbit"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    deq = load_file(dpath)
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()})
    exact = total = checked = 0
    maxdiff = 0.0
    code_match = code_total = 0
    for name, info in meta["tensors"].items():
        parts = {pn: tensors[f"{name}.{pn}"] for pn in info["parts"]}
        rec = rebuild(info["format"], info["spec"], info["shape"], parts)
        ref = deq[name].reshape(-1)
        if rec is not None:
            checked += 1
            rec = rec.to(torch.float32)
            eq = (rec.view(torch.int32) == ref.view(torch.int32)) | (torch.isnan(rec) & torch.isnan(ref))
            exact += int(eq.sum()); total += ref.numel()
            maxdiff = max(maxdiff, float((rec - ref).abs().max()))
        if info["format"] in ("float8_e4m3fn", "float8_e5m2") and info["spec"].get("scaling") == "channel":
            x = orig[name].reshape(int(info["shape"][0]), -1).float()
            mx = 448.0 if info["format"] == "float8_e4m3fn" else 57344.0
            amax = x.abs().amax(dim=1)
            scale = (amax / mx).to(torch.float32)
            inv = torch.where(scale == 0, torch.zeros_like(scale), 1.0 / scale)
            tq = (x * inv[:, None]).to(getattr(torch, info["format"])).view(torch.uint8).reshape(-1)
            ours = parts["qdata"].view(torch.uint8).reshape(-1)
            code_match += int((tq == ours).sum()); code_total += ours.numel()
    row = dict(format=fmt, quantized_tensors=len(meta["tensors"]), file_tensors=len(tensors), dtypes=dtypes,
               rebuilt_tensors=checked, bit_exact=f"{exact}/{total}", max_abs_diff=maxdiff)
    if code_total:
        row["torch_codes_equal"] = f"{code_match}/{code_total}"
    report.append(row)
    print(json.dumps(row))

out = os.environ.get("OUT")
if out:
    with open(os.path.join(out, "interop.json"), "w") as f:
        json.dump(report, f, indent=1)
