import { assertEquals, assertMatch } from "../assert.ts";
import { runPilot } from "../helpers/pilot.ts";

Deno.test("pilot identity creates a 0600 identity on first run and reloads it unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-identity-" });
  try {
    const first = await runPilot(["identity", "--state", dir, "--json"]);
    assertEquals(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout).data;
    assertEquals(a.created, true);
    assertEquals((await Deno.stat(`${dir}/identity.json`)).mode! & 0o777, 0o600);
    const second = await runPilot(["identity", "--state", dir, "--json"]);
    const b = JSON.parse(second.stdout).data;
    assertEquals(b.created, false);
    assertEquals(b.public_key, a.public_key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pilot identity refuses a corrupt identity file and leaves it in place", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pilot-identity-" });
  try {
    await Deno.writeTextFile(`${dir}/identity.json`, "{not json", { mode: 0o600 });
    const run = await runPilot(["identity", "--state", dir, "--json"]);
    assertEquals(run.code, 1);
    const err = JSON.parse(run.stderr.trim().split("\n").at(-1)!);
    assertEquals(err.code, "invalid_state");
    assertMatch(err.message, /identity\.json/);
    assertEquals(await Deno.readTextFile(`${dir}/identity.json`), "{not json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
