/**
 * Suite "floats": encode and decode throughput of every element codec of the registry on 16M float32
 * values, against a plain JS Float32Array copy loop (the memory-speed yardstick) and, for float16,
 * against the npm peer @petamoriken/float16.
 */
import { createRng } from "@lowbit/bits";
import { listCodecs } from "@lowbit/formats";
import type { CodeArray, FloatCodec } from "@lowbit/minifloat";
import { Float16Array } from "@petamoriken/float16";
import { type BenchCase, type Suite, sizeLabel } from "../harness.js";

/** Elements per call of the codec and copy-loop cases. */
export const N = 16 * 1024 * 1024;
/** Elements per call of the @petamoriken/float16 cases (its paths are ~100x slower). */
export const PEER_N = 1024 * 1024;
const SEED = 0x10b17;

/** Targets (ratios) from the issue. */
export const TARGETS = { decodeVsCopy: 0.8, encodeVsCopy: 0.3, fp16EncodeVsPeer: 3, fp16DecodeVsPeer: 30 };

const S = sizeLabel(N);
const PS = sizeLabel(PEER_N);
export const COPY_START = `copy/f32-loop-start/${S}`;
export const COPY_END = `copy/f32-loop-end/${S}`;
export const PEER_ENCODE_CTOR = `petamoriken-float16/encode-ctor/${PS}`;
export const PEER_ENCODE_SET = `petamoriken-float16/encode-set/${PS}`;
export const PEER_DECODE = `petamoriken-float16/decode/${PS}`;
export const encodeCase = (codec: string): string => `${codec}/encode/${S}`;
export const decodeCase = (codec: string): string => `${codec}/decode/${S}`;
export const encodeVsPeerCase = (codec: string): string => `${codec}/encode-vs-petamoriken/${S}`;
export const decodeVsPeerCase = (codec: string): string => `${codec}/decode-vs-petamoriken/${S}`;
export const COPY_PEER_NAME = "f32 copy loop (mean of start, end)";

/** The yardstick: a plain element-by-element copy between two Float32Arrays. */
export function copyLoop(src: Float32Array, dst: Float32Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) dst[i] = src[i];
}

/** Standard normal float32 values from the seeded xoshiro128** stream (Box–Muller). */
export function normals(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng.nextFloat(); // (0, 1]: log is finite
    const u2 = rng.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

// Buffers shared by all cases, allocated on first use and kept for the suite (about 300 MB).
let base: Float32Array | null = null;
let scaled: Float32Array | null = null;
let out: Float32Array | null = null;
let codes8: Uint8Array | null = null;
let codes16: Uint16Array | null = null;
let scaledFor: string | null = null;
let encodedFor: string | null = null;

const baseData = (): Float32Array => {
  base ??= normals(N, SEED);
  return base;
};
const outBuf = (): Float32Array => {
  out ??= new Float32Array(N);
  return out;
};
const scaledBuf = (): Float32Array => {
  scaled ??= new Float32Array(N);
  return scaled;
};
const codesFor = (codec: FloatCodec): CodeArray => {
  if (codec.bits <= 8) {
    codes8 ??= new Uint8Array(N);
    return codes8;
  }
  codes16 ??= new Uint16Array(N);
  return codes16;
};

/** Fills `scaled` with the data scaled into the codec's range: σ = maxFinite / 8 (|x| if unsigned). */
function prepareInput(codec: FloatCodec): Float32Array {
  const dst = scaledBuf();
  if (scaledFor === codec.name) return dst;
  const src = baseData();
  const k = codec.maxFinite / 8;
  if (codec.signed) for (let i = 0; i < N; i++) dst[i] = src[i]! * k;
  else for (let i = 0; i < N; i++) dst[i] = Math.abs(src[i]!) * k;
  scaledFor = codec.name;
  encodedFor = null;
  return dst;
}

/** Codes of the scaled data: the decode input. */
function prepareCodes(codec: FloatCodec): CodeArray {
  const codes = codesFor(codec);
  if (encodedFor === codec.name) return codes;
  codec.encodeInto(prepareInput(codec), codes);
  encodedFor = codec.name;
  return codes;
}

let sink: unknown = null;

function cases(): BenchCase[] {
  const copyPeer = { cases: [COPY_START, COPY_END], combine: "mean", name: COPY_PEER_NAME } as const;
  let copySrc: Float32Array | null = null;
  const copyCase = (name: string): BenchCase => ({
    name,
    label: "f32 copy loop",
    elements: N,
    setup: () => {
      copySrc = baseData();
      outBuf();
    },
    fn: () => copyLoop(copySrc!, out!),
  });

  const list: BenchCase[] = [copyCase(COPY_START)];
  for (const { name, codec } of listCodecs()) {
    let src: Float32Array | null = null;
    let codes: CodeArray | null = null;
    list.push({
      name: encodeCase(name),
      elements: N,
      setup: () => {
        src = prepareInput(codec);
        codes = codesFor(codec);
      },
      fn: () => codec.encodeInto(src!, codes!),
      peer: copyPeer,
      target: TARGETS.encodeVsCopy,
    });
    list.push({
      name: decodeCase(name),
      elements: N,
      setup: () => {
        codes = prepareCodes(codec);
        outBuf();
      },
      fn: () => codec.decodeInto(codes!, out!),
      peer: copyPeer,
      target: TARGETS.decodeVsCopy,
    });
  }

  // @petamoriken/float16 on the first PEER_N values of the float16-scaled data.
  const f16 = listCodecs().find((c) => c.name === "float16")!.codec;
  let peerSrc: Float32Array | null = null;
  let peerArr: Float16Array | null = null;
  let peerOut: Float32Array | null = null;
  const preparePeer = (): void => {
    const data = prepareInput(f16).slice(0, PEER_N);
    peerSrc = data;
    peerArr = new Float16Array(data);
    peerOut = new Float32Array(PEER_N);
    // Same job: the peer's float16 bits must equal ours.
    const ours = f16.encode(data) as Uint16Array;
    const theirs = new Uint16Array(peerArr.buffer, peerArr.byteOffset, PEER_N);
    for (let i = 0; i < PEER_N; i++) {
      if (ours[i] !== theirs[i]) throw new Error(`float16 code mismatch with @petamoriken/float16 at ${i}`);
    }
  };
  list.push(
    {
      name: PEER_ENCODE_CTOR,
      label: "@petamoriken/float16 new Float16Array(f32)",
      elements: PEER_N,
      setup: preparePeer,
      fn: () => {
        sink = new Float16Array(peerSrc!);
      },
    },
    {
      name: PEER_ENCODE_SET,
      label: "@petamoriken/float16 f16.set(f32)",
      elements: PEER_N,
      setup: preparePeer,
      fn: () => peerArr!.set(peerSrc!),
    },
    {
      name: PEER_DECODE,
      label: "@petamoriken/float16 f32[i] = f16[i]",
      elements: PEER_N,
      setup: preparePeer,
      fn: () => {
        const a = peerArr!;
        const o = peerOut!;
        const n = o.length;
        for (let i = 0; i < n; i++) o[i] = a[i]!;
      },
    },
    {
      name: encodeVsPeerCase("float16"),
      same: encodeCase("float16"),
      peer: { cases: [PEER_ENCODE_CTOR, PEER_ENCODE_SET], combine: "max" },
      target: TARGETS.fp16EncodeVsPeer,
    },
    {
      name: decodeVsPeerCase("float16"),
      same: decodeCase("float16"),
      peer: { cases: [PEER_DECODE] },
      target: TARGETS.fp16DecodeVsPeer,
    },
    copyCase(COPY_END),
  );
  return list;
}

export const floats: Suite = { name: "floats", cases };

/** Keeps the last peer allocation reachable so the constructor call is not optimised away. */
export const lastSink = (): unknown => sink;
