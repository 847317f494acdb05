import type { Suite } from "../harness.js";
import { floats } from "./floats.js";

/** Every suite `npm run bench` runs, in order. A new suite: write src/suites/<name>.ts, add it here. */
export const suites: readonly Suite[] = [floats];
