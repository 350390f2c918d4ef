import { assertEquals, assertMatch } from "./assert.ts";
import { runCli } from "../cli/main.ts";
import type { Output } from "../cli/output.ts";

function capture(json = false): Output & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { json, out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l) };
}

Deno.test("pilot --help lists commands and exits 0", async () => {
  const o = capture();
  assertEquals(await runCli(["--help"], o), 0);
  assertMatch(o.out.join("\n"), /version\s+Print/);
});

Deno.test("pilot with no command prints usage and exits 2", async () => {
  const o = capture();
  assertEquals(await runCli([], o), 2);
});

Deno.test("unknown command with --json is an invalid_argument envelope", async () => {
  const o = capture(true);
  assertEquals(await runCli(["bogus", "--json"], o), 1);
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
  assertEquals(await runCli(["version", "--frobnicate"], o), 1);
  assertMatch(o.err[0], /unknown flag --frobnicate/);
});
