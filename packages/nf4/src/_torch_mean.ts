/**
 * `torch.Tensor.mean()` of a 1-D float32 CPU tensor, bit for bit: bitsandbytes' double quantization
 * centres the block absmax vector on `absmax.mean()`, and the float32 offset it gets feeds every
 * nested 8-bit code, so a plain left-to-right sum is not good enough.
 *
 * torch computes `sum(x) / n` with the cascade sum of `aten/src/ATen/native/cpu/SumKernel.cpp`: for
 * n ≥ 8 the row is read as 8-lane float vectors (the `Vectorized<float>` width that the reference
 * vectors show: 256-bit lanes), summed four vectors abreast (`row_sum`, ilp 4) into a 4-level cascade
 * of accumulators (`multi_row_sum`), then the scalar tail and the 8 lanes are added left to right;
 * below 8 elements the same `row_sum` runs on scalars. Every addition is a float32 addition.
 *
 * Limits, both documented in the README: torch splits reductions of ≥ 32768 elements across threads
 * (`parallel_reduce`, thread-count dependent), and other CPU builds use other vector widths; there the
 * reference offset can differ from this one by a few ulps. Reading a checkpoint is unaffected (the
 * offset is stored); only re-quantizing a very large tensor may not reproduce a given file bit for bit.
 */

const LANES = 8;
const ILP = 4;
const LEVELS = 4;

/** c10 `CeilLog2`: 1 for x ≤ 2, else ⌈log2 x⌉. */
function ceilLog2(x: number): number {
  return x <= 2 ? 1 : 32 - Math.clz32(x - 1);
}

/**
 * torch `row_sum` over `count` elements of `width` float32 lanes each (element e is
 * x[e·width … e·width + width)); the lane sums are left in `out[0 … width)`.
 */
function rowSum(x: Float32Array, count: number, width: number, out: Float64Array): void {
  const fr = Math.fround;
  const rows = Math.floor(count / ILP);
  const levelPower = Math.max(4, Math.floor(ceilLog2(rows) / LEVELS));
  const step = 2 ** levelPower;
  const mask = step - 1;
  const rowWidth = ILP * width; // one multi_row_sum row: ILP elements of `width` lanes
  // acc[level][k][lane] at (level·ILP + k)·width + lane = level·rowWidth + t, t = k·width + lane
  const acc = new Float64Array(LEVELS * rowWidth);
  let i = 0;
  while (i + step <= rows) {
    for (let j = 0; j < step; j++, i++) {
      const base = i * rowWidth;
      for (let t = 0; t < rowWidth; t++) acc[t] = fr(acc[t]! + x[base + t]!);
    }
    for (let j = 1; j < LEVELS; j++) {
      const hi = j * rowWidth;
      const lo = hi - rowWidth;
      for (let t = 0; t < rowWidth; t++) {
        acc[hi + t] = fr(acc[hi + t]! + acc[lo + t]!);
        acc[lo + t] = 0;
      }
      if ((i & (mask << (j * levelPower))) !== 0) break;
    }
  }
  for (; i < rows; i++) {
    const base = i * rowWidth;
    for (let t = 0; t < rowWidth; t++) acc[t] = fr(acc[t]! + x[base + t]!);
  }
  for (let j = 1; j < LEVELS; j++) {
    const hi = j * rowWidth;
    for (let t = 0; t < rowWidth; t++) acc[t] = fr(acc[t]! + acc[hi + t]!);
  }
  // row_sum: the elements left over after the ILP rows go into partial sum 0, then 1..3 join it.
  for (let e = rows * ILP; e < count; e++) {
    for (let l = 0; l < width; l++) acc[l] = fr(acc[l]! + x[e * width + l]!);
  }
  for (let k = 1; k < ILP; k++) {
    for (let l = 0; l < width; l++) acc[l] = fr(acc[l]! + acc[k * width + l]!);
  }
  for (let l = 0; l < width; l++) out[l] = acc[l]!;
}

/** float32 `torch.sum` of a contiguous 1-D CPU tensor (single-threaded reduction). */
export function torchSumF32(x: Float32Array): number {
  const fr = Math.fround;
  const n = x.length;
  if (n >= LANES) {
    const vectors = Math.floor(n / LANES);
    const lanes = new Float64Array(LANES);
    rowSum(x, vectors, LANES, lanes);
    let acc = 0;
    for (let k = vectors * LANES; k < n; k++) acc = fr(acc + x[k]!);
    for (let l = 0; l < LANES; l++) acc = fr(acc + lanes[l]!);
    return fr(0 + acc); // the output starts at 0 and accumulates (so −0 becomes +0)
  }
  const one = new Float64Array(1);
  rowSum(x, n, 1, one);
  return fr(0 + one[0]!);
}

/** float32 `torch.mean` of a contiguous 1-D CPU tensor: the cascade sum divided by n (NaN for n = 0). */
export function torchMeanF32(x: Float32Array): number {
  return Math.fround(torchSumF32(x) / x.length);
}
