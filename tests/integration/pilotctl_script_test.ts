/**
 * A script written in the reference pilotctl's syntax (tests/fixtures/pilotctl_script.sh) runs
 * unchanged against `pilot`: a `pilotctl` launcher (`deno run -A main.ts "$@"`) on PATH, a real
 * registry and two daemons on loopback. The script checks every result with jq and fails at
 * the first mismatch; here its exit status, its summary and every `--json` line it saw are
 * checked.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const SCRIPT = new URL("../fixtures/pilotctl_script.sh", import.meta.url).pathname;
const ADMIN_TOKEN = "pilotctl-script-admin-token";

/** A directory holding an executable `pilotctl` that runs this checkout's `pilot`. */
async function pilotctlLauncher(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  const path = `${bin}/pilotctl`;
  await Deno.writeTextFile(path, `#!/bin/sh\nexec '${Deno.execPath()}' run -A '${MAIN}' "$@"\n`, {
    mode: 0o755,
  });
  return bin;
}

Deno.test("a pilotctl script runs unchanged against pilot", async () => {
  const net = await TestNetwork.start(["--admin-token", ADMIN_TOKEN]);
  try {
    const a = await net.addDaemon("a");
    const b = await net.addDaemon("b");
    const bin = await pilotctlLauncher(net.dir);
    const log = `${net.dir}/pilotctl.log`;
    const run = await new Deno.Command("sh", {
      args: [SCRIPT],
      env: {
        PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
        PILOT_SOCKET: a.socket,
        SOCKET_B: b.socket,
        ADMIN_TOKEN,
        LOG: log,
        PILOT_ADMIN_TOKEN: "",
      },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(240_000),
    }).output();
    const stdout = new TextDecoder().decode(run.stdout);
    const stderr = new TextDecoder().decode(run.stderr);
    assertEquals(run.code, 0, `script failed:\n${stdout}\n${stderr}`);
    // Every step ran: one check per `ok`, `refused` and `expect` line of the script.
    const steps = (await Deno.readTextFile(SCRIPT)).split("\n");
    const commands = steps.filter((l) => /^(ok|refused) /.test(l)).length;
    const expects = steps.filter((l) => /^expect /.test(l)).length;
    assertMatch(stdout, new RegExp(`pilotctl script: ${commands + expects} checks passed`));

    // Every command printed one envelope: ok with data, or an error with a code and message.
    const lines = (await Deno.readTextFile(log)).trim().split("\n");
    assertEquals(lines.length, commands);
    for (const line of lines) {
      const envelope = JSON.parse(line);
      if (envelope.status === "ok") assert("data" in envelope, line);
      else {
        assertEquals(envelope.status, "error", line);
        assertMatch(envelope.code, /^[a-z_]+$/);
        assertEquals(typeof envelope.message, "string");
      }
    }
  } finally {
    await net.close();
  }
});
