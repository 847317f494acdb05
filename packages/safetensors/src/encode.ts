import { type EncodeOptions, planLayout, type TensorsInput } from "./_layout.js";

export type { EncodeOptions, TensorsInput };

/**
 * Encodes tensors (and optional `__metadata__`, string → string) as a safetensors file. The output is
 * deterministic and matches the reference writer's layout: tensors sorted by dtype alignment (widest
 * first) then by name, each starting at a multiple of its element size, compact JSON header with
 * `__metadata__` first (keys sorted, omitted when empty), padded with spaces to a multiple of 8.
 * With `options.like` (the header of a file that was read) an unchanged set of tensors is written with
 * the original header bytes and order, so read → encode is byte-identical.
 * Bad tensors throw TypeError (wrong dtype string or array type) or RangeError (length ≠ shape).
 */
export function encodeSafetensors(
  tensors: TensorsInput,
  metadata?: Readonly<Record<string, string>>,
  options?: EncodeOptions,
): Uint8Array {
  const { head, chunks, dataLength } = planLayout(tensors, metadata, options);
  const out = new Uint8Array(head.length + dataLength);
  out.set(head, 0);
  let offset = head.length;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
