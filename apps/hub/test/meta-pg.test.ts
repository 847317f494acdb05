/**
 * PgMeta against a real PostgreSQL server started for this file: the MetaStore conformance suite,
 * then what only a shared database has — several hub instances (each its own pool) at once.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_META_SCHEMA_VERSION, PgMeta } from "../src/meta-pg.js";
import type { Commit } from "../src/types.js";
import { metaConformance, newCommit, regular, sha256, thrown } from "./_meta-conformance.js";
import { type Postgres, postgresUnavailable, startPostgres } from "./_postgres.js";

const unavailable = postgresUnavailable();
if (unavailable !== undefined) console.log(`meta-pg.test.ts skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)("PgMeta on a real PostgreSQL", () => {
  let pg: Postgres | undefined;
  let schemas = 0;
  /** Each test gets its own schema of the one database: isolated, and no server restart. */
  const nextSchema = () => `t${schemas++}`;
  const url = () => {
    if (pg === undefined) throw new Error("PostgreSQL did not start");
    return pg.url;
  };

  /** SQL on the side, as an operator (or another program) would run it. */
  async function sql(text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    const client = new Client({ connectionString: url() });
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    const t = performance.now();
    pg = await startPostgres();
    console.log(`PostgreSQL started in ${(performance.now() - t).toFixed(0)} ms`);
  });
  afterAll(async () => {
    await pg?.stop();
  });

  metaConformance(
    "PgMeta",
    () => PgMeta.open(url(), { schema: nextSchema() }),
    () => {},
  );

  describe("one database, several instances", () => {
    it("creates its tables in the schema, once, with a version row; reopening keeps the data", async () => {
      const schema = nextSchema();
      const meta = await PgMeta.open(url(), { schema });
      await meta.createRepo("m", { private: true, author: "alice" });
      const c = await meta.commit(newCommit("m", { put: [regular("a")] }));
      await meta.close();
      const tables = await sql("SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", [
        schema,
      ]);
      expect(tables.map((r) => r["tablename"])).toEqual([
        "lowbit_hub_commits",
        "lowbit_hub_files",
        "lowbit_hub_meta",
        "lowbit_hub_refs",
        "lowbit_hub_repos",
        "lowbit_hub_tokens",
      ]);
      expect(await sql(`SELECT key, value FROM ${schema}.lowbit_hub_meta`)).toEqual([
        { key: "schema_version", value: String(PG_META_SCHEMA_VERSION) },
      ]);
      const again = await PgMeta.open(url(), { schema });
      expect(await again.getRepo("m")).toMatchObject({ id: "m", private: true });
      expect(await again.getCommit("m", c.oid)).toEqual(c);
      expect(await again.tree(c.oid)).toEqual([regular("a")]);
      await again.close();
      // Nothing in "public": the default schema is only used when asked for.
      expect(await sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    });

    it("refuses a newer schema version and foreign lowbit_hub_ tables without touching them", async () => {
      const schema = nextSchema();
      await (await PgMeta.open(url(), { schema })).close();
      await sql(`UPDATE ${schema}.lowbit_hub_meta SET value = $1`, [String(PG_META_SCHEMA_VERSION + 1)]);
      const error = await thrown(() => PgMeta.open(url(), { schema }));
      expect(error).toMatchObject({ name: "UnsupportedError", code: "ERR_UNSUPPORTED" });
      expect(String(error)).toMatch(/schema version 2/);
      expect(await sql(`SELECT value FROM ${schema}.lowbit_hub_meta`)).toEqual([{ value: "2" }]);

      const foreign = nextSchema();
      await sql(`CREATE SCHEMA ${foreign}; CREATE TABLE ${foreign}.lowbit_hub_repos (x TEXT)`);
      await expect(PgMeta.open(url(), { schema: foreign })).rejects.toThrow(/no lowbit hub schema version/);
      const tables = await sql("SELECT tablename FROM pg_tables WHERE schemaname = $1", [foreign]);
      expect(tables).toEqual([{ tablename: "lowbit_hub_repos" }]);

      for (const bad of ["", "Upper", "a-b", "a;drop", `"x"`, "x".repeat(64), "1a"]) {
        await expect(PgMeta.open(url(), { schema: bad })).rejects.toThrow(RangeError);
      }
      await expect(PgMeta.open("", {})).rejects.toThrow(RangeError);
      // A server that is not there: the connection error, and no pool left behind.
      const port = new URL(url()).port;
      await expect(PgMeta.open(url().replace(`:${port}/`, ":1/"))).rejects.toThrow();
    });

    it("keeps secrets out of the database and text it cannot hold out of commits", async () => {
      const schema = nextSchema();
      const meta = await PgMeta.open(url(), { schema });
      const { token } = await meta.createToken("ci", "write");
      const dump = JSON.stringify(await sql(`SELECT * FROM ${schema}.lowbit_hub_tokens`));
      expect(dump).not.toContain(token.slice(4));
      expect(dump).toContain(sha256(token));
      await meta.createRepo("m", { private: false, author: "alice" });
      await expect(meta.commit(newCommit("m", {}, { summary: "a\u0000b" }))).rejects.toThrow(/U\+0000/);
      await expect(meta.commit(newCommit("m", {}, { description: "\u0000" }))).rejects.toThrow(RangeError);
      expect(await meta.log("m", (await meta.resolveRevision("m", "main"))!, 10)).toHaveLength(1);
      await meta.close();
    });

    it("opens two instances at once on an empty database", async () => {
      const schema = nextSchema();
      const [a, b, c] = await Promise.all([
        PgMeta.open(url(), { schema }),
        PgMeta.open(url(), { schema }),
        PgMeta.open(url(), { schema }),
      ]);
      await a!.createRepo("m", { private: false, author: "alice" });
      expect(await b!.getRepo("m")).toMatchObject({ id: "m" });
      expect(await c!.listRepos()).toHaveLength(1);
      expect(await sql(`SELECT count(*)::int AS n FROM ${schema}.lowbit_hub_meta`)).toEqual([{ n: 1 }]);
      await Promise.all([a!.close(), b!.close(), c!.close()]);
    });

    it("shares writes between instances, and serializes concurrent commits to one branch", async () => {
      const schema = nextSchema();
      const one = await PgMeta.open(url(), { schema });
      const two = await PgMeta.open(url(), { schema });
      try {
        await one.createRepo("org/m", { private: false, author: "alice" });
        const first = await two.commit(newCommit("org/m", { put: [regular("seen")] }));
        expect(await one.resolveRevision("org/m", "main")).toBe(first.oid);
        expect(await one.tree(first.oid)).toEqual([regular("seen")]);
        const token = await one.createToken("ci", "write");
        expect(await two.checkToken(token.token)).toEqual(token.info);
        await expect(two.createRepo("ORG/M", { private: false, author: "bob" })).rejects.toThrow(
          /conflicts with the existing "org\/m"/,
        );

        // 2 × 10 commits at once, each adding its own file: all land, one after the other.
        await two.createRepo("org/c", { private: false, author: "bob" });
        const initial = (await one.resolveRevision("org/c", "main"))!;
        const all: Promise<Commit>[] = [];
        for (let i = 0; i < 10; i++) {
          for (const [k, meta] of [one, two].entries()) {
            all.push(
              meta.commit(newCommit("org/c", { put: [regular(`f/${k}-${i}`)] }, { summary: `${k}-${i}` })),
            );
          }
        }
        const commits = await Promise.all(all);
        const head = (await one.resolveRevision("org/c", "main"))!;
        const log = await two.log("org/c", head, 100);
        expect(log).toHaveLength(21);
        expect(log.at(-1)!.oid).toBe(initial);
        const concurrent = log.slice(0, 20);
        expect(new Set(concurrent.map((c) => c.oid))).toEqual(new Set(commits.map((c) => c.oid)));
        expect(new Set(commits.map((c) => c.parents[0])).size).toBe(20);
        for (let i = 0; i + 1 < log.length; i++) expect(log[i]!.parents).toEqual([log[i + 1]!.oid]);
        // Each commit's tree is its parent's plus its own file: nothing was lost to a race.
        const tree = await one.tree(head);
        expect(tree).toHaveLength(20);
        for (const [n, c] of concurrent.entries()) {
          expect(await two.tree(c.oid)).toHaveLength(20 - n);
          expect(await two.file(c.oid, `f/${c.summary}`)).toEqual(regular(`f/${c.summary}`));
        }
      } finally {
        await one.close();
        await two.close();
      }
    });

    it("lets exactly one of two concurrent commits on the same expected head win", async () => {
      const schema = nextSchema();
      const one = await PgMeta.open(url(), { schema });
      const two = await PgMeta.open(url(), { schema });
      try {
        await one.createRepo("m", { private: false, author: "alice" });
        for (let round = 0; round < 5; round++) {
          const start = (await one.resolveRevision("m", "main"))!;
          const results = await Promise.allSettled([
            one.commit(newCommit("m", { put: [regular(`a${round}`)] }, { expectedHead: start })),
            two.commit(newCommit("m", { put: [regular(`b${round}`)] }, { expectedHead: start })),
          ]);
          const won = results.filter((r) => r.status === "fulfilled");
          const lost = results.filter((r) => r.status === "rejected");
          expect(won).toHaveLength(1);
          expect(lost).toHaveLength(1);
          const winner = (won[0] as PromiseFulfilledResult<Commit>).value;
          expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: "ERR_CONFLICT" });
          expect(winner.parents).toEqual([start]);
          expect(await two.resolveRevision("m", "main")).toBe(winner.oid);
          expect(await one.tree(winner.oid)).toHaveLength(round + 1);
        }
      } finally {
        await one.close();
        await two.close();
      }
    });

    it("survives the server ending its connections, idle or in the middle of a commit", async () => {
      const schema = nextSchema();
      const meta = await PgMeta.open(`${url()}?application_name=victim`, { schema });
      const side = new Client({ connectionString: url() });
      await side.connect();
      try {
        await meta.createRepo("m", { private: false, author: "alice" });
        const terminate = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'victim'`;
        // Idle pooled connections killed: the pool drops them, the next call connects afresh.
        await side.query(terminate);
        await new Promise((r) => setTimeout(r, 200));
        expect(await meta.getRepo("m")).toMatchObject({ id: "m" });

        // A commit waiting on the branch lock (held here) loses its connection: it fails, the process
        // lives on, the branch is unchanged and the next commit works.
        const c0 = (await meta.resolveRevision("m", "main"))!;
        await side.query("BEGIN");
        await side.query(`SELECT * FROM ${schema}.lowbit_hub_refs FOR UPDATE`);
        const pending = meta.commit(newCommit("m", { put: [regular("lost")] }));
        for (let i = 0; i < 100; i++) {
          const waiting = await side.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'victim' AND wait_event_type = 'Lock'",
          );
          if (waiting.rows.length > 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await side.query(terminate);
        await expect(pending).rejects.toThrow();
        await side.query("ROLLBACK");
        await new Promise((r) => setTimeout(r, 200));
        expect(await meta.resolveRevision("m", "main")).toBe(c0);
        const next = await meta.commit(newCommit("m", { put: [regular("kept")] }));
        expect(next.parents).toEqual([c0]);
        expect(await meta.tree(next.oid)).toEqual([regular("kept")]);
      } finally {
        await side.end();
        await meta.close();
      }
    });

    it("a repo deleted by one instance while the other commits to it: the commit lands first or fails", async () => {
      const schema = nextSchema();
      const one = await PgMeta.open(url(), { schema });
      const two = await PgMeta.open(url(), { schema });
      try {
        await one.createRepo("m", { private: false, author: "alice" });
        const [committed, deleted] = await Promise.allSettled([
          one.commit(newCommit("m", { put: [regular("x")] })),
          two.deleteRepo("m"),
        ]);
        expect(deleted.status).toBe("fulfilled");
        if (committed.status === "rejected")
          expect(committed.reason).toMatchObject({ code: "ERR_NOT_FOUND" });
        expect(await one.getRepo("m")).toBeUndefined();
        // Nothing of it is left behind.
        for (const table of ["repos", "commits", "refs", "files"]) {
          expect(await sql(`SELECT count(*)::int AS n FROM ${schema}.lowbit_hub_${table}`)).toEqual([
            { n: 0 },
          ]);
        }
      } finally {
        await one.close();
        await two.close();
      }
    });
  });
});
