/**
 * Robustness: arbitrary packets from a hostile peer, interleaved with time,
 * never make the session layer throw, and its bookkeeping stays consistent.
 */
import fc from "fast-check";
import { assert } from "../../tests/assert.ts";
import { Address } from "../protocol/address.ts";
import type { Packet } from "../protocol/packet.ts";
import { encodeSack } from "./sack.ts";
import { SimNet } from "./testing/sim.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });

const payload = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 64 }),
  fc.array(fc.tuple(u32, u32).map(([left, right]) => ({ left, right })), { minLength: 1, maxLength: 4 })
    .map((bs) => encodeSack(bs)),
  fc.integer({ min: 1, max: 9000 }).map((n) => new Uint8Array(n)),
);

/** Packets from node 9 aimed at the listener (port 1000) or the connection node 9 holds. */
const hostile = fc.record({
  version: fc.oneof({ arbitrary: fc.constant(1), weight: 9 }, { arbitrary: fc.constant(2), weight: 1 }),
  flags: fc.oneof(
    { arbitrary: fc.constant(2), weight: 6 },
    { arbitrary: fc.constantFrom(1, 3, 4, 6, 8), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 15 }), weight: 1 },
  ),
  protocol: fc.oneof({ arbitrary: fc.constant(1), weight: 9 }, {
    arbitrary: fc.constantFrom(2, 3, 7),
    weight: 1,
  }),
  srcPort: fc.constantFrom(50000, 50000, 50000, 50001, 0),
  dstPort: fc.constantFrom(1000, 1000, 1000, 49152, 49152, 0, 7),
  // Mostly plausible numbers (ISN 0, small offsets) so that data and ACKs land in the windows.
  seq: fc.oneof(
    { arbitrary: fc.constantFrom(0, 1), weight: 3 },
    { arbitrary: fc.integer({ min: 1, max: 40_000 }), weight: 3 },
    { arbitrary: u32, weight: 1 },
  ),
  ack: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 30_000 }), u32),
  window: fc.integer({ min: 0, max: 0xffff }),
  payload,
  wait: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 50 }), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: 3000 }), weight: 1 },
  ),
});

Deno.test("fuzz: hostile packets never throw and keep the connection table consistent", () => {
  fc.assert(
    fc.property(fc.array(hostile, { maxLength: 60 }), fc.boolean(), (pkts, writeData) => {
      const net = new SimNet(1, { delayMs: 1 });
      const m = net.addNode(2);
      const l = m.listen(1000);
      l.onConnection = () => {
        const s = l.accept()!;
        s.onReadable = () => {
          while (s.read());
        };
        if (writeData && s.writable) s.write(new Uint8Array(20_000));
      };
      const out = m.dial(new Address(0, 9), 80, { localPort: 49152 });
      out.onReadable = () => {
        while (out.read());
      };
      for (const p of pkts) {
        const pkt: Packet = {
          version: p.version,
          flags: p.flags,
          protocol: p.protocol,
          src: new Address(0, 9),
          dst: new Address(0, 2),
          srcPort: p.dstPort === 49152 ? 80 : p.srcPort,
          dstPort: p.dstPort,
          seq: p.seq,
          ack: p.ack,
          window: p.window,
          payload: p.payload,
        };
        m.onPacket(pkt);
        net.advance(p.wait);
      }
      net.advance(200_000); // every timer path runs out
      let live = 0;
      for (const s of m.connections()) {
        if (s.state !== "TIME_WAIT" && s.state !== "CLOSED") live++;
        assert(s.state !== "CLOSED", "CLOSED streams must leave the table");
        assert(s.inFlight >= 0 && s.readableLength >= 0);
      }
      assert(live === m.liveConnections, `live ${live} vs counter ${m.liveConnections}`);
    }),
    { numRuns: 300 },
  );
});
