/**
 * IPC throughput: 64 MiB of Send frames (64 KiB writes through the SDK's
 * Connection) from a driver to a counting daemon handler over the real Unix
 * socket. The end is marked by a Health request: the server handles a client's
 * frames in order, so its reply proves every Send before it was handled.
 *
 * `deno run -A bench/ipc_bench.ts` prints MB/s with the server in this process
 * and in a separate process, plus the daemon → driver direction (4 KiB Recv
 * pushes, as the daemon delivers segments); `deno bench -A bench/ipc_bench.ts` runs the
 * in-process case under Deno.bench.
 * @module
 */
import { Logger } from "../lib/log.ts";
import { Address } from "../lib/protocol/address.ts";
import type { HealthReply } from "../lib/ipc/replies.ts";
import { type IpcHandler, IpcServer } from "../lib/daemon/ipc/server.ts";
import { connect } from "../lib/sdk/mod.ts";

const TOTAL_BYTES = 64 << 20;
const WRITE_SIZE = 64 * 1024;
/** The daemon delivers stream data in segment-sized Recv pushes. */
const RECV_CHUNK = 4096;
const MiB = 1 << 20;

/** A handler that accepts any dial and counts the bytes it is sent. */
function countingHandler(): IpcHandler {
  let received = 0;
  return {
    dial: () => 1,
    send: (_client, _connId, data) => {
      received += data.length;
    },
    close: () => {},
    health: (): HealthReply => ({
      status: "ok",
      uptime_seconds: 0,
      connections: 1,
      peers: 0,
      bytes_sent: 0,
      bytes_recv: received,
    }),
  };
}

async function serve(path: string): Promise<IpcServer> {
  return await IpcServer.listen({ path, handler: countingHandler(), logger: new Logger("bench", "silent") });
}

/** Sends TOTAL_BYTES and returns MB/s (10^6 bytes per second) measured until the daemon confirmed them. */
async function transfer(path: string): Promise<number> {
  await using client = await connect(path);
  const conn = await client.dial(new Address(0, 1), 1);
  const before = (await client.health()).bytes_recv;
  const chunk = new Uint8Array(WRITE_SIZE).fill(0x5a);
  const started = performance.now();
  for (let sent = 0; sent < TOTAL_BYTES; sent += WRITE_SIZE) await conn.write(chunk);
  const after = (await client.health({ timeoutMs: 60_000 })).bytes_recv;
  const seconds = (performance.now() - started) / 1000;
  if (after - before !== TOTAL_BYTES) {
    throw new Error(`daemon counted ${after - before} of ${TOTAL_BYTES} bytes`);
  }
  await conn.close();
  return TOTAL_BYTES / seconds / 1e6;
}

/** A handler whose dial starts pushing TOTAL_BYTES in 4 KiB Recv frames (awaiting backpressure), then EOF. */
function producingHandler(): IpcHandler {
  return {
    dial: (client) => {
      const chunk = new Uint8Array(RECV_CHUNK).fill(0xa5);
      setTimeout(async () => {
        for (let sent = 0; sent < TOTAL_BYTES; sent += RECV_CHUNK) {
          if (!await client.pushRecv(1, chunk)) return;
        }
        client.pushCloseOK(1);
      }, 0);
      return 1;
    },
    close: () => {},
  };
}

/** Reads TOTAL_BYTES pushed by {@link producingHandler}; returns MB/s. */
async function receive(path: string): Promise<number> {
  await using client = await connect(path);
  const started = performance.now();
  const conn = await client.dial(new Address(0, 1), 1);
  let got = 0;
  for (let chunk = await conn.read(); chunk !== null; chunk = await conn.read()) got += chunk.length;
  const seconds = (performance.now() - started) / 1000;
  if (got !== TOTAL_BYTES) throw new Error(`received ${got} of ${TOTAL_BYTES} bytes`);
  await conn.close();
  return TOTAL_BYTES / seconds / 1e6;
}

async function recvInProcess(): Promise<number> {
  const { dir, path } = await tempSocket();
  const server = await IpcServer.listen({
    path,
    handler: producingHandler(),
    logger: new Logger("bench", "silent"),
  });
  try {
    return await receive(path);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function tempSocket(): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "pilot-ipc-bench-" });
  return { dir, path: `${dir}/pilot.sock` };
}

async function inProcess(): Promise<number> {
  const { dir, path } = await tempSocket();
  const server = await serve(path);
  try {
    return await transfer(path);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function separateProcess(): Promise<number> {
  const { dir, path } = await tempSocket();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--serve", path],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    reader.releaseLock();
    return await transfer(path);
  } finally {
    await child.stdin.close();
    await child.stdout.cancel();
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const serveAt = Deno.args.indexOf("--serve");
  if (serveAt >= 0) {
    const server = await serve(Deno.args[serveAt + 1]);
    await Deno.stdout.write(new TextEncoder().encode("ready\n"));
    for await (const _ of Deno.stdin.readable) {
      // run until the parent closes stdin
    }
    await server.close();
  } else {
    const runs = 3;
    const cases = [
      [`Send, ${WRITE_SIZE / 1024} KiB writes, same process`, inProcess],
      [`Send, ${WRITE_SIZE / 1024} KiB writes, separate processes`, separateProcess],
      [`Recv, ${RECV_CHUNK / 1024} KiB pushes, same process`, recvInProcess],
    ] as const;
    for (const [name, fn] of cases) {
      const rates: number[] = [];
      for (let i = 0; i < runs; i++) rates.push(await fn());
      rates.sort((a, b) => a - b);
      console.log(
        `IPC ${name}: ${TOTAL_BYTES / MiB} MiB, median ${rates[1].toFixed(0)} MB/s ` +
          `(runs: ${rates.map((r) => r.toFixed(0)).join(", ")})`,
      );
    }
  }
} else {
  Deno.bench({ name: "ipc: 64 MiB of Send through the SDK, same process", n: 3, warmup: 1 }, async () => {
    await inProcess();
  });
}
