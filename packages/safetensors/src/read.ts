import { assertUint8Array, type TensorPart } from "@lowbit/bits";
import { tensorOfBytes } from "./_tensor.js";
import {
  assertLittleEndian,
  parseHeader,
  resolveLimits,
  type SafetensorsHeader,
  type SafetensorsLimits,
} from "./header.js";

/** A whole safetensors file in memory. */
export interface SafetensorsFile {
  /** `__metadata__`; empty when the file has none. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor in file order. `data` views `bytes` where aligned, else it is a copy. */
  readonly tensors: ReadonlyMap<string, TensorPart>;
  /** The validated header; pass it as `encodeSafetensors(…, { like })` to write the file back unchanged. */
  readonly header: SafetensorsHeader;
}

/**
 * Reads a safetensors file held in memory (browser `fetch` → `arrayBuffer`, Node `readFile`). The
 * header is validated as `parseHeader` describes before any tensor is touched; tensors whose bytes are
 * aligned to their element size are zero-copy views of `bytes`, the others are copied.
 */
export function readSafetensors(bytes: Uint8Array, limits?: SafetensorsLimits): SafetensorsFile {
  assertUint8Array(bytes, "bytes");
  assertLittleEndian();
  // The whole file is here: a `fileSize` meant for parseHeader does not apply.
  const header = parseHeader(
    bytes,
    limits === undefined ? undefined : { ...resolveLimits(limits), fileSize: bytes.length },
  );
  const tensors = new Map<string, TensorPart>();
  const base = header.dataStart;
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    tensors.set(name, tensorOfBytes(info, bytes.subarray(base + begin, base + end)));
  }
  return Object.freeze({ metadata: header.metadata, tensors, header });
}
