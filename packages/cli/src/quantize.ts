import { stat } from "node:fs/promises";
import {
  assertInteger,
  assertOneOf,
  describe,
  type PartDtype,
  type QuantizedTensor,
  type Quantizer,
  type TensorPart,
  throwIfAborted,
} from "@lowbit/bits";
import { getQuantizer, quantize } from "@lowbit/formats";
import { toFloat32 } from "@lowbit/safetensors";
import { writeModel } from "@lowbit/safetensors/node";
import { openInput } from "./_model.js";
import { formatShape, quote, withContext } from "./_text.js";

/** dtypes `quantizeFile` quantizes; every other dtype (integers, BOOL, float8 codes) is kept. */
export const FLOAT_DTYPES: readonly PartDtype[] = ["F64", "F32", "F16", "BF16"];

/**
 * Smallest tensor quantized by default. Smaller tensors save next to nothing, and their per-channel or
 * per-group scales can cost more than the bits they save.
 */
export const DEFAULT_MIN_ELEMENTS = 1024;

export const ON_ERROR = ["fail", "skip"] as const;
/** A quantizer error on one tensor: stop (`fail`, nothing written) or keep that tensor as it is (`skip`). */
export type OnError = (typeof ON_ERROR)[number];

/** Progress of a whole-file command: tensors processed, then bytes written. */
export interface FileProgress {
  readonly stage: "tensors" | "write";
  readonly done: number;
  readonly total: number;
  /** Stage "tensors": the tensor just processed, or (with `tensorDone`) the one being quantized. */
  readonly tensor?: string;
  /** Stage "tensors", while a tensor is being quantized: the quantizer's own progress units. */
  readonly tensorDone?: number;
  readonly tensorTotal?: number;
  /**
   * Stage "tensors": the fraction (0–1) of the whole job done, counting each tensor to quantize by
   * its elements and the current one by its quantizer's progress; for bars and ETAs.
   */
  readonly fraction?: number;
}

export interface QuantizeFileOptions {
  /** A safetensors file (plain, or a lowbit model whose quantized tensors are kept as they are). */
  readonly input: string;
  /** Written atomically with `writeModel`; left untouched on any error. May equal `input`. */
  readonly output: string;
  /** A registered quantizer name (`listQuantizers()` of @lowbit/formats). */
  readonly format: string;
  /** The quantizer's options, passed through; keys must be among its `defaults`. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Tensors whose name matches one of these (`RegExp.test`) are kept as they are. */
  readonly skip?: readonly RegExp[];
  /** Only tensors of at least this many elements are quantized (default 1024). */
  readonly minElements?: number;
  /** Default `"fail"`. */
  readonly onError?: OnError;
  /**
   * With `onError: "skip"`: called once for each tensor left unquantized by an error, in file order;
   * held back until some tensor has been quantized.
   */
  readonly onWarning?: (message: string) => void;
  readonly onProgress?: (progress: FileProgress) => void;
  /** Checked between tensors, passed to the quantizer and the writer; an abort leaves `output` untouched. */
  readonly signal?: AbortSignal;
  /**
   * Runtime-only options merged into every quantize call after `options` were checked, and never
   * recorded in the file (e.g. the vq family's k-means worker `pool`).
   */
  readonly runtime?: Readonly<Record<string, unknown>>;
}

/** Why a tensor was (not) quantized. */
export type TensorAction =
  /** Quantized with the requested format. */
  | "quantized"
  /** Already a lowbit quantized tensor in the input: kept with its own format. */
  | "kept-quantized"
  /** Not F64/F32/F16/BF16. */
  | "not-float"
  /** Fewer than 2 dimensions or fewer than `minElements` elements. */
  | "small"
  /** Its name matches a `skip` pattern. */
  | "skipped"
  /** The quantizer threw (only with `onError: "skip"`). */
  | "failed";

export interface QuantizedTensorReport {
  readonly name: string;
  readonly action: TensorAction;
  /** dtype in the input, or the format of an already quantized tensor. */
  readonly type: string;
  readonly shape: readonly number[];
  readonly elements: number;
  /** Bytes in the output: the tensor, or all its parts. */
  readonly bytes: number;
  /** Action "failed": the quantizer's message. */
  readonly error?: string;
}

export interface QuantizeResult {
  readonly input: string;
  readonly output: string;
  readonly format: string;
  readonly tensors: readonly QuantizedTensorReport[];
  /** Tensors quantized now, and their elements and bits per weight (parts counted). */
  readonly quantized: { readonly tensors: number; readonly elements: number; readonly bitsPerWeight: number };
  /** Every tensor: elements, and output data bits per element. */
  readonly total: { readonly tensors: number; readonly elements: number; readonly bitsPerWeight: number };
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** bytesOut / bytesIn: file sizes, headers included. */
  readonly ratio: number;
  readonly seconds: number;
}

/**
 * Checks a format and its options before any file is read, and returns the quantizer: an unknown
 * format or option key, or a `format` key among the options, throws RangeError listing what is known.
 * The quantizer then quantizes a 1×1 tensor, so options of the wrong type (a TypeError by the
 * `Quantizer` contract) fail here too; anything else it throws on that tiny shape is ignored, since a
 * real tensor may well be fine (a group size that does not divide 1, say).
 */
export function checkQuantizeOptions(
  format: string,
  options: Readonly<Record<string, unknown>> = {},
): Quantizer {
  const q = getQuantizer(format);
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (key === "format") throw new RangeError(`option "format" cannot be set; the format is ${format}`);
    if (!Object.hasOwn(q.defaults, key)) {
      throw new RangeError(`unknown option ${JSON.stringify(key)} for ${format}; ${optionsOf(q)}`);
    }
  }
  try {
    q.quantize(new Float32Array([1]), [1, 1], options);
  } catch (e) {
    if (e instanceof TypeError) throw withContext(e, `${format} options`);
  }
  return q;
}

/** "its options: a, b" or "it takes no options", for messages. */
export function optionsOf(q: Quantizer): string {
  const keys = Object.keys(q.defaults);
  return keys.length === 0 ? "it takes no options" : `its options: ${keys.join(", ")}`;
}

function assertQuantizeOptions(o: QuantizeFileOptions): void {
  if (typeof o !== "object" || o === null)
    throw new TypeError(`options must be an object, got ${describe(o)}`);
  for (const key of ["input", "output", "format"] as const) {
    if (typeof o[key] !== "string" || o[key] === "") {
      throw new TypeError(`options.${key} must be a non-empty string, got ${describe(o[key])}`);
    }
  }
  if (o.skip !== undefined && (!Array.isArray(o.skip) || !o.skip.every((r) => r instanceof RegExp))) {
    throw new TypeError(`options.skip must be an array of RegExp, got ${describe(o.skip)}`);
  }
  if (o.minElements !== undefined)
    assertInteger(o.minElements, "options.minElements", 0, Number.MAX_SAFE_INTEGER);
  if (o.onError !== undefined) assertOneOf(o.onError, ON_ERROR, "options.onError");
  for (const key of ["onWarning", "onProgress"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "function") {
      throw new TypeError(`options.${key} must be a function, got ${describe(o[key])}`);
    }
  }
}

function partsBytes(qt: QuantizedTensor): number {
  let n = 0;
  for (const p of Object.values(qt.parts)) n += p.data.byteLength;
  return n;
}

/** Regexes with the g or y flag remember lastIndex between `test` calls; match from the start each time. */
function matchesAny(patterns: readonly RegExp[], name: string): boolean {
  return patterns.some((r) => {
    r.lastIndex = 0;
    return r.test(name);
  });
}

/**
 * Quantizes every floating tensor (F64, F32, F16, BF16) of a safetensors file that has at least two
 * dimensions and at least `minElements` elements and whose name matches no `skip` pattern, with the
 * quantizer `format` of the @lowbit/formats registry and `options` passed through. Every other tensor,
 * and any quantized tensor already in the input, is written unchanged. Input tensors are read one at a
 * time through a file handle; the output (a lowbit model, SPEC §4) is written by `writeModel`:
 * atomically, keeping the input's metadata. A quantizer error names the tensor; with `onError: "skip"`
 * the tensor is kept as it was and `onWarning` told (once some tensor has been quantized; if none
 * could be, the first error is thrown instead and nothing is written).
 */
export async function quantizeFile(options: QuantizeFileOptions): Promise<QuantizeResult> {
  assertQuantizeOptions(options);
  const { input, output, format, signal, onProgress } = options;
  const quantizerOptions = options.options ?? {};
  checkQuantizeOptions(format, quantizerOptions);
  const skip = options.skip ?? [];
  const minElements = options.minElements ?? DEFAULT_MIN_ELEMENTS;
  const onError = options.onError ?? "fail";
  const started = performance.now();
  throwIfAborted(signal);

  const entries = new Map<string, TensorPart | QuantizedTensor>();
  const reports: QuantizedTensorReport[] = [];
  // Warnings wait for the first tensor that quantizes: when none does (a bad option value, most
  // likely), one error is clearer than a warning per tensor.
  let firstFailure: unknown;
  let failures = 0;
  let pending: string[] | null = [];
  const warn = (message: string) => {
    if (pending === null) options.onWarning?.(message);
    else pending.push(message);
  };
  const reader = await openInput(input);
  const metadata = reader.metadata;
  // The header was validated against the file's size when it was opened; `input` may equal `output`.
  const bytesIn = reader.file.header.dataStart + reader.file.header.dataLength;
  try {
    const names = reader.names();
    // Work estimate for progress: the elements of every tensor that will be quantized (+1 per tensor).
    const weightOf = (name: string): number => {
      const info = reader.info(name);
      const elements = info.shape.reduce((a, b) => a * b, 1);
      const quantized =
        info.kind !== "quantized" &&
        FLOAT_DTYPES.includes(info.dtype) &&
        info.shape.length >= 2 &&
        elements >= minElements &&
        !matchesAny(skip, name);
      return 1 + (quantized ? elements : 0);
    };
    const weights = names.map(weightOf);
    const totalWork = weights.reduce((a, b) => a + b, 0);
    let workDone = 0;
    for (const [index, name] of names.entries()) {
      throwIfAborted(signal);
      const info = reader.info(name);
      const elements = info.shape.reduce((a, b) => a * b, 1);
      const base = { name, shape: info.shape, elements };
      if (info.kind === "quantized") {
        const qt = (await reader.read(name)) as QuantizedTensor;
        entries.set(name, qt);
        reports.push({ ...base, action: "kept-quantized", type: info.format, bytes: partsBytes(qt) });
      } else {
        const part = (await reader.read(name)) as TensorPart;
        let action: TensorAction = "quantized";
        if (!FLOAT_DTYPES.includes(info.dtype)) action = "not-float";
        else if (info.shape.length < 2 || elements < minElements) action = "small";
        else if (matchesAny(skip, name)) action = "skipped";
        let qt: QuantizedTensor | null = null;
        let error: string | undefined;
        if (action === "quantized") {
          try {
            qt = quantize(
              toFloat32(part),
              info.shape,
              { ...quantizerOptions, ...options.runtime, format },
              {
                ...(signal ? { signal } : {}),
                ...(onProgress !== undefined
                  ? {
                      onProgress: (done: number, total: number) => {
                        const within = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
                        onProgress({
                          stage: "tensors",
                          done: index,
                          total: names.length,
                          tensor: name,
                          tensorDone: done,
                          tensorTotal: total,
                          fraction: (workDone + within * weights[index]!) / totalWork,
                        });
                      },
                    }
                  : {}),
              },
            );
          } catch (e) {
            if (signal?.aborted) throw e;
            const where = `tensor ${quote(name)} ${formatShape(info.shape)} ${info.dtype}`;
            // A TypeError is an option of the wrong type (the Quantizer contract): never one tensor's problem.
            withContext(e, where);
            if (onError === "fail" || e instanceof TypeError) throw e;
            firstFailure ??= e;
            failures++;
            action = "failed";
            error = e instanceof Error ? e.message : String(e);
            warn(`${error}; kept as ${info.dtype}`);
          }
        }
        if (qt !== null) {
          if (pending !== null) {
            const held = pending;
            pending = null;
            for (const m of held) warn(m);
          }
          entries.set(name, qt);
          reports.push({ ...base, action, type: info.dtype, bytes: partsBytes(qt) });
        } else {
          entries.set(name, part);
          reports.push({
            ...base,
            action,
            type: info.dtype,
            bytes: part.data.byteLength,
            ...(error !== undefined ? { error } : {}),
          });
        }
      }
      workDone += weights[index]!;
      onProgress?.({
        stage: "tensors",
        done: index + 1,
        total: names.length,
        tensor: name,
        fraction: workDone / totalWork,
      });
    }
  } finally {
    await reader.close();
  }
  const quantizedNow = reports.filter((r) => r.action === "quantized");
  if (quantizedNow.length === 0 && firstFailure !== undefined) {
    throw withContext(firstFailure, `no tensor could be quantized (${failures} failed); the first`);
  }

  await writeModel(output, entries, metadata, {
    ...(signal !== undefined ? { signal } : {}),
    ...(onProgress !== undefined
      ? { onProgress: (done: number, total: number) => onProgress({ stage: "write", done, total }) }
      : {}),
  });
  const bytesOut = (await stat(output)).size;
  const sum = (list: readonly QuantizedTensorReport[], key: "elements" | "bytes") =>
    list.reduce((a, r) => a + r[key], 0);
  const bits = (list: readonly QuantizedTensorReport[]) => {
    const n = sum(list, "elements");
    return n === 0 ? 0 : (sum(list, "bytes") * 8) / n;
  };
  return {
    input,
    output,
    format,
    tensors: reports,
    quantized: {
      tensors: quantizedNow.length,
      elements: sum(quantizedNow, "elements"),
      bitsPerWeight: bits(quantizedNow),
    },
    total: { tensors: reports.length, elements: sum(reports, "elements"), bitsPerWeight: bits(reports) },
    bytesIn,
    bytesOut,
    ratio: bytesIn === 0 ? 0 : bytesOut / bytesIn,
    seconds: (performance.now() - started) / 1000,
  };
}

const KEPT_LABELS = [
  ["small", "small"],
  ["not-float", "not float"],
  ["skipped", "--skip"],
  ["kept-quantized", "already quantized"],
  ["failed", "failed"],
] as const;

/** One line: what was quantized, its bits per weight, what was kept and why, and the size ratio. */
export function quantizeSummary(r: QuantizeResult): string {
  const kept = KEPT_LABELS.map(
    ([action, label]) => [label, r.tensors.filter((t) => t.action === action).length] as const,
  )
    .filter(([, n]) => n > 0)
    .map(([label, n]) => `${n} ${label}`);
  return (
    `${r.format}: quantized ${r.quantized.tensors} of ${r.total.tensors} tensors ` +
    `(${r.quantized.elements} of ${r.total.elements} weights) at ${r.quantized.bitsPerWeight.toFixed(2)} bits/weight` +
    `${kept.length > 0 ? `; kept ${kept.join(", ")}` : ""}; ` +
    `${r.bytesIn} -> ${r.bytesOut} bytes (${r.ratio.toFixed(3)}x), ` +
    `${r.total.bitsPerWeight.toFixed(2)} bits/element overall; ${r.seconds.toFixed(2)} s`
  );
}
