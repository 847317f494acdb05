import type { Suite } from "../harness.js";
import { embedSuite } from "./embed.js";
import { floats } from "./floats.js";
import { hubSuite } from "./hub.js";
import { quality } from "./quality.js";
import { storeSuite } from "./store.js";
import { vqSuite } from "./vq.js";
import { vqGlove8Suite, vqGlove16Suite } from "./vq-glove.js";

/** Every suite `npm run bench` runs, in order. A new suite: write src/suites/<name>.ts, add it here. */
export const suites: readonly Suite[] = [floats];

/** Suites that compute their own results (quality, not timing); run after the timed suites. */
export const customSuites = [
  quality,
  vqSuite,
  vqGlove8Suite,
  vqGlove16Suite,
  embedSuite,
  storeSuite,
  hubSuite,
] as const;
