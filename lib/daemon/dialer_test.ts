/**
 * The dialer over the simulated network (lib/transport/testing/sim.ts, virtual time): a dial
 * that opens, and each failure mapped to its reason with a message the user can act on; the NAT
 * strategy and the endpoint refresh run on every SYN timeout; the caller's timeout and abort
 * signal stop the dial and reset the half-open stream.
 */
import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { SimNet } from "../transport/testing/sim.ts";
import type { SessionManager } from "../transport/manager.ts";
import { Dialer, type DialerDeps, DialError } from "./dialer.ts";

interface Recorder {
  ensured: number[];
  refreshed: number[];
  beforeDial: number[];
  synTimeouts: [number, number][];
}

function dialerFor(
  manager: SessionManager,
  ensure: (node: number) => Promise<void> = () => Promise.resolve(),
) {
  const rec: Recorder = { ensured: [], refreshed: [], beforeDial: [], synTimeouts: [] };
  const deps: DialerDeps = {
    manager,
    peers: {
      ensure: (node) => {
        rec.ensured.push(node);
        return ensure(node);
      },
      refresh: (node) => {
        rec.refreshed.push(node);
        return Promise.resolve();
      },
    },
    nat: {
      beforeDial: (node) => void rec.beforeDial.push(node),
      onSynTimeout: (node, expiries) => void rec.synTimeouts.push([node, expiries]),
    },
    nodeId: () => 1,
  };
  return { dialer: new Dialer(deps), rec };
}

/** Runs the simulation until `p` settles (its promise callbacks run between steps). */
async function drive<T>(net: SimNet, p: Promise<T>, stepMs = 50, maxMs = 60_000): Promise<T> {
  let done = false;
  p.then(() => done = true, () => done = true);
  for (let t = 0; t < maxMs && !done; t += stepMs) {
    await new Promise((r) => setTimeout(r, 0));
    if (!done) net.advance(stepMs);
  }
  return await p;
}

async function failure(p: Promise<unknown>): Promise<DialError> {
  return await assertRejects(() => p, DialError) as DialError;
}

Deno.test("dialer: a dial resolves once the stream is established; the peer was resolved first", async () => {
  const net = new SimNet(1, { delayMs: 5 });
  const a = net.addNode(1);
  const b = net.addNode(2);
  b.listen(80);
  const { dialer, rec } = dialerFor(a);
  const stream = await drive(net, dialer.dial(2, 80));
  assertEquals(stream.state, "ESTABLISHED");
  assertEquals([rec.ensured, rec.beforeDial, rec.synTimeouts], [[2], [2], []]);
});

Deno.test("dialer: a reset answer is 'refused', telling the user to ask for trust", async () => {
  const net = new SimNet(1, { delayMs: 5 });
  const a = net.addNode(1);
  net.addNode(2); // nothing listens on port 80
  const { dialer } = dialerFor(a);
  const err = await failure(drive(net, dialer.dial(2, 80)));
  assertEquals([err.reason, err.node, err.port], ["refused", 2, 80]);
  assert(err.message.startsWith("connection refused"), err.message);
  assert(err.message.includes("pilot handshake 2"), err.message);
});

Deno.test("dialer: a registry refusal is 'private', an unknown node 'offline'; no SYN is sent", async () => {
  const net = new SimNet(1, { delayMs: 5 });
  let syns = 0;
  net.tap = () => syns++;
  const a = net.addNode(1);
  const denied = dialerFor(
    a,
    () =>
      Promise.reject(
        new Error("resolve node 7: resolve denied: node 7 is private (establish mutual trust first)"),
      ),
  );
  const p = await failure(denied.dialer.dial(7, 1003));
  assertEquals(p.reason, "private");
  assert(p.message.includes("node 7 is private") && p.message.includes("pilot handshake 7"), p.message);
  const unknown = dialerFor(a, () => Promise.reject(new Error("resolve node 8: node 8 not found")));
  const o = await failure(unknown.dialer.dial(8, 1003));
  assertEquals(o.reason, "offline");
  assert(o.message.includes("is node 8 registered and online?"), o.message);
  assertEquals(syns, 0);
  assertEquals(a.liveConnections, 0);
});

Deno.test("dialer: every SYN timeout refreshes the peer and runs the NAT strategy; all lost is 'timeout'", async () => {
  const net = new SimNet(1, { delayMs: 5, filter: () => true });
  const a = net.addNode(1);
  const { dialer, rec } = dialerFor(a);
  const err = await failure(drive(net, dialer.dial(2, 444), 500));
  assertEquals(err.reason, "timeout");
  assert(err.message.startsWith("dial timeout: no answer from node 2 port 444 after"), err.message);
  // 6 SYNs: the first 5 expiries are reported to the NAT strategy (punch, punch, relay, ...).
  assertEquals(rec.synTimeouts.map(([, n]) => n), [1, 2, 3, 4, 5]);
  assert(rec.synTimeouts.every(([node]) => node === 2));
  assertEquals(rec.refreshed.length, 5);
});

Deno.test("dialer: the caller's timeout and abort signal stop the dial and reset the half-open stream", async () => {
  const net = new SimNet(1, { delayMs: 5, filter: () => true });
  const a = net.addNode(1);
  const { dialer } = dialerFor(a);
  const slow = await failure(dialer.dial(2, 444, { timeoutMs: 30 }));
  assertEquals(slow.reason, "timeout");
  assert(slow.message.includes("no answer from node 2 port 444 after 30 ms"), slow.message);
  assertEquals(a.liveConnections, 0);

  const ctl = new AbortController();
  const p = dialer.dial(2, 444, { signal: ctl.signal });
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(a.liveConnections, 1);
  ctl.abort();
  assertEquals((await failure(p)).reason, "aborted");
  assertEquals(a.liveConnections, 0);
  assertEquals((await failure(dialer.dial(2, 444, { signal: ctl.signal }))).reason, "aborted");
});

Deno.test("dialer: a dial to this node itself skips the NAT strategy", async () => {
  const net = new SimNet(1, { delayMs: 1 });
  const a = net.addNode(1);
  a.listen(7);
  const { dialer, rec } = dialerFor(a);
  const stream = await drive(net, dialer.dial(1, 7));
  assertEquals(stream.state, "ESTABLISHED");
  assertEquals(rec.beforeDial, []);
});
