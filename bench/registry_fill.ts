/** Fills a registry with nodes, shared by the registry benches. */
import { toBase64 } from "../lib/bytes.ts";
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { type SigningMode, signInMode } from "../lib/registry/client_signing.ts";
import {
  decodeBody,
  encodeFrame,
  FrameReader,
  MAX_REPLY_BODY,
  type WireMessage,
} from "../lib/registry/wire.ts";
import net from "node:net";
import { once } from "node:events";

/** Connections the fill spreads its registrations over. */
const FILL_CONNECTIONS = 50;

/** A node registered with a real key, which can sign its own requests. */
export interface KeyedNode {
  id: number;
  seed: Uint8Array;
}

/** Sends one request and waits for its reply: a RegistryClient or a connection from another source. */
type Request = (message: WireMessage) => Promise<WireMessage>;

/** Registers one node (unsigned: the registry runs in reference mode); with `keyed`, as {@link fillRegistry}. */
async function registerNode(request: Request, keyed?: KeyedNode[]): Promise<void> {
  const pair = keyed ? generateEd25519KeyPair() : undefined;
  const reply = await request({
    type: "register",
    public_key: toBase64(pair?.publicKey ?? crypto.getRandomValues(new Uint8Array(32))),
    listen_addr: ":7000",
    lan_addrs: ["192.168.1.20:7000"],
  });
  if (reply.type === "error") throw new Error(`registration refused: ${reply.error}`);
  if (pair) keyed!.push({ id: Number(reply.node_id), seed: pair.seed });
}

/** Sends `node`'s heartbeat, signed in `signing`'s dialect; throws if it is refused. */
async function sendHeartbeat(request: Request, node: KeyedNode, signing: SigningMode): Promise<void> {
  const reply = await request(
    await signInMode({ type: "heartbeat", node_id: node.id }, node.seed, signing, Date.now()),
  );
  if (reply.type !== "heartbeat_ok") throw new Error(`heartbeat refused: ${JSON.stringify(reply)}`);
}

/**
 * Registers `nodes` unsigned nodes (the registry runs in reference mode) over 50 connections;
 * seconds taken. With `keyed`, each node gets a real key pair and is pushed onto it (id and
 * seed), so that it can later sign heartbeats; otherwise any 32 bytes pass the length check.
 */
export async function fillRegistry(address: string, nodes: number, keyed?: KeyedNode[]): Promise<number> {
  const clients = Array.from(
    { length: FILL_CONNECTIONS },
    () => new RegistryClient({ address, timeoutMs: 60_000 }),
  );
  let next = 0;
  const t0 = performance.now();
  try {
    await Promise.all(clients.map(async (c) => {
      while (next < nodes) {
        next++;
        await registerNode((m) => c.request(m), keyed);
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return (performance.now() - t0) / 1000;
}

/** Waits `ms` (nothing when ≤ 0), or less when `signal` aborts first. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Sends every node's heartbeat (signed in our form, as a daemon does) once per `intervalMs`,
 * spread evenly over the interval and over 50 connections, until `signal` aborts; heartbeats sent.
 */
export async function heartbeatRegistry(
  address: string,
  nodes: KeyedNode[],
  intervalMs: number,
  signal: AbortSignal,
): Promise<number> {
  const clients = Array.from(
    { length: FILL_CONNECTIONS },
    () => new RegistryClient({ address, timeoutMs: 60_000 }),
  );
  const gapMs = intervalMs / Math.max(1, nodes.length);
  const t0 = performance.now();
  let sent = 0;
  try {
    await Promise.all(clients.map(async (c, w) => {
      for (let i = w; !signal.aborted; i += FILL_CONNECTIONS) {
        // Node i's turn comes at i × gap within each round of the interval.
        const due = t0 + Math.floor(i / nodes.length) * intervalMs + (i % nodes.length) * gapMs;
        await sleepUnless(due - performance.now(), signal);
        if (signal.aborted) break;
        await sendHeartbeat((m) => c.request(m), nodes[i % nodes.length], "strict");
        sent++;
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return sent;
}

/** Registrations a reference registry takes from one source address at once (10 a minute). */
const REFERENCE_REGISTRATIONS_PER_SOURCE = 10;
/** Nodes whose 30 s heartbeats fit the reference's 50 a minute per source address, with room. */
const REFERENCE_HEARTBEATERS_PER_SOURCE = 20;

/** A connection from loopback source address `source` that sends one request at a time. */
async function connectFrom(address: string, source: string) {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.split(":").pop())];
  const socket = net.connect({ host, port, localAddress: source });
  await once(socket, "connect");
  const reader = new FrameReader(MAX_REPLY_BODY);
  return {
    async request(message: WireMessage): Promise<WireMessage> {
      socket.write(encodeFrame(message));
      let body = reader.next();
      while (body === null) {
        // Attached in the same tick as the write or the last chunk, so no data event is missed.
        const [chunk] = await once(socket, "data") as [Uint8Array];
        reader.push(chunk);
        body = reader.next();
      }
      return decodeBody(body);
    },
    close: () => socket.destroy(),
  };
}

/** The `i`th loopback address of block `block` (127.block.x.y). */
const loopbackSource = (block: number, i: number) => `127.${block}.${i >> 8}.${i & 255}`;

/**
 * Registers `nodes` unsigned nodes in a registry that limits registrations per source address
 * (the reference's 10 a minute): each batch of ten comes from its own loopback address,
 * 127.1.x.y, over its own connection, 50 connections at a time; seconds taken. With `keyed`, as
 * {@link fillRegistry}.
 */
export async function fillFromManySources(
  address: string,
  nodes: number,
  keyed?: KeyedNode[],
): Promise<number> {
  const sources = Math.ceil(nodes / REFERENCE_REGISTRATIONS_PER_SOURCE);
  if (sources > 65_536) throw new Error(`at most ${65_536 * REFERENCE_REGISTRATIONS_PER_SOURCE} nodes`);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: FILL_CONNECTIONS }, async () => {
    while (next < sources) {
      const s = next++;
      const conn = await connectFrom(address, loopbackSource(1, s));
      try {
        const count = Math.min(
          REFERENCE_REGISTRATIONS_PER_SOURCE,
          nodes - s * REFERENCE_REGISTRATIONS_PER_SOURCE,
        );
        for (let i = 0; i < count; i++) {
          await registerNode(conn.request, keyed);
        }
      } finally {
        conn.close();
      }
    }
  }));
  return (performance.now() - t0) / 1000;
}

/**
 * {@link heartbeatRegistry} for a registry that limits heartbeats per source address (the
 * reference's 50 a minute): each group of 20 nodes beats from its own address, 127.2.x.y, signed
 * in `signing`'s dialect; heartbeats sent.
 */
export async function heartbeatFromManySources(
  address: string,
  nodes: KeyedNode[],
  intervalMs: number,
  signing: SigningMode,
  signal: AbortSignal,
): Promise<number> {
  const groups = Math.ceil(nodes.length / REFERENCE_HEARTBEATERS_PER_SOURCE);
  const gapMs = intervalMs / Math.max(1, nodes.length);
  const t0 = performance.now();
  let sent = 0;
  await Promise.all(Array.from({ length: groups }, async (_, g) => {
    const conn = await connectFrom(address, loopbackSource(2, g));
    try {
      const first = g * REFERENCE_HEARTBEATERS_PER_SOURCE;
      const last = Math.min(nodes.length, first + REFERENCE_HEARTBEATERS_PER_SOURCE);
      for (let round = 0; !signal.aborted; round++) {
        for (let i = first; i < last && !signal.aborted; i++) {
          await sleepUnless(t0 + round * intervalMs + i * gapMs - performance.now(), signal);
          if (signal.aborted) break;
          await sendHeartbeat(conn.request, nodes[i], signing);
          sent++;
        }
      }
    } finally {
      conn.close();
    }
  }));
  return sent;
}
