/**
 * The bundle that `deno task compile` turns into the shipped binaries (deno.json's `bundle` task,
 * built here into a temporary directory with the task's own flags) runs a network: a registry and
 * two daemons from it, a ping and a bench between them, its version and usage errors. The whole
 * suite can also run from a bundle (`PILOT_TEST_MAIN`, tests/helpers/pilot.ts).
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import { runPilot, setPilotLaunch } from "../helpers/pilot.ts";
import { settleQuietly } from "../../lib/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The `deno bundle …` command of deno.json's bundle task, writing into `outdir` instead of dist/bundle. */
async function bundleCommand(outdir: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task = String(config.tasks.bundle);
  const bundle = task.split("&&").map((c) => c.trim()).find((c) => c.startsWith("deno bundle "));
  assert(bundle, `no 'deno bundle' in the bundle task: ${task}`);
  const words = bundle.split(/\s+/).slice(1);
  const at = words.indexOf("dist/bundle");
  assert(
    at > 0 && words[at - 1] === "--outdir",
    `bundle task does not write to --outdir dist/bundle: ${task}`,
  );
  words[at] = outdir;
  return words;
}

Deno.test({
  name: "the bundle deno task compile builds from runs a registry and two daemons that ping and bench",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const outdir = await Deno.makeTempDir({ prefix: "pilot-bundle-" });
    let net: TestNetwork | null = null;
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: await bundleCommand(outdir),
        cwd: ROOT,
        env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(built.code, 0, new TextDecoder().decode(built.stderr));
      // Code splitting keeps the lazily loaded commands and services out of the first chunk.
      const files = [...Deno.readDirSync(outdir)].map((e) => e.name);
      assert(files.includes("main.js"), files.join(" "));
      assert(files.length > 10, `expected separate chunks, got ${files.length}`);

      setPilotLaunch(`${outdir}/main.js`);
      const version = await runPilot(["version"]);
      assertEquals(version.code, 0, version.stderr);
      assertMatch(version.stdout, /^pilot \d+\.\d+\.\d+/);
      const usage = await runPilot(["no-such-command"]);
      assertEquals(usage.code, 64, usage.stderr);

      net = await TestNetwork.start();
      const a = await net.addDaemon("a", ["--public"]);
      const b = await net.addDaemon("b", ["--public"]);
      const ping = await runPilot([
        "ping",
        b.address,
        "--count",
        "2",
        "--interval",
        "10ms",
        "--socket",
        a.socket,
      ]);
      assertEquals(ping.code, 0, ping.stdout + ping.stderr);
      assertMatch(ping.stdout, /2 sent, 2 received/);
      const bench = await runPilot(["bench", b.address, "1", "--socket", a.socket, "--json"]);
      assertEquals(bench.code, 0, bench.stdout + bench.stderr);
      assert(JSON.parse(bench.stdout).data.sent_bytes > 0, bench.stdout);
    } finally {
      setPilotLaunch();
      await net?.close();
      await settleQuietly(Deno.remove(outdir, { recursive: true }), "cleanup");
    }
  },
});
