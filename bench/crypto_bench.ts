/**
 * Crypto backend comparison for docs/benchmarks.md ("Crypto").
 *
 *   deno run -A bench/crypto_bench.ts     prints MB/s and ops/s tables (the figures in the doc)
 *   deno bench -A bench/crypto_bench.ts   the same cases as Deno.bench timings
 *
 * AES-256-GCM: PILS seal+open round trips of 1 KiB and 4 KiB plaintexts on node:crypto
 * (synchronous), Web Crypto awaited one at a time, Web Crypto with 64 operations in flight, and
 * pure JS (@noble/ciphers, imported here only: it is not a project dependency). X25519 and Ed25519
 * on @noble/curves, Web Crypto and node:crypto. Replay window: u32-halves vs bigint counters.
 */
import { Buffer } from "node:buffer";
import * as nodeCrypto from "node:crypto";
// Only this bench needs a pure-JS AES-GCM, to compare; the library does not depend on it.
// deno-lint-ignore no-import-prefix
import { gcm } from "npm:@noble/ciphers@2.4.0/aes.js";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { createTunnelCipher, createTunnelCipherSync, type SealRequest } from "../lib/crypto/aead.ts";
import { ReplayWindow } from "../lib/crypto/replay.ts";
import { pkcs8Der, spkiDer } from "../lib/crypto/node_keys.ts";

const SIZES = [1024, 4096];
const IN_FLIGHT = 64;
const AAD = Uint8Array.of(0, 0, 0, 1);
const MEASURE_MS = 2500;
const ROUNDS = 5;
const WARMUP_MS = 50;

interface Case {
  group: string;
  name: string;
  /** Payload bytes processed per call (0 for ops/s-only cases). */
  bytes: number;
  /** Operations per call (a batch counts each element). */
  ops: number;
  fn: () => unknown | Promise<unknown>;
}

const cases: Case[] = [];
const key = () => crypto.getRandomValues(new Uint8Array(32));

// --- AES-256-GCM (PILS seal + open) ---------------------------------------------------------
for (const size of SIZES) {
  const group = `PILS seal+open ${size / 1024} KiB`;
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  const nodeCipher = createTunnelCipherSync(key());
  cases.push({
    group,
    name: "node:crypto (sync)",
    bytes: size,
    ops: 1,
    fn: () => {
      const s = nodeCipher.sealSync(plaintext, AAD);
      nodeCipher.openSync(s.nonce, s.ciphertextWithTag, AAD);
    },
  });
  const web = await createTunnelCipher(key(), { backend: "webcrypto" });
  cases.push({
    group,
    name: "Web Crypto, awaited singly",
    bytes: size,
    ops: 1,
    fn: async () => {
      const s = await web.seal(plaintext, AAD);
      await web.open(s.nonce, s.ciphertextWithTag, AAD);
    },
  });
  const batch: SealRequest[] = Array.from({ length: IN_FLIGHT }, () => ({ plaintext, aad: AAD }));
  cases.push({
    group,
    name: `Web Crypto, ${IN_FLIGHT} in flight`,
    bytes: size * IN_FLIGHT,
    ops: IN_FLIGHT,
    fn: async () => {
      const sealed = await web.sealBatch(batch);
      await Promise.all(sealed.map((s) => web.open(s.nonce, s.ciphertextWithTag, AAD)));
    },
  });
  const rawKey = key();
  const prefix = crypto.getRandomValues(new Uint8Array(4));
  let counter = 0n;
  cases.push({
    group,
    name: "pure JS (@noble/ciphers)",
    bytes: size,
    ops: 1,
    fn: () => {
      const nonce = new Uint8Array(12);
      nonce.set(prefix);
      new DataView(nonce.buffer).setBigUint64(4, ++counter);
      const ct = gcm(rawKey, nonce, AAD).encrypt(plaintext);
      gcm(rawKey, nonce, AAD).decrypt(ct);
    },
  });
}

// --- X25519 shared secret (peer key imported each time, as for a new peer) ------------------
{
  const group = "X25519 shared secret";
  const ours = x25519.utils.randomSecretKey();
  const peer = x25519.getPublicKey(x25519.utils.randomSecretKey());
  cases.push({
    group,
    name: "@noble/curves (sync)",
    bytes: 0,
    ops: 1,
    fn: () => x25519.getSharedSecret(ours, peer),
  });
  const webPair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]) as CryptoKeyPair;
  cases.push({
    group,
    name: "Web Crypto",
    bytes: 0,
    ops: 1,
    fn: async () => {
      const pub = await crypto.subtle.importKey("raw", peer, { name: "X25519" }, false, []);
      await crypto.subtle.deriveBits({ name: "X25519", public: pub }, webPair.privateKey, 256);
    },
  });
  const nodePair = nodeCrypto.generateKeyPairSync("x25519");
  const der = Buffer.from(spkiDer("X25519", peer));
  cases.push({
    group,
    name: "node:crypto (sync)",
    bytes: 0,
    ops: 1,
    fn: () => {
      const publicKey = nodeCrypto.createPublicKey({
        key: der,
        format: "der",
        type: "spki",
      });
      nodeCrypto.diffieHellman({ privateKey: nodePair.privateKey, publicKey });
    },
  });
}

// --- Ed25519: sign (own identity) and verify (peer key imported each time) ------------------
{
  const message = crypto.getRandomValues(new Uint8Array(40)); // a PILA message
  const seed = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(seed);
  const sig = ed25519.sign(message, seed);
  const sign = "Ed25519 sign";
  const verify = "Ed25519 verify";
  cases.push({
    group: sign,
    name: "@noble/curves (sync)",
    bytes: 0,
    ops: 1,
    fn: () => ed25519.sign(message, seed),
  });
  cases.push({
    group: verify,
    name: "@noble/curves (sync)",
    bytes: 0,
    ops: 1,
    fn: () => ed25519.verify(sig, message, pub),
  });
  const pkcs8 = pkcs8Der("Ed25519", seed);
  const webPriv = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
  cases.push({
    group: sign,
    name: "Web Crypto",
    bytes: 0,
    ops: 1,
    fn: () => crypto.subtle.sign("Ed25519", webPriv, message),
  });
  const webVerify = async () => {
    const k = await crypto.subtle.importKey("raw", pub as Uint8Array<ArrayBuffer>, "Ed25519", false, [
      "verify",
    ]);
    return await crypto.subtle.verify("Ed25519", k, sig as Uint8Array<ArrayBuffer>, message);
  };
  cases.push({ group: verify, name: "Web Crypto, awaited singly", bytes: 0, ops: 1, fn: webVerify });
  cases.push({
    group: verify,
    name: `Web Crypto, ${IN_FLIGHT} in flight`,
    bytes: 0,
    ops: IN_FLIGHT,
    fn: () => Promise.all(Array.from({ length: IN_FLIGHT }, webVerify)),
  });
  const nodePriv = nodeCrypto.createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  const spki = spkiDer("Ed25519", pub);
  cases.push({
    group: sign,
    name: "node:crypto (sync)",
    bytes: 0,
    ops: 1,
    fn: () => nodeCrypto.sign(null, message, nodePriv),
  });
  cases.push({
    group: verify,
    name: "node:crypto (sync)",
    bytes: 0,
    ops: 1,
    fn: () =>
      nodeCrypto.verify(
        null,
        message,
        nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
        sig,
      ),
  });
}

// --- Replay window: two u32 halves (shipped) vs a bigint twin --------------------------------
/** The same rules as ReplayWindow, on bigint counters, only to measure the representation's cost. */
class BigIntReplayWindow {
  #bits = new Uint32Array(8);
  #empty = true;
  #max = 0n;
  check(c: bigint): boolean {
    if (this.#empty || c > this.#max) return true;
    if (this.#max - c >= 256n) return false;
    const i = Number(c & 255n);
    return (this.#bits[i >>> 5] & (1 << (i & 31))) === 0;
  }
  commit(c: bigint): boolean {
    if (!this.check(c)) return false;
    if (this.#empty) {
      this.#empty = false;
      this.#max = c;
    } else if (c > this.#max) {
      const ahead = c - this.#max;
      if (ahead >= 256n) this.#bits.fill(0);
      else {
        for (let s = 1n; s <= ahead; s++) {
          const i = Number((this.#max + s) & 255n);
          this.#bits[i >>> 5] &= ~(1 << (i & 31));
        }
      }
      this.#max = c;
    }
    const i = Number(c & 255n);
    this.#bits[i >>> 5] |= 1 << (i & 31);
    return true;
  }
}
{
  const group = "Replay check+commit (from nonce bytes)";
  const N = 4096;
  // Mostly in order with some reordering, starting above 2^32 so both halves matter.
  const nonces = Array.from({ length: N }, (_, i) => {
    const n = new Uint8Array(12);
    new DataView(n.buffer).setBigUint64(4, 0x1_0000_0000n + BigInt(i + ((i * 7919) % 5)));
    return n;
  });
  let w = new ReplayWindow();
  cases.push({
    group,
    name: "u32 halves (ReplayWindow)",
    bytes: 0,
    ops: N,
    fn: () => {
      w = new ReplayWindow();
      for (const n of nonces) if (w.checkNonce(n)) w.commitNonce(n);
    },
  });
  let b = new BigIntReplayWindow();
  cases.push({
    group,
    name: "bigint",
    bytes: 0,
    ops: N,
    fn: () => {
      b = new BigIntReplayWindow();
      for (const n of nonces) {
        const c = new DataView(n.buffer, n.byteOffset, 12).getBigUint64(4);
        if (b.check(c)) b.commit(c);
      }
    },
  });
}

// --- Drivers --------------------------------------------------------------------------------
/** Calls per second of `fn` over `ms` milliseconds, after a short warm-up. */
async function rate(fn: Case["fn"], ms: number): Promise<number> {
  for (const end = performance.now() + WARMUP_MS; performance.now() < end;) await fn();
  let calls = 0;
  const start = performance.now();
  while (performance.now() < start + ms) {
    await fn();
    calls++;
  }
  return calls / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

if (import.meta.main) {
  // The machine is shared: run every case in several interleaved rounds and report the median
  // (and the best round, the least disturbed one).
  const samples = cases.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < cases.length; i++) samples[i].push(await rate(cases[i].fn, MEASURE_MS / ROUNDS));
  }
  const groups = [...new Set(cases.map((c) => c.group))];
  for (const group of groups) {
    console.log(`\n${group}`);
    cases.forEach((c, i) => {
      if (c.group !== group) return;
      const [med, best] = [median(samples[i]), Math.max(...samples[i])];
      const fmt = (callsPerSec: number) =>
        c.bytes
          ? `${(callsPerSec * c.bytes / 1e6).toFixed(1).padStart(7)} MB/s`
          : `${Math.round(callsPerSec * c.ops).toLocaleString("en").padStart(11)} ops/s`;
      console.log(`  ${c.name.padEnd(30)} median ${fmt(med)}   best ${fmt(best)}`);
    });
  }
} else {
  for (const c of cases) Deno.bench({ group: c.group, name: c.name, fn: async () => void await c.fn() });
}
