/** Fills a registry with nodes, shared by the registry benches. */
import { toBase64 } from "../lib/bytes.ts";
import { generateEd25519KeyPair } from "../lib/crypto/ed25519.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { signInMode } from "../lib/registry/client_signing.ts";
import { decodeBody, encodeFrame, FrameReader, MAX_REPLY_BODY } from "../lib/registry/wire.ts";
import net from "node:net";
import { once } from "node:events";

/** Connections the fill spreads its registrations over. */
const FILL_CONNECTIONS = 50;

/** A node registered with a real key, which can sign its own requests. */
export interface KeyedNode {
  id: number;
  seed: Uint8Array;
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
        const pair = keyed ? generateEd25519KeyPair() : undefined;
        const reply = await c.request({
          type: "register",
          public_key: toBase64(pair?.publicKey ?? crypto.getRandomValues(new Uint8Array(32))),
          listen_addr: ":7000",
          lan_addrs: ["192.168.1.20:7000"],
        });
        if (pair) keyed!.push({ id: Number(reply.node_id), seed: pair.seed });
      }
    }));
  } finally {
    for (const c of clients) c.close();
  }
  return (performance.now() - t0) / 1000;
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
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (signal.aborted) break;
        const node = nodes[i % nodes.length];
        const reply = await c.request(
          await signInMode({ type: "heartbeat", node_id: node.id }, node.seed, "strict", Date.now()),
        );
        if (reply.type !== "heartbeat_ok") throw new Error(`heartbeat refused: ${JSON.stringify(reply)}`);
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

/**
 * Registers `nodes` unsigned nodes in a registry that limits registrations per source address
 * (the reference's 10 a minute): each batch of ten comes from its own loopback address,
 * 127.1.x.y, over its own connection, 50 connections at a time; seconds taken.
 */
export async function fillFromManySources(address: string, nodes: number): Promise<number> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.split(":").pop())];
  const sources = Math.ceil(nodes / REFERENCE_REGISTRATIONS_PER_SOURCE);
  if (sources > 65_536) throw new Error(`at most ${65_536 * REFERENCE_REGISTRATIONS_PER_SOURCE} nodes`);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: FILL_CONNECTIONS }, async () => {
    while (next < sources) {
      const s = next++;
      const socket = net.connect({ host, port, localAddress: `127.1.${s >> 8}.${s & 255}` });
      try {
        await once(socket, "connect");
        const reader = new FrameReader(MAX_REPLY_BODY);
        const count = Math.min(
          REFERENCE_REGISTRATIONS_PER_SOURCE,
          nodes - s * REFERENCE_REGISTRATIONS_PER_SOURCE,
        );
        for (let i = 0; i < count; i++) {
          socket.write(encodeFrame({
            type: "register",
            public_key: toBase64(crypto.getRandomValues(new Uint8Array(32))),
            listen_addr: ":7000",
            lan_addrs: ["192.168.1.20:7000"],
          }));
          let body = reader.next();
          while (body === null) {
            const [chunk] = await once(socket, "data") as [Uint8Array];
            reader.push(chunk);
            body = reader.next();
          }
          const reply = decodeBody(body);
          if (reply.type === "error") throw new Error(`registration refused: ${reply.error}`);
        }
      } finally {
        socket.destroy();
      }
    }
  }));
  return (performance.now() - t0) / 1000;
}
