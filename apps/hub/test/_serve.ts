// A hub in a child process, for tests that kill it: prints its URL as one line, then serves.
import { startHub } from "../src/server.js";

const hub = await startHub({
  dataDir: process.env["LOWBIT_HUB_DATA"] ?? "",
  port: 0,
  token: process.env["LOWBIT_HUB_TOKEN"],
  log: false,
});
process.stdout.write(`${hub.url}\n`);
process.on("SIGTERM", () => {
  void hub.close().then(() => process.exit(0));
});
