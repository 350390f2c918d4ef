/**
 * `pilot ping`: round trips to a node's echo port (7). Like the reference, each probe
 * dials, writes `ping-<i>`, reads the echo and closes, so `rtt_ms` includes connection
 * setup; `echo_ms` is the echo round trip alone.
 */
import type { Command } from "./command.ts";
import { intFlag, parseArgs, parseDuration } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { dialPeer, resolveTarget, timeoutFlag, withDaemon } from "./client.ts";
import { PORT_ECHO } from "../lib/protocol/ports.ts";
import { utf8 } from "../lib/bytes.ts";
import type { PilotClient } from "../lib/sdk/core.ts";
import type { Address } from "../lib/protocol/address.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

interface ProbeResult {
  seq: number;
  rtt_ms?: number;
  echo_ms?: number;
  bytes?: number;
  error?: string;
}

export const pingCommand: Command = {
  name: "ping",
  summary: "Measure round trips to a node's echo port",
  usage: [
    "pilot ping <address|node_id|hostname> [--count N] [--interval DURATION] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Each probe dials port 7, sends ping-<seq>, waits for the echo and closes.",
    "Defaults: --count 4, --interval 1s, --timeout 30s (for the whole run).",
  ].join("\n"),
  flags: { socket: "string", count: "string", interval: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target] = args.positionals;
    if (!target) throw new CliError("invalid_argument", "usage: pilot ping <address|hostname> [--count N]");
    const count = intFlag(args, "count", 4, 1, 1_000_000);
    const intervalMs = parseDuration(args.strings.get("interval") ?? "1s");
    const deadline = performance.now() + timeoutFlag(args, 30_000);
    return await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      const results: ProbeResult[] = [];
      let timedOut = false;
      for (let seq = 1; seq <= count; seq++) {
        const left = deadline - performance.now();
        if (left <= 0) {
          timedOut = true;
          break;
        }
        const r = await probe(client, addr, seq, left);
        results.push(r);
        if (!out.json) {
          out.stdout(
            r.error
              ? `seq=${seq} error: ${r.error}`
              : `${r.bytes} bytes from ${addr}: seq=${seq} time=${r.rtt_ms!.toFixed(3)} ms (echo ${
                r.echo_ms!.toFixed(3)
              } ms)`,
          );
        }
        if (seq < count) await new Promise((res) => setTimeout(res, Math.min(intervalMs, Math.max(0, left))));
      }
      const ok = results.filter((r) => r.rtt_ms !== undefined && !r.error).map((r) => r.rtt_ms!);
      const summary = summarize(ok);
      const data = { target: addr.toString(), results, timeout: timedOut, ...summary };
      if (out.json) printResult(out, data);
      else {
        out.stdout(
          `--- ${addr} ping statistics ---\n${results.length} sent, ${ok.length} received` +
            (ok.length
              ? `, rtt min/p50/avg/p99/max = ${summary.min_ms}/${summary.p50_ms}/${summary.avg_ms}/${summary.p99_ms}/${summary.max_ms} ms`
              : ""),
        );
      }
      return ok.length === results.length && !timedOut ? 0 : 1;
    });
  },
};

async function probe(
  client: PilotClient,
  addr: Address,
  seq: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  const payload = utf8(`ping-${seq}`);
  const start = performance.now();
  try {
    const conn = await dialPeer(client, addr, PORT_ECHO, timeoutMs);
    try {
      const echoStart = performance.now();
      await conn.write(payload, { timeoutMs });
      let got = 0;
      while (got < payload.length) {
        const chunk = await conn.read({ timeoutMs: Math.max(1, timeoutMs - (performance.now() - start)) });
        if (chunk === null) throw new Error("connection closed before the echo");
        got += chunk.length;
      }
      const end = performance.now();
      return { seq, rtt_ms: round3(end - start), echo_ms: round3(end - echoStart), bytes: got };
    } finally {
      await closeQuietly(conn);
    }
  } catch (err) {
    return { seq, error: errorMessage(err) };
  }
}

/** min/avg/max and percentiles of round-trip times, in ms with µs precision. */
export function summarize(samples: number[]) {
  if (samples.length === 0) return {};
  const sorted = [...samples].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return {
    min_ms: round3(sorted[0]),
    p50_ms: round3(pct(0.5)),
    avg_ms: round3(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p99_ms: round3(pct(0.99)),
    max_ms: round3(sorted[sorted.length - 1]),
  };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
