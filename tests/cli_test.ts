import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { runCli } from "../cli/main.ts";
import type { Output } from "../cli/output.ts";
import { COMMAND_TABLE, loadCommands } from "../cli/commands.ts";
import { httpFlag } from "../cli/server_flags.ts";
import { parseArgs } from "../cli/args.ts";
import { Logger } from "../lib/log.ts";
import { startPilot } from "./helpers/network.ts";
import { spawnPilot } from "./helpers/pilot.ts";
import { DAEMON_ENV, DAEMON_V8_FLAGS, REGISTRY_V8_FLAGS } from "../cli/daemon_process.ts";

function capture(json = false): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { json, out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
}

/** Commands that run a server rather than talk to one. */
const COMMANDS = await loadCommands();

const SERVER_COMMANDS = ["daemon", "up", "registry", "beacon", "nameserver"];
/** Commands that need no daemon at all. */
const LOCAL_COMMANDS = ["version", "init", "config", "context", "completion", "service"];

Deno.test("pilot --help lists commands and exits 0", async () => {
  const o = capture();
  assertEquals(await runCli(["--help"], o), 0);
  assertMatch(o.out.join("\n"), /version\s+Print/);
});

Deno.test("usage errors exit 64: no command, unknown command, unknown flag, missing argument", async () => {
  assertEquals(await runCli([], capture()), 64);
  const unknown = capture();
  assertEquals(await runCli(["bogus"], unknown), 64);
  assertMatch(unknown.err[0], /unknown command "bogus"/);
  assertEquals(await runCli(["health", "--bogus"], capture()), 64);
  assertEquals(await runCli(["ping"], capture()), 64);
  assertEquals(await runCli(["daemon", "--http", "nowhere"], capture()), 64);
});

Deno.test("unknown command with --json is an invalid_argument envelope", async () => {
  const o = capture(true);
  assertEquals(await runCli(["bogus", "--json"], o), 64);
  const body = JSON.parse(o.err[0]);
  assertEquals(body.status, "error");
  assertEquals(body.code, "invalid_argument");
});

Deno.test("pilot version --json uses the ok envelope", async () => {
  const o = capture(true);
  assertEquals(await runCli(["version", "--json"], o), 0);
  const body = JSON.parse(o.out[0]);
  assertEquals(body.status, "ok");
  assertEquals(body.data.protocol_version, 1);
});

Deno.test("an unknown flag is refused, not ignored", async () => {
  const o = capture();
  assertEquals(await runCli(["version", "--frobnicate"], o), 64);
  assertMatch(o.err[0], /unknown flag --frobnicate/);
});

Deno.test("every row of the command table loads the command it names, with the same summary", () => {
  assertEquals(new Set(COMMAND_TABLE.map((c) => c.name)).size, COMMAND_TABLE.length, "duplicate names");
  for (const [i, row] of COMMAND_TABLE.entries()) {
    assertEquals(COMMANDS[i].name, row.name);
    assertEquals(COMMANDS[i].summary, row.summary, `summary of ${row.name}`);
  }
});

Deno.test("every client command accepts --socket and lists it in its help", () => {
  for (const c of COMMANDS) {
    if (SERVER_COMMANDS.includes(c.name) || LOCAL_COMMANDS.includes(c.name)) continue;
    assertEquals(c.flags.socket, "string", `${c.name} has no --socket flag`);
    assert(c.usage.includes("--socket"), `pilot ${c.name} --help does not mention --socket`);
  }
});

Deno.test("every server command accepts --http, --log-level, --log-format and --config and documents them", () => {
  for (const name of SERVER_COMMANDS) {
    const c = COMMANDS.find((c) => c.name === name)!;
    for (const flag of ["http", "log-level", "log-format", "config"]) {
      assertEquals(c.flags[flag], "string", `${name} has no --${flag}`);
      assert(c.usage.includes(`--${flag}`), `pilot ${name} --help does not mention --${flag}`);
    }
    assert(c.usage.includes("HOST:PORT|:PORT|off"), `pilot ${name} --help: --http forms`);
  }
});

Deno.test("--http takes HOST:PORT, :PORT (loopback) or off, and names the flag otherwise", () => {
  const http = (text: string) => httpFlag(parseArgs(["--http", text], { http: "string" }));
  assertEquals(http("10.0.0.1:80"), { host: "10.0.0.1", port: 80 });
  assertEquals(http(":7399"), { host: "127.0.0.1", port: 7399 });
  assertEquals(http("off"), null);
  assertEquals(httpFlag(parseArgs([], { http: "string" })), undefined);
  assertThrows(() => http("7399"), Error, /--http must be HOST:PORT, :PORT or off/);
});

Deno.test("bad --log-level, --log-format and PILOT_LOG are usage errors that list the allowed values", async () => {
  const level = capture();
  assertEquals(await runCli(["registry", "--memory", "--log-level", "loud"], level), 64);
  assertMatch(level.err[0], /--log-level: unknown log level "loud" \(use one of debug, info, warn, error/);
  const format = capture();
  assertEquals(await runCli(["beacon", "--log-format", "xml"], format), 64);
  assertMatch(format.err[0], /--log-format: unknown log format "xml" \(use text or json\)/);
  const before = Deno.env.get("PILOT_LOG");
  Deno.env.set("PILOT_LOG", "bogus");
  try {
    const env = capture();
    assertEquals(await runCli(["version"], env), 64);
    assertMatch(env.err[0], /PILOT_LOG: unknown log level "bogus" \(use one of debug, info, warn, error/);
  } finally {
    if (before === undefined) Deno.env.delete("PILOT_LOG");
    else Deno.env.set("PILOT_LOG", before);
  }
});

Deno.test("a json logger writes one object per line with the fields", () => {
  const lines: string[] = [];
  const log = new Logger("daemon", "info", (l) => lines.push(l), "json").child("ipc");
  log.info("listening", { path: "/tmp/x.sock", n: 3 });
  log.debug("hidden");
  assertEquals(lines.length, 1);
  const rec = JSON.parse(lines[0]);
  assertEquals([rec.level, rec.comp, rec.msg, rec.path, rec.n], [
    "info",
    "daemon.ipc",
    "listening",
    "/tmp/x.sock",
    "3",
  ]);
  assert(!Number.isNaN(Date.parse(rec.ts)));
});

Deno.test({
  name: "registry and beacon take --http :0 and off, and log JSON with --log-format json",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const registry = spawnPilot([
      ...["registry", "--memory", "--listen", "127.0.0.1:0", "--http", ":0"],
      ...["--log-level", "info", "--log-format", "json", "--json"],
    ]);
    const stderr = new Response(registry.stderr).text();
    const reader = registry.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let ready = "";
    while (!ready.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      ready += value;
    }
    const beacon = await startPilot(["beacon", "--listen", "127.0.0.1:0", "--http", "off"]);
    try {
      assertMatch(String(JSON.parse(ready).data.http), /^127\.0\.0\.1:\d+$/);
      assertEquals(beacon.ready.http, null);
    } finally {
      await beacon.stop();
      registry.kill("SIGTERM");
      await registry.status;
      await reader.cancel();
    }
    const lines = (await stderr).trim().split("\n").filter((l) => l);
    assert(lines.length > 0, "registry logged nothing at info");
    for (const line of lines) assertEquals(typeof JSON.parse(line).msg, "string", line);
  },
});

Deno.test("deno.json's start and compile tasks run the daemon with its V8 flags and environment", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const flags = `--v8-flags=${DAEMON_V8_FLAGS.join(",")}`;
  const env = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`);
  const start: string = config.tasks.start;
  assert(start.includes(flags), `start task lacks ${flags}`);
  assert(start.startsWith(`${env.join(" ")} `), `start task does not begin with ${env.join(" ")}`);
  // The binaries are compiled from the bundle (one module graph of a few chunks; docs/benchmarks.md,
  // "Daemon footprint"), which the compile task builds first.
  const [bundle, ...compiles] = (config.tasks.compile as string).split("&&").map((c) => c.trim());
  assertEquals(bundle, "deno task bundle");
  assert(compiles.length > 0);
  for (const c of compiles) {
    assert(c.endsWith(" dist/bundle/main.js"), `compile task does not build the bundle: ${c}`);
  }
  for (const c of compiles) assert(c.includes(flags), `compile task lacks ${flags}: ${c}`);
});

Deno.test("deno.json's registry task runs the registry with its V8 flags and the daemon's environment", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const task: string = config.tasks.registry;
  const flags = `--v8-flags=${REGISTRY_V8_FLAGS.join(",")}`;
  assert(task.includes(flags), `registry task lacks ${flags}`);
  const env = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`).join(" ");
  assert(task.startsWith(`${env} `), `registry task does not begin with ${env}`);
  assert(task.endsWith(" main.ts registry"), task);
});
