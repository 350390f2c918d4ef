/**
 * Throughput of the pure session layer: two managers over the simulated link
 * (1 ms one-way delay, no loss), 16 MiB per iteration written in 1 MiB chunks
 * and read without inspection. 16 MiB = 4096 data segments of 4096 bytes, so
 * segments/s = 4096 / (time per iteration in s). The "codec" variant also
 * encodes and decodes every packet with the wire codec (CRC-32 included); the
 * lossy variants measure the CPU cost of loss recovery, not simulated time.
 */
import { Address } from "../protocol/address.ts";
import { type LinkConfig, SimNet } from "./testing/sim.ts";

const MiB = 1 << 20;
const TOTAL = 16 * MiB;
const CHUNK = new Uint8Array(MiB).fill(0x42);

/** The integration test's fault mix, both directions, 1 ms RTT: the CPU cost of RACK-TLP loss recovery. */
const ISSUE_FAULTS: LinkConfig = {
  delayMs: 0.5,
  loss: 0.1,
  reorder: 0.05,
  reorderMs: 5,
  reorderHold: true,
  duplicate: 0.01,
};

function transfer(codec: boolean, lossy = false, link?: LinkConfig): void {
  const net = new SimNet(
    7,
    link ?? (lossy ? { delayMs: 1, loss: 0.01, reorder: 0.01 } : { delayMs: 1, codec }),
  );
  const a = net.addNode(1), b = net.addNode(2);
  let received = 0, written = 0;
  const l = b.listen(1000);
  l.onConnection = () => {
    const s = l.accept()!;
    s.onReadable = () => {
      for (let d = s.read(); d; d = s.read()) received += d.length;
    };
  };
  const c = a.dial(new Address(0, 2), 1000);
  const pump = () => {
    while (written < TOTAL) {
      const n = c.write(CHUNK.subarray(0, Math.min(MiB, TOTAL - written)));
      written += n;
      if (n === 0) return;
    }
  };
  c.onOpen = pump;
  c.onWritable = pump;
  if (!net.run(() => received === TOTAL, 3_600_000)) throw new Error(`transfer stalled at ${received}`);
}

Deno.bench({ name: "session: 16 MiB over the simulated link", group: "session", baseline: true }, () => {
  transfer(false);
});

Deno.bench({ name: "session: 16 MiB, 1% loss + 1% reorder", group: "session" }, () => {
  transfer(false, true);
});

Deno.bench({ name: "session: 16 MiB, 10% loss + 5% reorder + 1% duplication", group: "session" }, () => {
  transfer(false, true, ISSUE_FAULTS);
});

Deno.bench({ name: "session: 16 MiB through encode/decode (CRC-32)", group: "session" }, () => {
  transfer(true);
});
