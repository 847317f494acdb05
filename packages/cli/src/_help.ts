export const MAIN_HELP = `lowbit: low-bit number formats and quantized models from the command line

Usage:
  lowbit formats [--json]
  lowbit convert --to <format> [options] IN OUT
  lowbit inspect [--json] FILE
  lowbit quantize --format <name> [options] IN OUT
  lowbit dequantize [--dtype f32|f16|bf16] IN OUT
  lowbit compare [--json] A B
  lowbit embed build|search|eval [options]
  lowbit store init|ingest|restore|ls|stats|verify|gc --store <dir> [options]
  lowbit hub serve|token|push|pull [options]
  lowbit help [command]
  lowbit --version

Commands:
  formats      list the element formats (codecs) lowbit knows
  convert      convert a raw little-endian file between float32 and a low-bit format
  inspect      list a safetensors file's tensors, dtypes, shapes, sizes and quantization
  quantize     quantize the float tensors of a safetensors file with any registered format
  dequantize   restore a quantized safetensors file's tensors to floats
  compare      per-tensor error of one safetensors file against another
  embed        compressed embedding collections: build, search, and recall/size evaluation
  store        deduplicated, delta-compressed model storage with byte-identical restore
  hub          the model hub: an HF Hub compatible server, its tokens, push and pull (from a clone)

Exit codes: 0 success, 1 error (bad data, file system), 2 usage error, 130 interrupted.
Run 'lowbit <command> --help' for a command's options.
`;

export const FORMATS_HELP = `Usage: lowbit formats [--json]

Lists every codec in the registry: name, bits, largest finite value, smallest normal and subnormal
values, whether it has Inf, NaN and -0, and the package that implements it.

Options:
  --json       print the same as a JSON array (exact numbers, plus rounding and reference)
  -h, --help   show this help
`;

export const CONVERT_HELP = `Usage: lowbit convert --to <format> [options] IN OUT

Converts a raw little-endian file, streaming in chunks. A <format> is float32 or a codec name from
'lowbit formats'. Codec to codec goes through float32. OUT is written to a temporary file beside it,
fsynced and renamed, so it is never half-written; on error an existing OUT is left untouched.

Options:
  --to <format>        output format (required)
  --from <format>      input format (default: float32)
  --saturate           encode overflow and +-Inf as +-max finite instead of Inf/NaN
  --rounding <mode>    nearest-even | nearest-away | stochastic (default: the format's own)
  --seed <n>           stochastic rounding seed, 0..4294967295: same seed, same output
  --count <n>          number of elements; needed for packed sub-byte input whose padding
                       could hold one more element (e.g. an odd number of float4 codes)
  --no-pack            write sub-byte codes one per byte instead of packed
  --unpacked-input     read sub-byte codes one per byte instead of packed
  -q, --quiet          no progress bar, no summary
  -h, --help           show this help

File layouts:
  float32          4 bytes per element, IEEE binary32, little-endian
  16-bit formats   2 bytes per code, little-endian
  8-bit formats    1 byte per code
  6- and 4-bit     packed LSB first: element i in bits [i*b, i*b+b) of the byte stream,
                   final byte zero-padded (float4: element 2i in the low nibble)

Examples:
  lowbit convert --to float8_e4m3fn weights.f32 weights.e4m3
  lowbit convert --to float4_e2m1fn --saturate weights.f32 weights.fp4
  lowbit convert --from float4_e2m1fn --to float32 --count 1001 weights.fp4 back.f32
  lowbit convert --from bfloat16 --to float8_e5m2 --rounding stochastic --seed 7 w.bf16 w.e5m2
`;

export const INSPECT_HELP = `Usage: lowbit inspect [--json] FILE

Describes a safetensors file from its header alone (no tensor data is read): every tensor's name,
dtype, shape, element count, bytes and bits per element, in file order. A lowbit quantized tensor is
one line: its format, the bytes of all its parts, bits per weight, and its spec (every option). Then
totals per dtype or format and for the whole file.

Options:
  --json       print the same as JSON, with each quantized tensor's parts (tensor, dtype, shape, bytes)
  -h, --help   show this help
`;

export const QUANTIZE_HELP = `Usage: lowbit quantize --format <name> [options] IN OUT

Quantizes the floating tensors of the safetensors file IN with a registered quantizer (the element
formats of 'lowbit formats', and int4, nf4, mxfp4, ... once registered) and writes the lowbit model
OUT: each quantized tensor stored as its parts, the rest unchanged, IN's metadata kept.

A tensor is quantized when it is F32, F16, BF16 or F64, has at least 2 dimensions and at least
--min-elements elements, and its name matches no --skip pattern. Everything else (vectors, scalars,
integers, float8 codes, tensors already quantized) is copied as it is.

Options:
  --format <name>         quantizer (required); an unknown name lists the known ones
  --group <n>             group size: passes group: n, for quantizers that take a group option
  --bits, --codebooks, --block-size, --vector-length, --subspaces, --beam, --rounds, --seed,
  --train-sample <n>      the same for bits, codebooks, blockSize, vectorLength, subspaces, beam,
                          rounds, seed and trainSample; a flag the quantizer has no option for is a
                          usage error
  --threads <n>           vq, pq, rvq, aq: run k-means assignment on n worker threads (same codes
                          for the same seed and thread count)
  --option <key=value>    any quantizer option, repeatable; the value is read as JSON when it parses
                          (8, true, null, "x") and as a string otherwise (--option rounding=stochastic)
  --skip <regex>          keep tensors whose name matches (JavaScript RegExp, unanchored); repeatable
  --min-elements <n>      smallest tensor to quantize (default 1024)
  --on-error <mode>       fail (default): stop at the first tensor the quantizer rejects, write nothing;
                          skip: keep such tensors unquantized, with a warning on stderr for each
  -q, --quiet             no progress bar, no summary (warnings still print)
  -h, --help              show this help

On a terminal, stderr shows a bar over the tensors with the current tensor's step (vq formats report
k-means stages and AQ rounds) and an ETA, then a bar over the bytes written.

OUT is written to a temporary file beside it, fsynced and renamed: on any error an existing OUT is
left untouched. One summary line goes to stdout: tensors and weights quantized, bits per weight
(every part counted: codes, scales, ...), and the size of OUT against IN.

Examples:
  lowbit quantize --format float8_e4m3fn model.safetensors model.e4m3.safetensors
  lowbit quantize --format float8_e4m3fn --option scaling=tensor --skip 'embed|lm_head' in.st out.st
  lowbit quantize --format int4 --group 32 --on-error skip model.safetensors model.int4.safetensors
  lowbit quantize --format nf4 --block-size 128 model.safetensors model.nf4.safetensors
  lowbit quantize --format aq --codebooks 2 --bits 8 --group 8 --threads 2 model.safetensors model.aq.safetensors
`;

export const DEQUANTIZE_HELP = `Usage: lowbit dequantize [--dtype f32|f16|bf16] IN OUT

Restores every lowbit quantized tensor of IN to floats with its registered quantizer and writes a
plain safetensors file OUT, readable by any safetensors reader: restored tensors in the chosen dtype,
every other tensor unchanged, IN's metadata kept (without the lowbit key).

Options:
  --dtype <dtype>   f32 (default, exact), f16 or bf16 (rounded to nearest even; overflow to Inf)
  -q, --quiet       no progress bar, no summary
  -h, --help        show this help

OUT is written to a temporary file, fsynced and renamed; on error an existing OUT is left untouched.
`;

export const COMPARE_HELP = `Usage: lowbit compare [--json] A B

Compares B against the reference A, tensor by tensor, for every name in both files with the same
shape: relative MSE (sum of squared errors over sum of squares of A), SQNR in dB, largest absolute
error, and each side's dtype or format and bits per weight (all parts of a quantized tensor
counted). Quantized tensors in either file are dequantized first. A total line weights each tensor
by its element count: the mean of the relative MSEs, the SQNR of that mean, the largest error, and
the mean bits per weight. Names in only one file, and shape mismatches, are listed after the table.

Options:
  --json       print the same as JSON (an exact tensor's SQNR is the string "Infinity")
  -q, --quiet  no progress bar
  -h, --help   show this help

Example:
  lowbit compare model.safetensors model.e4m3.safetensors
`;

export const EMBED_HELP = `Usage:
  lowbit embed build --base FILE --codec SPEC --out DIR [options]
  lowbit embed search --collection DIR --query FILE [-k 10] [options]
  lowbit embed eval --base FILE --queries FILE --truth FILE --codec SPEC [options]

Compressed embedding collections (@lowbit/embed). Vector files are raw little-endian float32
(row-major; give --dim) or NumPy .npy (float32, float16 or float64; 2-D rows x dim, C order).

A codec SPEC is zero or more transforms then one terminal codec, joined by '+':
  transforms  pca:<k> (keep k dims), pca:<f> (keep f x dim, 0<f<1), pca:var<f> (explain fraction f
              of the variance), trunc:<k> (Matryoshka: first k dims)
  terminals   float32, float16, bfloat16, float8, float8_e5m2, int8, int4, binary, binary:center,
              pq:<M> (M sub-spaces, 1 byte each)
  e.g. int8, float16, pq:25, pca:0.5+float8, binary:center

build: reads --base, adds every row (its id is the row number as a string, "0", "1", ...), saves
the collection to --out (crash-safe: a new generation, then an atomic switch).
  --base <file>             vectors to store (required)
  --dim <n>                 row length (required for raw float32; checked against .npy)
  --codec <spec>            resident codes (required)
  --out <dir>               collection directory (required)
  --metric <m>              cosine (default), dot or l2
  --rescore <codec>         keep a precise copy for rescoring: int8, float16 or float32
  --rescore-storage <s>     memory (default) or disk (rows read from the saved file at search)
  --index <kind>            scan (default: exact scan over the codes) or hnsw
  --M <n>                   hnsw: links per node (default 16)
  --ef-construction <n>     hnsw: build breadth (default 200)
  --ef <n>                  hnsw: default search breadth (default 64)
  --train-sample <n>        rows the codec is fitted on, spread evenly over the base
                            (default: all rows, at most 100000)
  -q, --quiet               no progress bar, no summary

search: every row of --query against a saved collection; prints query, rank, id, score per hit.
  --collection <dir>        a directory written by 'lowbit embed build' (required)
  --query <file>            query vectors (required)
  --dim <n>                 row length of a raw query file (default: the collection's)
  -k <n>                    hits per query (default 10)
  --rescore <f>             rescore the top k x f candidates (f >= 1; needs a rescore copy)
  --ef <n>                  hnsw search breadth
  --path <p>                scan or index (default: index when the collection has one)
  --json                    print {queries, k, results: [{query, hits: [{id, score}]}]}

eval: for each --codec, builds a collection over --base in memory and searches every query;
reports recall@1/10/100 against --truth, nDCG@10, resident bytes per vector, queries per second
(search calls only) and build time.
  --base <file>             base vectors (required)
  --queries <file>          query vectors (required)
  --truth <file>            ground truth (required): raw little-endian int32, per query the base
                            row ids of its true nearest neighbours, best first (or an int .npy)
  --dim <n>                 row length of raw float32 files
  --codec <spec>            codec to evaluate (required); repeat for several runs
  --metric <m>              cosine (default), dot or l2: must match how --truth was computed
  --rescore <f>             rescore the top k x f candidates with a precise copy
  --rescore-codec <codec>   int8, float16 or float32 (default int8 when --rescore is given)
  --rescore-storage <s>     memory (default) or disk: the collection is saved to a temporary
                            folder and the copy is read from its file (not counted as resident)
  --index <kind>            scan (default) or hnsw, with --M, --ef-construction, --ef as above
  --path <p>                scan or index (default: index with --index hnsw)
  -k <n>                    hits per query (default min(100, truth columns))
  --train-sample <n>        as for build
  --json                    one JSON object per run, one per line: codec, index, recall1,
                            recall10, recall100, ndcg10, bytesPerVector, qps, buildSeconds, ...
                            (a recall@K with K above k is null)
  --svg <file>              write the recall@10 / bytes-per-vector plot of the runs
  -q, --quiet               no progress bar

Examples:
  lowbit embed eval --base base.f32 --queries queries.f32 --truth groundtruth.i32 --dim 100 \\
    --codec int8 --codec float16 --codec pq:25 --svg recall.svg
  lowbit embed eval --base base.f32 --queries q.f32 --truth gt.i32 --dim 100 --codec binary \\
    --rescore 10 --rescore-codec float16 --json
  lowbit embed build --base docs.npy --codec int8 --index hnsw --out docs.lowbit
  lowbit embed search --collection docs.lowbit --query q.npy -k 5
`;

export const STORE_HELP = `Usage:
  lowbit store init --store <dir>
  lowbit store ingest <dir | files...> --store <dir> --name <model> [options]
  lowbit store restore --store <dir> <model> <outdir> [--overwrite]
  lowbit store ls --store <dir> [--json]
  lowbit store stats --store <dir> [--json]
  lowbit store verify --store <dir> [--json]
  lowbit store gc --store <dir> [--grace <seconds>] [--json]

A content-addressed model store (@lowbit/store): identical tensors and chunks are stored once,
fine-tuned tensors as compressed differences from their base model's, everything zstd-compressed.
A restore is byte-identical to what was ingested (except with --lossy).

Every subcommand:
  --store <dir>           the store: a local folder, or s3://bucket/prefix (required)
  --s3-endpoint <url>     S3-compatible server (default: $AWS_ENDPOINT_URL, else AWS itself); keys
                          from $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY, region $AWS_REGION
                          (default us-east-1)

init: creates an empty store (an error if one is there already).

ingest: stores a model under --name. A directory is taken with all its files, recursively, named
by their paths relative to it; a list of files is named by their basenames.
  --name <model>          model name: [A-Za-z0-9._-] segments, optionally "org/model" (required)
  --base <model>          delta base: a stored model (default: picked automatically by tensor
                          names, shapes and bit similarity, or none)
  --no-base               store without a delta base
  --lossy bitdelta        store tensors that have a base as 1-bit deltas with per-row scales
                          (lossy; restore gives the reconstruction, not the original)
  --overwrite             replace a stored model of the same name
  --json                  print {name, base, files, logicalBytes, storedBytesAdded, ratio, parts,
                          seconds, mbPerSecond}; ratio = storedBytesAdded / logicalBytes
  -q, --quiet             no progress bar, no summary

restore: writes a model's files into <outdir>, each checked against its sha256.
  --overwrite             replace existing files in <outdir>
  --json                  print {name, outDir, files, bytes, seconds, mbPerSecond}
  -q, --quiet             no progress bar, no summary

ls: the stored models: name, base, files, size, lossy, creation time (--json: an array).
stats: logical and stored bytes per model and in total, and by codec (--json: the StoreStats).
verify: reads every object and checks its hash; lists each missing or damaged object with the
  models it breaks and exits 1 if there is any (--json: the VerifyReport; -q: print only damage).
gc: removes objects no model uses and abandoned temporary files older than the grace period.
  --grace <seconds>       keep younger unreferenced objects, which a running ingest may own
                          (default 3600)

On a terminal, ingest, restore and verify show a progress bar with an ETA on stderr; Ctrl-C stops
them cleanly (exit 130).

Examples:
  lowbit store init --store models.store
  lowbit store ingest ./llama-base --store models.store --name llama-base
  lowbit store ingest ./llama-chat --store models.store --name llama-chat --base llama-base --json
  lowbit store restore --store models.store llama-chat ./restored
  AWS_ENDPOINT_URL=http://127.0.0.1:9000 lowbit store stats --store s3://models/prod --json
`;

export const HUB_HELP = `Usage:
  lowbit hub serve [--port N] [--host H] [--data DIR] [--store s3://bucket/prefix] [--max-upload-bytes N]
  lowbit hub token create NAME [--read|--write] [--data DIR] [--json]
  lowbit hub token list [--data DIR] [--json]
  lowbit hub token revoke ID|NAME [--data DIR]
  lowbit hub push DIR REPO [--endpoint URL] [--token T] [--branch B] [--message M] [--private] [--json]
  lowbit hub pull REPO DIR [--revision REV] [--endpoint URL] [--token T] [--format NAME] [--json]

The model hub: a Hugging Face Hub compatible HTTP server storing models deduplicated and
delta-compressed, serving quantized variants on the fly (?format=nf4, ...). It is the @lowbit/hub app
of the lowbit repository (apps/hub), not part of the published package: run it from a clone
(npm install && npm start). There, 'lowbit hub <command> --help' shows each command's options.
`;
