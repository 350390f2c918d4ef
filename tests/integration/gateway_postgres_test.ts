/**
 * A real database through the overlay: a PostgreSQL server on 127.0.0.1 behind `pilot expose`
 * on the far daemon, and `psql` talking to the near daemon's gateway address, running a few
 * thousand queries on one connection and a write/read round on another. PostgreSQL refuses to
 * run as root, so the cluster is created and run as `nobody` (runuser) in a temporary directory.
 * Skipped when the PostgreSQL binaries or psql are not installed.
 */
import { assertEquals } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { freePort } from "../helpers/http_origin.ts";
import { settleQuietly } from "../../lib/errors.ts";

/** The newest installed PostgreSQL's binaries (Debian puts them under /usr/lib/postgresql/<major>/bin). */
const PG_BIN = (() => {
  try {
    const majors = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort((a, b) =>
      Number(b) - Number(a)
    );
    return `/usr/lib/postgresql/${majors[0]}/bin`;
  } catch {
    return "/usr/lib/postgresql/15/bin";
  }
})();
const QUERIES = 3000;

function have(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const missing = ["initdb", "postgres", "pg_ctl"].filter((b) =>
  !have(`${PG_BIN}/${b}`) && !have(`/usr/local/bin/${b}`)
);
if (!have("/usr/bin/psql")) missing.push("psql");

async function run(cmd: string, args: string[], opts: { stdin?: string } = {}) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "gateway: psql through the gateway to PostgreSQL behind pilot expose",
  ignore: missing.length > 0,
  async fn() {
    const bin = (b: string) => have(`/usr/local/bin/${b}`) ? `/usr/local/bin/${b}` : `${PG_BIN}/${b}`;
    const dir = await Deno.makeTempDir({ prefix: "pilot-pg-" });
    await Deno.chmod(dir, 0o755);
    const asRoot = Deno.uid() === 0;
    const user = asRoot ? ["runuser", "-u", "nobody", "--"] : [];
    if (asRoot) await run("chown", ["nobody", dir]);
    const pgPort = freePort();
    const P = 30000 + Math.floor(Math.random() * 5000);
    let server: Deno.ChildProcess | undefined;
    const net = await TestNetwork.start();
    try {
      const init = await run(user[0] ?? bin("initdb"), [
        ...user.slice(1),
        ...(asRoot ? [bin("initdb")] : []),
        "-D",
        `${dir}/data`,
        "-A",
        "trust",
        "-U",
        "postgres",
      ]);
      assertEquals(init.code, 0, init.stderr);
      const pgArgs = [
        "-D",
        `${dir}/data`,
        "-k",
        dir,
        "-h",
        "127.0.0.1",
        "-p",
        String(pgPort),
        "-c",
        "fsync=off",
      ];
      server = new Deno.Command(asRoot ? "runuser" : bin("postgres"), {
        args: asRoot ? ["-u", "nobody", "--", bin("postgres"), ...pgArgs] : pgArgs,
        stdout: "null",
        stderr: "null",
      }).spawn();
      for (let i = 0;; i++) {
        const r = await run("psql", [
          "-h",
          "127.0.0.1",
          "-p",
          String(pgPort),
          "-U",
          "postgres",
          "-Atc",
          "select 1",
        ]);
        if (r.code === 0) break;
        if (i > 100) throw new Error(`postgres did not start: ${r.stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      const far = await net.addDaemon("far", ["--public"]);
      const near = await net.addDaemon("near", [
        "--gateway",
        "--gateway-subnet",
        "127.79.0.0/16",
        "--gateway-ports",
        String(P),
      ]);
      const ex = await runPilot([
        "expose",
        String(P),
        `127.0.0.1:${pgPort}`,
        "--socket",
        far.socket,
        "--json",
      ]);
      assertEquals(ex.code, 0, ex.stderr);
      const mapped = await runPilot(["gateway", "map", far.address, "--socket", near.socket, "--json"]);
      assertEquals(mapped.code, 0, mapped.stderr);
      const ip = JSON.parse(mapped.stdout).data.local_ip as string;
      const psql = ["-h", ip, "-p", String(P), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-At"];

      const script = Array.from({ length: QUERIES }, (_, i) => `select ${i}, md5('${i}');`).join("\n");
      const t0 = performance.now();
      const r = await run("psql", [...psql, "-f", "-"], { stdin: script });
      const ms = performance.now() - t0;
      assertEquals(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assertEquals(lines.length, QUERIES);
      assertEquals(lines[0], "0|cfcd208495d565ef66e7dff9f98764da");
      assertEquals(lines[QUERIES - 1].split("|")[0], String(QUERIES - 1));
      console.log(`${QUERIES} queries through gateway+expose on one connection: ${Math.round(ms)} ms`);

      const rw = await run("psql", [
        ...psql,
        "-c",
        "create table t(i int, s text)",
        "-c",
        "insert into t select g, repeat('x', 1000) from generate_series(1, 20000) g",
        "-c",
        "select count(*), sum(length(s)) from t",
      ]);
      assertEquals(rw.code, 0, rw.stderr);
      assertEquals(rw.stdout.trim().split("\n").pop(), "20000|20000000");
      const dump = await run("psql", [...psql, "-c", "select i, s from t order by i"]);
      assertEquals(dump.code, 0, dump.stderr);
      assertEquals(dump.stdout.trim().split("\n").length, 20000);
    } finally {
      await net.close();
      if (server) {
        // runuser does not pass signals on to postgres; pg_ctl stops it by its pid file.
        await run(user[0] ?? bin("pg_ctl"), [
          ...user.slice(1),
          ...(asRoot ? [bin("pg_ctl")] : []),
          "-D",
          `${dir}/data`,
          "stop",
          "-m",
          "immediate",
        ]);
        await server.status;
      }
      await settleQuietly(Deno.remove(dir, { recursive: true }), "cleanup");
    }
  },
});
