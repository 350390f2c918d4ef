/**
 * `pilot send-file` of a large file between two real daemons: 200 MiB arrive byte-exact (SHA-256)
 * although the sending process is killed halfway, and the second run sends only what was missing;
 * tampered partial data is caught by the digest and the transfer starts over; a small file still
 * goes as the reference's single FILE frame.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot, spawnPilot } from "../helpers/pilot.ts";

const MIB = 1 << 20;
const TRANSFER_TIMEOUT_MS = 600_000;

/** Writes `mib` MiB of pseudo-random data (every MiB different) and returns its hex SHA-256. */
async function writeTestFile(path: string, mib: number): Promise<string> {
  const block = new Uint8Array(MIB);
  for (let i = 0; i < MIB; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536));
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let i = 0; i < mib; i++) {
      new DataView(block.buffer).setUint32(0, i);
      hash.update(block);
      for (let off = 0; off < MIB;) off += await file.write(block.subarray(off));
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  try {
    const buf = new Uint8Array(MIB);
    for (let n = await file.read(buf); n !== null; n = await file.read(buf)) hash.update(buf.subarray(0, n));
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** Bytes in the receiver's partial directory (0 when it does not exist). */
function partialBytes(d: TestDaemon): number {
  let total = 0;
  try {
    for (const e of Deno.readDirSync(`${d.stateDir}/partial`)) {
      total += Deno.statSync(`${d.stateDir}/partial/${e.name}`).size;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return total;
}

async function sendFileJson(from: TestDaemon, to: TestDaemon, path: string) {
  const run = await runPilot(["send-file", to.address, path, "--socket", from.socket, "--json"], {
    timeoutMs: TRANSFER_TIMEOUT_MS,
  });
  const text = (run.code === 0 ? run.stdout : run.stderr).trim().split("\n").filter((l) => l.startsWith("{"));
  return { code: run.code, body: text.length ? JSON.parse(text[text.length - 1]) : null, run };
}

/**
 * Starts `send-file` and, once the receiver holds at least `cutAt` bytes, cuts the connection the
 * hard way: SIGKILL of the sending daemon (and the command), then the daemon is started again.
 * Returns the bytes the receiver kept.
 */
async function sendAndCut(
  net: TestNetwork,
  from: TestDaemon,
  to: TestDaemon,
  path: string,
  cutAt: number,
): Promise<number> {
  const child = spawnPilot(["send-file", to.address, path, "--socket", from.socket, "--json"]);
  const drained = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const deadline = Date.now() + TRANSFER_TIMEOUT_MS;
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  while (!exited && partialBytes(to) < cutAt && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  if (exited) throw new Error(`send-file finished before the cut: ${(await drained).join("\n")}`);
  await from.process.stop("SIGKILL");
  if (!exited) child.kill("SIGKILL");
  await status;
  await drained;
  // The receiver keeps what arrived once it sees the connection end.
  let last = -1;
  for (let held = partialBytes(to); held !== last; held = partialBytes(to)) {
    last = held;
    await new Promise((r) => setTimeout(r, 300));
  }
  await net.restartDaemon(from);
  return last;
}

Deno.test({
  name:
    "send-file: 200 MiB byte-exact across a cut connection, resumed; tampering caught; small files as one frame",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const net = await TestNetwork.start();
    try {
      const a = await net.addDaemon("a", ["--public"]);
      const b = await net.addDaemon("b", ["--public"]);

      await t.step(
        "a file that fits one frame is a reference FILE frame (no chunked transfer on the receiver)",
        async () => {
          const path = `${net.dir}/small.txt`;
          await Deno.writeTextFile(path, "x".repeat(1024));
          const r = await sendFileJson(a, b, path);
          assertEquals(r.code, 0, r.run.stderr);
          assertEquals(r.body.data, {
            filename: "small.txt",
            bytes: 1024,
            destination: b.address,
            ack: "ACK FILE 1024 bytes",
          });
          // The chunked receiver creates its partial directory on the first offer; the frame path never does.
          assertEquals(partialBytes(b), 0);
          let partialDir = true;
          await Deno.stat(`${b.stateDir}/partial`).catch(() => partialDir = false);
          assertEquals(partialDir, false);
          // The boundary: a file that exactly fills one frame is still a FILE frame; one byte more is chunked.
          const name = "edge.bin";
          const fits = (1 << 24) - 2 - name.length;
          await Deno.writeFile(`${net.dir}/${name}`, new Uint8Array(fits).fill(1));
          const edge = await sendFileJson(a, b, `${net.dir}/${name}`);
          assertEquals(edge.code, 0, edge.run.stderr);
          assertEquals(Object.keys(edge.body.data).sort(), ["ack", "bytes", "destination", "filename"]);
          assertEquals(edge.body.data.ack, `ACK FILE ${fits} bytes`);
          await Deno.stat(`${b.stateDir}/partial`).catch(() => partialDir = false);
          assertEquals(partialDir, false);
          await Deno.writeFile(`${net.dir}/${name}`, new Uint8Array(fits + 1).fill(1));
          const over = await sendFileJson(a, b, `${net.dir}/${name}`);
          assertEquals(over.code, 0, over.run.stderr);
          assertEquals([over.body.data.ack, over.body.data.sent_bytes], [
            `ACK FILE ${fits + 1} bytes`,
            fits + 1,
          ]);
          assert((await Deno.stat(`${b.stateDir}/partial`)).isDirectory);
        },
      );

      await t.step("200 MiB, killed halfway, resumed without resending, byte-exact", async () => {
        const size = 200 * MIB;
        const path = `${net.dir}/big.bin`;
        const digest = await writeTestFile(path, 200);
        const t0 = performance.now();
        const held = await sendAndCut(net, a, b, path, size / 2);
        const firstSeconds = (performance.now() - t0) / 1000;
        assert(
          held >= size / 2 && held < size,
          `receiver held ${held}\n${b.process.stderrLines.slice(-15).join("\n")}`,
        );
        const t1 = performance.now();
        const r = await sendFileJson(a, b, path);
        const secondSeconds = (performance.now() - t1) / 1000;
        assertEquals(r.code, 0, r.run.stderr);
        const data = r.body.data;
        assertEquals([data.bytes, data.sha256, data.ack], [size, digest, `ACK FILE ${size} bytes`]);
        assertEquals(data.resumed_from, held);
        assertEquals(data.sent_bytes, size - held);
        assert(data.sent_bytes < size);
        const stored = (await Array.fromAsync(Deno.readDir(`${b.stateDir}/received`)))
          .map((e) => e.name).filter((n) => n.startsWith("big-"));
        assertEquals(stored.length, 1);
        assertEquals(await sha256File(`${b.stateDir}/received/${stored[0]}`), digest);
        assertEquals(partialBytes(b), 0);
        console.log(
          `200 MiB: cut after ${(held / MIB).toFixed(1)} MiB in ${firstSeconds.toFixed(1)} s; ` +
            `resume sent ${(data.sent_bytes / MIB).toFixed(1)} MiB in ${secondSeconds.toFixed(1)} s ` +
            `(${
              (data.sent_bytes / MIB / secondSeconds).toFixed(1)
            } MiB/s including process start and hashing)`,
        );
      });

      await t.step("tampered partial data fails the digest check and the transfer starts over", async () => {
        const size = 40 * MIB;
        const path = `${net.dir}/tamper.bin`;
        const digest = await writeTestFile(path, 40);
        const held = await sendAndCut(net, a, b, path, size / 2);
        assert(held > 0 && held < size, `receiver held ${held}`);
        const [entry] = Array.from(Deno.readDirSync(`${b.stateDir}/partial`));
        const partial = await Deno.open(`${b.stateDir}/partial/${entry.name}`, { read: true, write: true });
        await partial.seek(4096, Deno.SeekMode.Start);
        await partial.write(new Uint8Array(16).fill(0xee));
        partial.close();
        const r = await sendFileJson(a, b, path);
        assertEquals(r.code, 0, r.run.stderr);
        const data = r.body.data;
        assertEquals([data.sha256, data.resumed_from, data.attempts], [digest, 0, 2]);
        assertEquals(data.sent_bytes, size + (size - held));
        const stored = (await Array.fromAsync(Deno.readDir(`${b.stateDir}/received`)))
          .map((e) => e.name).filter((n) => n.startsWith("tamper-"));
        assertEquals(await sha256File(`${b.stateDir}/received/${stored[0]}`), digest);
      });

      await t.step(
        "the receiving daemon restarts mid-transfer: send-file reconnects by itself and resumes",
        async () => {
          const size = 60 * MIB;
          const path = `${net.dir}/restart.bin`;
          const digest = await writeTestFile(path, 60);
          // A short --timeout: a dead receiver is noticed when a write or a progress report times out.
          const child = spawnPilot([
            "send-file",
            b.address,
            path,
            "--socket",
            a.socket,
            "--json",
            "--timeout",
            "5s",
          ]);
          const outputs = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
          const deadline = Date.now() + TRANSFER_TIMEOUT_MS;
          while (partialBytes(b) < size / 2 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 20));
          }
          await b.process.stop("SIGKILL");
          const held = partialBytes(b);
          assert(held > 0 && held < size, `receiver held ${held}`);
          await net.restartDaemon(b);
          const status = await child.status;
          const [stdout, stderr] = await outputs;
          assertEquals(status.code, 0, stderr);
          const data = JSON.parse(stdout.trim()).data;
          assertEquals([data.sha256, data.ack], [digest, `ACK FILE ${size} bytes`]);
          // The first reconnection may come before the sender's daemon has found the restarted peer again.
          assert(data.attempts >= 2, `attempts ${data.attempts}`);
          assert(data.resumed_from > 0 && data.resumed_from <= held, `resumed from ${data.resumed_from}`);
          assert(data.sent_bytes < size + (size - held), `sent ${data.sent_bytes}`);
          const stored = (await Array.fromAsync(Deno.readDir(`${b.stateDir}/received`)))
            .map((e) => e.name).filter((n) => n.startsWith("restart-"));
          assertEquals(await sha256File(`${b.stateDir}/received/${stored[0]}`), digest);
        },
      );

      await t.step(
        "a receiver's PILOT_MAX_RECEIVE_BYTES refuses a larger file with a clear error",
        async () => {
          const c = await net.addDaemon("c", ["--public"], { PILOT_MAX_RECEIVE_BYTES: String(18 * MIB) });
          const path = `${net.dir}/limit.bin`;
          await writeTestFile(path, 20);
          const r = await sendFileJson(a, c, path);
          assertEquals(r.code, 1, r.run.stdout);
          assert(
            r.body.message.includes(`file of ${20 * MIB} bytes exceeds the receiver's limit of ${18 * MIB}`),
            r.body.message,
          );
        },
      );
    } finally {
      await net.close();
    }
  },
});
