import { assert, assertEquals, assertRejects, assertThrows } from "../../tests/assert.ts";
import { concatBytes, fromHex, toHex } from "../bytes.ts";
import {
  createSecureChannelCipher,
  createTunnelCipher,
  createTunnelCipherSync,
  LAST_COUNTER,
  nonceCounter,
  SECURE_CLIENT_PREFIX,
  SECURE_SERVER_PREFIX,
  type TunnelCipher,
} from "./aead.ts";
import { type AesGcmBackend, importAesGcmKey, importAesGcmKeySync } from "./aes_gcm.ts";
import { CounterExhaustedError, CryptoError } from "./errors.ts";
import { primitives } from "./primitives.ts";

// docs/protocol/wire.md §6.2 PILS vector.
const K_TUNNEL = "3e765a2f49fe2a9185dd5d57c08a3525060d2d2c2b2a356fadef25f614d38662";
const SYN = "11010000000000000001000000000002C00003E800000000000000000200145ED874";
const PILS_MAGIC = fromHex("50494C53");
const SENDER = fromHex("00000001");
const PREFIX = fromHex("A1B2C3D4");
const PILS_FRAME = "50494C53 00000001 A1B2C3D40000000000000001" +
  "0443BBA68EEBFD923233A502903A7C30A9E289A73D0C94E7CCA9E98EED540FD163A1" +
  "B5B13D992EA53C306E479AF3BF448922";

const BACKENDS: AesGcmBackend[] = ["node", "webcrypto", "hybrid"];

function frame(nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  return concatBytes(PILS_MAGIC, SENDER, nonce, sealed);
}

Deno.test("aead: PILS vector, synchronous node:crypto", () => {
  const tx = createTunnelCipherSync(fromHex(K_TUNNEL), { prefix: PREFIX });
  const { nonce, ciphertextWithTag } = tx.sealSync(fromHex(SYN), SENDER);
  const bytes = frame(nonce, ciphertextWithTag);
  assertEquals(bytes.length, 70);
  assertEquals(toHex(bytes), toHex(fromHex(PILS_FRAME)));
  assertEquals(toHex(tx.openSync(nonce, ciphertextWithTag, SENDER)), SYN.toLowerCase());
});

for (const backend of BACKENDS) {
  Deno.test(`aead: PILS vector, async ${backend}`, async () => {
    const tx = await createTunnelCipher(fromHex(K_TUNNEL), { prefix: PREFIX, backend });
    // "node" asks for the process's synchronous engine, which names itself (libcrypto or node).
    assertEquals(tx.backend, backend === "node" ? primitives.name : backend);
    const { nonce, ciphertextWithTag } = await tx.seal(fromHex(SYN), SENDER);
    assertEquals(toHex(frame(nonce, ciphertextWithTag)), toHex(fromHex(PILS_FRAME)));
    assertEquals(toHex(await tx.open(nonce, ciphertextWithTag, SENDER)), SYN.toLowerCase());
  });
}

Deno.test("aead: node and webcrypto backends interoperate both ways", async () => {
  const node = importAesGcmKeySync(fromHex(K_TUNNEL));
  const web = await importAesGcmKey(fromHex(K_TUNNEL), "webcrypto");
  const nonce = fromHex("0102030400000000000000ff");
  const aad = fromHex("deadbeef");
  const msg = crypto.getRandomValues(new Uint8Array(1500));
  assertEquals(toHex(await web.open(nonce, node.sealSync(nonce, msg, aad), aad)), toHex(msg));
  assertEquals(toHex(node.openSync(nonce, await web.seal(nonce, msg, aad), aad)), toHex(msg));
});

Deno.test("aead: building a cipher zeroes the raw key", async () => {
  for (const backend of BACKENDS) {
    const key = fromHex(K_TUNNEL);
    await createTunnelCipher(key, { backend });
    assertEquals(toHex(key), "00".repeat(32), backend);
  }
  const key = fromHex(K_TUNNEL);
  createTunnelCipherSync(key);
  assertEquals(toHex(key), "00".repeat(32));
});

Deno.test("aead: first frame carries counter 1, then 2, 3; prefix is random per context", () => {
  const a = createTunnelCipherSync(new Uint8Array(32));
  const b = createTunnelCipherSync(new Uint8Array(32));
  const counters = [0, 1, 2].map(() => nonceCounter(a.sealSync(new Uint8Array(0), SENDER).nonce));
  assertEquals(counters, [1n, 2n, 3n]);
  assertEquals(a.nextCounter, 4n);
  // 2^-32 chance of a false failure.
  assert(toHex(a.prefix) !== toHex(b.prefix));
  assertEquals(toHex(a.nextNonce().subarray(0, 4)), toHex(a.prefix));
});

Deno.test("aead: counter carries across the 32-bit boundary", () => {
  const tx = createTunnelCipherSync(new Uint8Array(32), { firstCounter: 0xffff_ffffn });
  assertEquals(toHex(tx.nextNonce().subarray(4)), "00000000ffffffff");
  assertEquals(toHex(tx.nextNonce().subarray(4)), "0000000100000000");
});

Deno.test("aead: sealing refuses once the counter is exhausted", async () => {
  const tx = createTunnelCipherSync(new Uint8Array(32), { firstCounter: LAST_COUNTER });
  const last = tx.sealSync(new Uint8Array(1), SENDER);
  assertEquals(nonceCounter(last.nonce), LAST_COUNTER);
  assert(tx.exhausted);
  assertThrows(() => tx.sealSync(new Uint8Array(1), SENDER), CounterExhaustedError, /re-key/);
  await assertRejects(() => tx.seal(new Uint8Array(1), SENDER), CounterExhaustedError);
  // Still exhausted: a refused seal must not advance or wrap the counter.
  assertThrows(() => tx.nextNonce(), CounterExhaustedError);
});

Deno.test("aead: a batch that would exhaust the counter seals nothing", async () => {
  const tx = await createTunnelCipher(new Uint8Array(32), { firstCounter: LAST_COUNTER - 1n });
  const req = { plaintext: new Uint8Array(4), aad: SENDER };
  await assertRejects(() => tx.sealBatch([req, req, req]), CounterExhaustedError);
  assertEquals(tx.nextCounter, LAST_COUNTER - 1n);
  assertEquals((await tx.sealBatch([req, req])).length, 2);
  assert(tx.exhausted);
});

Deno.test("aead: sealBatch keeps order and consecutive counters with 64 in flight", async () => {
  const tx = await createTunnelCipher(fromHex(K_TUNNEL), { backend: "webcrypto" });
  const requests = Array.from({ length: 64 }, (_, i) => ({ plaintext: Uint8Array.of(i), aad: SENDER }));
  const sealed = await tx.sealBatch(requests);
  for (let i = 0; i < sealed.length; i++) {
    assertEquals(nonceCounter(sealed[i].nonce), BigInt(i + 1));
    assertEquals([...await tx.open(sealed[i].nonce, sealed[i].ciphertextWithTag, SENDER)], [i]);
  }
});

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

async function expectRejected(cipher: TunnelCipher, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array) {
  if (cipher.sync) assertThrows(() => cipher.openSync(nonce, sealed, aad), CryptoError, /authentication/);
  await assertRejects(() => cipher.open(nonce, sealed, aad), CryptoError, /authentication/);
}

for (const backend of BACKENDS) {
  Deno.test(`aead: flipped bits in ciphertext, tag, nonce or AAD are rejected (${backend})`, async () => {
    const tx = await createTunnelCipher(fromHex(K_TUNNEL), { prefix: PREFIX, backend });
    const { nonce, ciphertextWithTag: sealed } = await tx.seal(fromHex(SYN), SENDER);
    const ctBits = (sealed.length - 16) * 8;
    for (const bit of [0, 7, 100, ctBits - 1]) await expectRejected(tx, nonce, flipped(sealed, bit), SENDER);
    for (const bit of [ctBits, ctBits + 64, sealed.length * 8 - 1]) {
      await expectRejected(tx, nonce, flipped(sealed, bit), SENDER);
    }
    for (const bit of [0, 31, 32, 95]) await expectRejected(tx, flipped(nonce, bit), sealed, SENDER);
    for (const bit of [0, 31]) await expectRejected(tx, nonce, sealed, flipped(SENDER, bit));
    await expectRejected(tx, nonce, sealed.subarray(0, sealed.length - 1), SENDER);
    await expectRejected(tx, nonce, sealed, concatBytes(SENDER, Uint8Array.of(0)));
  });
}

Deno.test("aead: a different key cannot open", async () => {
  const a = createTunnelCipherSync(fromHex(K_TUNNEL));
  const other = fromHex(K_TUNNEL);
  other[0] ^= 1;
  const b = createTunnelCipherSync(other);
  const { nonce, ciphertextWithTag } = a.sealSync(fromHex(SYN), SENDER);
  await expectRejected(b, nonce, ciphertextWithTag, SENDER);
});

Deno.test("aead: malformed lengths are CryptoErrors", async () => {
  assertThrows(() => createTunnelCipherSync(new Uint8Array(16)), CryptoError, /32 bytes, got 16/);
  await assertRejects(() => createTunnelCipher(new Uint8Array(33)), CryptoError, /32 bytes, got 33/);
  assertThrows(() => createTunnelCipherSync(new Uint8Array(32), { prefix: new Uint8Array(3) }), CryptoError);
  const tx = createTunnelCipherSync(new Uint8Array(32));
  assertThrows(() => tx.openSync(new Uint8Array(11), new Uint8Array(16), SENDER), CryptoError, /nonce/);
  assertThrows(() => tx.openSync(new Uint8Array(12), new Uint8Array(15), SENDER), CryptoError, /at least 16/);
  const web = await createTunnelCipher(new Uint8Array(32), { backend: "webcrypto" });
  assertThrows(() => web.sealSync(new Uint8Array(1), SENDER), CryptoError, /async only/);
});

Deno.test("aead: port-443 ciphers use role prefixes and AAD = sender prefix", () => {
  const key = "cddb817500383058931b912ed913882f4a6f0facbe47dd907100dac3913a2dbf";
  const server = createSecureChannelCipher(fromHex(key), "server");
  const client = createSecureChannelCipher(fromHex(key), "client");
  const hello = new TextEncoder().encode("hello");
  const fromClient = client.seal(hello);
  assertEquals(toHex(fromClient.nonce), toHex(SECURE_CLIENT_PREFIX) + "0000000000000001");
  assertEquals(toHex(server.open(fromClient.nonce, fromClient.ciphertextWithTag)), toHex(hello));
  const fromServer = server.seal(hello);
  assertEquals(toHex(fromServer.nonce), toHex(SECURE_SERVER_PREFIX) + "0000000000000001");
  assertEquals(toHex(client.open(fromServer.nonce, fromServer.ciphertextWithTag)), toHex(hello));
  // AAD really is the prefix: an independent open with the prefix as AAD succeeds.
  const raw = importAesGcmKeySync(fromHex(key));
  assertEquals(
    toHex(raw.openSync(fromServer.nonce, fromServer.ciphertextWithTag, SECURE_SERVER_PREFIX)),
    toHex(hello),
  );
  // Replayed frame, reflected frame of our own.
  assertThrows(
    () => client.open(fromServer.nonce, fromServer.ciphertextWithTag),
    CryptoError,
    /did not increase/,
  );
  const own = server.seal(hello);
  assertThrows(() => server.open(own.nonce, own.ciphertextWithTag), CryptoError, /role prefix/);
});
