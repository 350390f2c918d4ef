/** Runs the `pilot` program as a real subprocess (`deno run -A main.ts …`) for integration tests. */

/**
 * This checkout's main.ts, or PILOT_TEST_MAIN: another entry point of the same program, e.g. the
 * `deno task bundle` output that `deno task compile` builds from, to run the suite against it.
 */
const MAIN = Deno.env.get("PILOT_TEST_MAIN") || new URL("../../main.ts", import.meta.url).pathname;

/** What `deno run` starts: this checkout's main.ts unless a benchmark points elsewhere (A/B runs). */
const launch = { main: MAIN, denoFlags: [] as string[] };

/** `deno run` would otherwise look up and fetch dl.deno.land once a day: tests stay on loopback. */
const QUIET_DENO = { DENO_NO_UPDATE_CHECK: "1" };

/**
 * Makes later spawns run `main` (another checkout's main.ts) with extra `deno run` flags
 * (e.g. --cpu-prof); benchmarks only. Without arguments, restores the defaults.
 */
export function setPilotLaunch(main = MAIN, denoFlags: string[] = []): void {
  launch.main = main;
  launch.denoFlags = denoFlags;
}

/** Result of a finished `pilot` run. */
export interface PilotRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pilot <args>` to completion (killed after `timeoutMs`). */
export async function runPilot(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<PilotRun> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...launch.denoFlags, launch.main, ...args],
    env: { ...QUIET_DENO, ...opts.env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts `pilot <args>` in the background; the caller must `kill()` and await `status`. */
export function spawnPilot(args: string[], env?: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...launch.denoFlags, launch.main, ...args],
    env: { ...QUIET_DENO, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}
