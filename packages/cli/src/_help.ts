export const MAIN_HELP = `lowbit: low-bit number formats from the command line

Usage:
  lowbit formats [--json]
  lowbit convert --to <format> [options] IN OUT
  lowbit help [command]
  lowbit --version

Commands:
  formats   list the element formats (codecs) lowbit knows
  convert   convert a raw little-endian file between float32 and a low-bit format

Exit codes: 0 success, 1 error, 2 usage error, 130 interrupted.
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
