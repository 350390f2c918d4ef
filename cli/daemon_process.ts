/**
 * How a long-running `pilot daemon` process is started: its V8 flags and environment. `daemon
 * start`, `service install` and deno.json's `start` and `compile` tasks use them (tests/cli_test.ts
 * checks the tasks); figures in docs/benchmarks.md, "Daemon footprint". A lone `pilot registry` adds
 * one flag (REGISTRY_V8_FLAGS).
 */

/**
 * A 1 MiB semi-space (V8's default grows to 16 MiB per semi-space, and the young generation has
 * two): the daemon's garbage is short-lived packet buffers, so a small young generation collected
 * often keeps the process smaller, most of all under a bulk transfer. `--max-opt=2` stops tiering
 * at Maglev: TurboFan's code and its compile memory are never touched (idle RSS −2 to −4 MiB), and
 * the 64 MiB bench measured no slower (66 vs 58 MiB/s, 15.5 vs 16.7 CPU ms/MiB; `--lite-mode`
 * saved ~5 MiB but halved throughput, so it is not used). `--no-lazy-feedback-allocation` gives a
 * function its inline caches from its first call rather than after several: a connection's set-up
 * runs code the daemon has not run for a while, and it measured 3–13% faster (6 alternating runs,
 * daemon CPU per set-up + close −0 to −10%) at no idle memory or throughput cost
 * (docs/benchmarks.md, "Request/response latency"). `--invocation-count-for-maglev=10` optimises a
 * function after 10 calls instead of 400: the set-up path runs a few times per connection, so with
 * V8's default a daemon ran it interpreted for its first few hundred connections (set-up p50 −20 to
 * −25% over a daemon's first 200, the same after ~500; idle RSS within 1 MiB, throughput the same).
 * The compiling moves earlier with it: a fresh daemon's first ~10 connections are ~1.5 ms slower, and
 * an idle one compiles its chores in its first ~15 minutes (docs/benchmarks.md, "Optimising after
 * ten calls").
 */
export const DAEMON_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--max-opt=2",
  "--no-lazy-feedback-allocation",
  "--invocation-count-for-maglev=10",
];

/**
 * The registry's: the daemon's young generation (without `--max-opt=2`, not measured for the
 * registry) plus no allocation-site pretenuring. Optimised code otherwise learns
 * that request objects outlive the small young generation (they wait for a group-committed fsync)
 * and allocates them in old space, which only a full collection empties: under the bench:compare
 * load the registry grew by ~35 MiB, and by ~4 MiB without it, at the same throughput (docs/benchmarks.md,
 * "Registry memory"). deno.json's `registry` task uses them; `pilot up` and a compiled pilot run the
 * registry with the daemon's (measured neutral for the daemon, so not added there).
 */
export const REGISTRY_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--no-allocation-site-pretenuring",
];

/**
 * glibc's malloc arenas capped at one (lib/daemon/malloc_arenas.ts explains why), and no
 * release check by `deno run`: it would resolve and fetch dl.deno.land from a daemon (once a day,
 * on a thread of its own), which a host that only talks to its overlay must not see.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "1",
  DENO_NO_UPDATE_CHECK: "1",
};

/** `pilot daemon start|stop|status` (cli/lifecycle.ts); any other first word runs the daemon. */
export const DAEMON_SUBCOMMANDS: readonly string[] = ["start", "stop", "status"];
