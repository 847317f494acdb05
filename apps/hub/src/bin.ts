#!/usr/bin/env node
import { hubMain } from "./cli.js";

// push and pull: the first Ctrl-C aborts between chunks so no temporary file is left; `once` lets a
// second one kill the process outright. serve watches SIGINT and SIGTERM itself (graceful, then at once).
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
// `lowbit-hub token list | head` closes stdout early; that is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
const code = await hubMain(process.argv.slice(2), { signal: controller.signal });
process.exitCode = code;
// Normally nothing is left and the process ends now; should a stray handle (a worker, a socket) stay
// open after the server has stopped, end anyway rather than hang a supervisor.
setTimeout(() => process.exit(code), 2000).unref();
