"""The real Python huggingface_hub client against the lowbit hub (a one-off: see tools/interop/hub-python.sh).
import hashlib, json, os, sys, tempfile, time, urllib.request
URL = os.environ["HF_ENDPOINT"]
import torch
from safetensors.torch import save_file, load_file
from safetensors import safe_open
import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

api = HfApi()
out = {"huggingface_hub": huggingface_hub.__version__, "torch": torch.__version__, "checks": []}
def ok(name, cond, detail=""):
    out["checks"].append({"check": name, "ok": bool(cond), "detail": str(detail)[:300]})
    print(("PASS " if cond else "FAIL ") + name, detail if not cond else "", flush=True)
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    return h.hexdigest()

work = tempfile.mkdtemp()
g = torch.Generator().manual_seed(0)
base = {f"layers.{i}.weight": (torch.randn(1024, 1024, generator=g) * 0.02).to(torch.bfloat16) for i in range(6)}
tune = {k: (v.float() + torch.randn(v.shape, generator=g) * 0.0002).to(torch.bfloat16) for k, v in base.items()}
os.makedirs(f"{work}/base/sub", exist_ok=True); os.makedirs(f"{work}/tune", exist_ok=True)
save_file(base, f"{work}/base/model.safetensors", metadata={"format": "pt"})
save_file(tune, f"{work}/tune/model.safetensors", metadata={"format": "pt"})
json.dump({"model_type": "llama", "hidden_size": 1024}, open(f"{work}/base/config.json", "w"))
open(f"{work}/base/sub/README.md", "w").write("# base\n")

t0 = time.time()
r = api.create_repo("py/base", exist_ok=True); ok("create_repo", str(r).endswith("py/base"), r)
api.create_repo("py/base", exist_ok=True); ok("create_repo exist_ok", True)
ci = api.upload_folder(folder_path=f"{work}/base", repo_id="py/base", commit_message="base model")
ok("upload_folder (LFS batch + commit)", len(ci.oid) == 40, ci)
files = sorted(api.list_repo_files("py/base")); ok("list_repo_files", files == [".gitattributes", "config.json", "model.safetensors", "sub/README.md"] or files == ["config.json", "model.safetensors", "sub/README.md"], files)
tree = list(api.list_repo_tree("py/base", recursive=True, expand=True))
lfs = [t for t in tree if getattr(t, "lfs", None)]
ok("list_repo_tree lfs sha256", lfs and lfs[0].lfs.sha256 == sha(f"{work}/base/model.safetensors"), lfs[0] if lfs else tree)
info = api.model_info("py/base", files_metadata=True); ok("model_info sha + siblings", info.sha == ci.oid and len(info.siblings) >= 3, info.sha)
pi = api.get_paths_info("py/base", ["model.safetensors", "sub"]); ok("get_paths_info", len(pi) == 2, pi)
meta = get_hf_file_metadata(hf_hub_url("py/base", "model.safetensors"))
ok("get_hf_file_metadata (HEAD)", meta.commit_hash == ci.oid and meta.etag == sha(f"{work}/base/model.safetensors") and meta.size == os.path.getsize(f"{work}/base/model.safetensors"), meta)
p = hf_hub_download("py/base", "model.safetensors"); ok("hf_hub_download bytes", sha(p) == sha(f"{work}/base/model.safetensors"))
ok("downloaded file loads in torch", torch.equal(load_file(p)["layers.0.weight"], base["layers.0.weight"]))
p2 = hf_hub_download("py/base", "sub/README.md"); ok("hf_hub_download regular file", open(p2).read() == "# base\n")
snap = snapshot_download("py/base"); ok("snapshot_download", sha(f"{snap}/model.safetensors") == sha(f"{work}/base/model.safetensors") and os.path.exists(f"{snap}/sub/README.md"), os.listdir(snap))
try:
    hf_hub_download("py/base", "missing.bin"); ok("EntryNotFoundError", False)
except EntryNotFoundError: ok("EntryNotFoundError", True)
try:
    hf_hub_download("py/base", "config.json", revision="nope"); ok("RevisionNotFoundError", False)
except RevisionNotFoundError: ok("RevisionNotFoundError", True)
try:
    hf_hub_download("py/absent", "config.json"); ok("RepositoryNotFoundError", False)
except RepositoryNotFoundError: ok("RepositoryNotFoundError", True)
api.create_branch("py/base", branch="dev"); api.upload_file(path_or_fileobj=b"dev only\n", path_in_repo="dev.txt", repo_id="py/base", revision="dev")
ok("branch + upload_file", "dev.txt" in api.list_repo_files("py/base", revision="dev") and "dev.txt" not in api.list_repo_files("py/base"))
api.delete_file("sub/README.md", "py/base"); ok("delete_file", "sub/README.md" not in api.list_repo_files("py/base"))
commits = api.list_repo_commits("py/base"); ok("list_repo_commits", len(commits) >= 3, [c.title for c in commits])
refs = api.list_repo_refs("py/base"); ok("list_repo_refs", sorted(b.name for b in refs.branches) == ["dev", "main"], refs)
api.create_repo("py/tune", exist_ok=True)
api.upload_folder(folder_path=f"{work}/tune", repo_id="py/tune")
stats = json.load(urllib.request.urlopen(f"{URL}/api/stats"))
row = [r for r in stats["repos"] if r["id"] == "py/tune"][0]
ok("fine-tune stored as a delta", row["storedBytes"] < 0.5 * row["logicalBytes"], row)
pt = hf_hub_download("py/tune", "model.safetensors"); ok("fine-tune byte-identical", sha(pt) == sha(f"{work}/tune/model.safetensors"))
# A quantized variant, read by the safetensors library and torch.
vp = f"{work}/nf4.safetensors"
urllib.request.urlretrieve(f"{URL}/py/base/resolve/main/model.safetensors?format=nf4", vp)
with safe_open(vp, "pt") as f:
    md = f.metadata(); keys = list(f.keys()); t = f.get_tensor(keys[0])
lb = json.loads(md["lowbit"])
ok("nf4 variant opens with safetensors/torch", "tensors" in lb and all(v["format"] == "nf4" for v in lb["tensors"].values()), (keys[:4], t.dtype, t.shape))
for fmt in ["float8_e4m3fn", "bfloat16"]:
    vp2 = f"{work}/{fmt}.safetensors"
    urllib.request.urlretrieve(f"{URL}/py/base/resolve/main/model.safetensors?format={fmt}", vp2)
    with safe_open(vp2, "pt") as f:
        ks = list(f.keys()); tt = {k: f.get_tensor(k) for k in ks}
    ok(f"{fmt} variant tensors load in torch", len(ks) > 0, [(k, v.dtype) for k, v in list(tt.items())[:3]])
api.update_repo_settings("py/tune", private=True)
try:
    api.model_info("py/tune", token=False); ok("private repo refused without a token", False)
except RepositoryNotFoundError as e:
    ok("private repo refused without a token", "401" in str(e), str(e)[:120])
ok("private repo readable with the token", api.model_info("py/tune").private is True)
out["seconds"] = time.time() - t0
json.dump(out, open(os.path.join(os.environ.get("OUT", "."), "python-client.json"), "w"), indent=1)
print("ALL PASS" if all(c["ok"] for c in out["checks"]) else "SOME FAILED", len(out["checks"]), "checks")
