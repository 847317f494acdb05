/**
 * A throwaway PostgreSQL server for tests: initdb into a temp folder, start on a free loopback port,
 * create a database, and remove it all on stop(). Uses the Debian binaries (/usr/lib/postgresql/N/bin,
 * installed by tools/ensure-postgres.sh). As root the server runs as the `postgres` OS user, since
 * PostgreSQL refuses to run as root.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const PG_ROOT = "/usr/lib/postgresql";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/lowbit_test (trust authentication). */
  readonly url: string;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin folder, or undefined. */
function binDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? undefined : join(PG_ROOT, versions[0]!, "bin");
}

/** uid and gid of the `postgres` OS user, when we are root (else undefined: run as ourselves). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (line === undefined) return undefined;
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Why the PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (binDir() === undefined) {
    return `no PostgreSQL binaries under ${PG_ROOT}/*/bin (run tools/ensure-postgres.sh)`;
  }
  if (process.getuid?.() === 0 && runAs() === undefined) {
    return "running as root without a postgres OS user to run the server as";
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

async function waitForServer(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited during startup: ${log()}`);
    }
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline)
        throw new Error(`postgres did not accept connections: ${String(error)} ${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts a fresh server (about a second or two); stop() shuts it down and deletes its files. */
export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  const unavailable = postgresUnavailable();
  if (bin === undefined || unavailable !== undefined) throw new Error(unavailable);
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), "lowbit-pg-"));
  // The server's user must own its folder (mkdtemp makes it 0700 for us).
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const asUser = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  let child: ChildProcess | undefined;
  try {
    await promisify(execFile)(
      join(bin, "initdb"),
      ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
      { ...asUser, cwd: dir },
    );
    const port = await freePort();
    // Durability off: a test server's data is thrown away anyway.
    const args = ["-D", data, "-k", dir, "-h", "127.0.0.1", "-p", String(port)];
    for (const setting of ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]) {
      args.push("-c", setting);
    }
    const started = spawn(join(bin, "postgres"), args, {
      ...asUser,
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = started;
    let log = "";
    started.stderr?.setEncoding("utf8");
    started.stderr?.on("data", (d: string) => {
      log = (log + d).slice(-4000);
    });
    const base = `postgres://postgres@127.0.0.1:${port}`;
    await waitForServer(`${base}/postgres`, started, () => log);
    const admin = new Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    // A linguistic default collation, as production databases usually have: the store must not
    // depend on the server's default for its byte-order listings. ICU where built in, else libc's.
    try {
      await admin.query(
        "CREATE DATABASE lowbit_test TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
      );
    } catch {
      await admin.query("CREATE DATABASE lowbit_test");
    }
    await admin.end();
    return {
      url: `${base}/lowbit_test`,
      stop: async () => {
        await stopServer(started);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (child !== undefined) await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** SIGINT: PostgreSQL's fast shutdown (sessions are ended, no wait for clients). */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
