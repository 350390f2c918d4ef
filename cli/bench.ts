/**
 * `pilot bench`: throughput through a node's echo port, as the reference measures it:
 * write size_mb MiB (byte i = i mod 256) while reading the echo back; report MiB/s for the
 * sending phase and for the whole round trip. The reference writes 4096-byte chunks; a stream
 * carries the same bytes either way, so this hands the IPC larger batches.
 */
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { dialPeer, resolveTarget, timeoutFlag, withDaemon } from "./client.ts";
import { Progress } from "./progress.ts";
import { PORT_ECHO } from "../lib/protocol/ports.ts";
import { closeQuietly } from "../lib/errors.ts";
import { IpcError } from "../lib/sdk/core.ts";

/** Bytes handed to one IPC write (many chunks per frame keeps the IPC cheap). */
const WRITE_BATCH_BYTES = 256 * 1024;
const MIB = 1024 * 1024;

export const benchCommand: Command = {
  name: "bench",
  summary: "Measure stream throughput through a node's echo port",
  usage: [
    "pilot bench <address|node_id|hostname> [size_mb] [--timeout DURATION] [--socket PATH] [--json]",
    "",
    "Sends size_mb MiB (default 1, fractions allowed) to port 7 and reads the echo back.",
    "Output keys: target, sent_bytes, recv_bytes, send_duration_ms, total_duration_ms, send_mbps, total_mbps (MiB/s).",
  ].join("\n"),
  flags: { socket: "string", timeout: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const [target, sizeText = "1"] = args.positionals;
    if (!target) throw new CliError("invalid_argument", "usage: pilot bench <address|hostname> [size_mb]");
    const sizeMb = Number(sizeText);
    if (!(sizeMb > 0 && sizeMb <= 65536)) {
      throw new CliError("invalid_argument", `size_mb must be in (0, 65536], not "${sizeText}"`);
    }
    const total = Math.max(1, Math.round(sizeMb * MIB));
    const timeoutMs = timeoutFlag(args, 120_000);
    return await withDaemon(args, async (client) => {
      const addr = await resolveTarget(client, target);
      const conn = await dialPeer(client, addr, PORT_ECHO, Math.min(timeoutMs, 60_000));
      const signal = AbortSignal.timeout(timeoutMs);
      const progress = new Progress(`bench ${addr}`, total, !out.json);
      const start = performance.now();
      let sendEnd = start;
      let received = 0;
      const reader = (async () => {
        while (received < total) {
          const chunk = await conn.read({ signal });
          if (chunk === null) break;
          received += chunk.length;
          progress.update(received);
        }
      })();
      const pattern = patternBlock(WRITE_BATCH_BYTES);
      try {
        for (let sent = 0; sent < total;) {
          const n = Math.min(WRITE_BATCH_BYTES, total - sent);
          // Offsets stay multiples of the pattern period, so byte i of the stream is i mod 256.
          await conn.write(pattern.subarray(0, n), { signal });
          sent += n;
        }
        sendEnd = performance.now();
        await reader;
        if (received < total) throw peerEnded(received, total);
      } catch (err) {
        if (signal.aborted) {
          throw new CliError("timeout", `bench timed out after ${received} of ${total} bytes echoed`);
        }
        // The SDK names the connection by its internal id; the user needs the cause.
        if (err instanceof IpcError && err.reason === "closed") throw peerEnded(received, total);
        throw err;
      } finally {
        progress.done();
        await closeQuietly(conn);
      }
      const end = performance.now();
      const sendMs = sendEnd - start;
      const totalMs = end - start;
      const data = {
        target: addr.toString(),
        sent_bytes: total,
        recv_bytes: received,
        send_duration_ms: Math.round(sendMs * 1000) / 1000,
        total_duration_ms: Math.round(totalMs * 1000) / 1000,
        send_mbps: round2(total / MIB / (sendMs / 1000)),
        total_mbps: round2(total / MIB / (totalMs / 1000)),
      };
      printResult(
        out,
        data,
        `sent ${(total / MIB).toFixed(2)} MiB, echoed ${(received / MIB).toFixed(2)} MiB in ${
          (totalMs / 1000).toFixed(2)
        } s: send ${data.send_mbps} MiB/s, round trip ${data.total_mbps} MiB/s`,
      );
      return received === total ? 0 : 1;
    });
  },
};

function patternBlock(size: number): Uint8Array {
  const block = new Uint8Array(size);
  for (let i = 0; i < size; i++) block[i] = i & 0xff;
  return block;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** The peer reset or closed the connection before the echo was complete. */
function peerEnded(received: number, total: number): CliError {
  return new CliError(
    "connection_failed",
    `connection closed or reset by peer after ${received} of ${total} bytes echoed`,
  );
}
