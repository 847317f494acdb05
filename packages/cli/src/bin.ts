#!/usr/bin/env node
import { main } from "./main.js";

// The first Ctrl-C aborts between chunks so the temporary output is removed; `once` lets a second one
// kill the process outright.
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
// `lowbit formats | head` closes stdout early; that is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2), { signal: controller.signal });
