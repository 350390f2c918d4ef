import fc from "fast-check";
import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex } from "../bytes.ts";
import { MAX_RETIRED_PREFIXES, PrefixReplayGuard, REPLAY_WINDOW_SIZE, ReplayWindow } from "./replay.ts";
import { CryptoInputError } from "./errors.ts";

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Applies check+commit, as a receiver does for a frame that authenticates. */
function accept(w: ReplayWindow, c: bigint): boolean {
  return w.check(c) && w.commit(c);
}

/** The docs/protocol/wire.md §6.4 rules stated over a set of accepted counters instead of a bitmap. */
class SetModel {
  readonly seen = new Set<bigint>();
  max = -1n; // -1: nothing accepted yet
  check(c: bigint): boolean {
    if (this.max < 0n || c > this.max) return true;
    if (this.max - c >= BigInt(REPLAY_WINDOW_SIZE)) return false;
    return !this.seen.has(c);
  }
  commit(c: bigint): boolean {
    if (!this.check(c)) return false;
    this.seen.add(c);
    if (c > this.max) this.max = c;
    return true;
  }
}

Deno.test("replay: in-order counters are accepted once", () => {
  const w = new ReplayWindow();
  for (let c = 1n; c <= 1000n; c++) assert(accept(w, c), `counter ${c}`);
  for (let c = 745n; c <= 1000n; c++) assert(!w.check(c), `replayed ${c}`);
  assertEquals(w.max, 1000n);
});

Deno.test("replay: out of order inside the window is accepted, duplicates are not", () => {
  const w = new ReplayWindow();
  assert(accept(w, 300n));
  assert(accept(w, 299n));
  assert(accept(w, 45n)); // d = 255: the oldest slot still inside
  assert(!accept(w, 44n)); // d = 256: too old
  assert(!accept(w, 299n));
  assert(!accept(w, 300n));
  assert(!accept(w, 45n));
  assert(accept(w, 100n));
});

Deno.test("replay: too old means d >= 256", () => {
  const w = new ReplayWindow();
  assert(accept(w, 1000n));
  assert(!w.check(1000n - 256n));
  assert(!w.check(0n));
  assert(w.check(1000n - 255n));
});

Deno.test("replay: a jump of >= 256 clears the bitmap, a smaller one clears only the slots it passes", () => {
  const w = new ReplayWindow();
  for (let c = 1n; c <= 10n; c++) accept(w, c);
  assert(accept(w, 266n)); // jump 256: everything older is out of range anyway
  assert(!w.check(10n));
  assert(w.check(11n)); // d = 255 and never seen
  assert(accept(w, 11n));
  // Jump 200: slot of counter 267..466 cleared, slot of 11 (= 267 mod 256) must be reusable.
  assert(accept(w, 466n));
  assert(!w.check(11n)); // now too old
  assert(w.check(267n));
  assert(!w.check(266n)); // still remembered
});

Deno.test("replay: counter 0 is accepted once as a first frame and never replayed", () => {
  const w = new ReplayWindow();
  assert(w.check(0n));
  assert(accept(w, 0n));
  assert(!w.check(0n), "the reference would accept this replay (max == 0 special case); we do not");
  assert(accept(w, 1n));
  assert(!w.check(0n));
  const fresh = new ReplayWindow();
  assert(accept(fresh, 5n));
  assert(accept(fresh, 0n)); // d = 5, unseen
  assert(!accept(fresh, 0n));
});

Deno.test("replay: check has no side effects; only commit moves the window", () => {
  const w = new ReplayWindow();
  assert(accept(w, 10n));
  // A forged frame with a huge counter passes check, fails authentication, is never committed.
  assert(w.check(1n << 60n));
  assertEquals(w.max, 10n);
  assert(w.check(9n));
  assert(!w.check(10n));
  // Two opens of the same counter in flight: the second commit reports the replay.
  assert(w.check(11n) && w.check(11n));
  assert(w.commit(11n));
  assert(!w.commit(11n));
});

Deno.test("replay: the full u64 range, including across 2^32 and near 2^64", () => {
  const w = new ReplayWindow();
  assert(accept(w, 0xffff_ff00n));
  assert(accept(w, 0x1_0000_0010n)); // crosses the 32-bit boundary, jump 0x110 >= 256
  assert(!w.check(0xffff_ff00n));
  assert(accept(w, 0x1_0000_0000n - 1n)); // d = 17
  assert(!accept(w, 0xffff_ffffn));
  assert(accept(w, U64_MAX - 1n));
  assert(accept(w, U64_MAX));
  assert(!w.check(U64_MAX));
  assert(accept(w, U64_MAX - 255n));
  assert(!w.check(U64_MAX - 256n));
  assertThrows(() => w.check(U64_MAX + 1n), CryptoInputError);
  assertThrows(() => w.check(-1n), CryptoInputError);
});

Deno.test("replay: nonce forms read the counter from bytes 4..12", () => {
  const w = new ReplayWindow();
  const nonce = fromHex("a1b2c3d4 00000001 00000002");
  assert(w.checkNonce(nonce) && w.commitNonce(nonce));
  assertEquals(w.max, 0x1_0000_0002n);
  assert(!w.checkNonce(nonce));
  assertThrows(() => w.checkNonce(new Uint8Array(11)), CryptoInputError);
});

Deno.test("replay: reset forgets everything", () => {
  const w = new ReplayWindow();
  accept(w, 7n);
  w.reset();
  assertEquals(w.max, 0n);
  assert(accept(w, 7n));
});

const counterArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 600n }),
  fc.bigInt({ min: 0xffff_fe00n, max: 0x1_0000_0200n }),
  fc.bigInt({ min: U64_MAX - 600n, max: U64_MAX }),
);
// Operations: a counter to check-and-commit, or (forged=true) one that is only checked.
const opsArb = fc.array(
  fc.record({ counter: counterArb, forged: fc.boolean() }),
  { maxLength: 300 },
);

Deno.test("replay: agrees with a Set-based model of the rules (fast-check)", () => {
  fc.assert(
    fc.property(opsArb, (ops) => {
      const w = new ReplayWindow();
      const model = new SetModel();
      for (const { counter, forged } of ops) {
        assertEquals(w.check(counter), model.check(counter), `check ${counter}`);
        if (!forged) assertEquals(w.commit(counter), model.commit(counter), `commit ${counter}`);
      }
    }),
    { numRuns: 300 },
  );
});

Deno.test("replay: clustered sequences with jitter agree with the model (fast-check)", () => {
  // Mostly-increasing counters with reordering and duplicates, the realistic case.
  const deltasArb = fc.array(fc.integer({ min: -300, max: 300 }), { minLength: 1, maxLength: 500 });
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: U64_MAX - 200_000n }), deltasArb, (start, deltas) => {
      const w = new ReplayWindow();
      const model = new SetModel();
      let c = start;
      for (const d of deltas) {
        c += BigInt(d);
        if (c < 0n) c = 0n;
        assertEquals(w.check(c) && w.commit(c), model.check(c) && model.commit(c), `counter ${c}`);
      }
    }),
    { numRuns: 200 },
  );
});

function nonce(prefix: number, counter: bigint): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, prefix);
  view.setBigUint64(4, counter);
  return out;
}

function acceptNonce(g: PrefixReplayGuard, n: Uint8Array): boolean {
  return g.checkNonce(n) && g.commitNonce(n);
}

Deno.test("replay guard: a fresh prefix starts a fresh window, the previous one keeps working", () => {
  const g = new PrefixReplayGuard();
  const A = 0xa1b2c3d4, B = 0x01020304;
  for (let c = 1n; c <= 5n; c++) assert(acceptNonce(g, nonce(A, c)));
  assert(!g.checkNonce(nonce(A, 3n)));
  // Peer re-derived: counter restarts at 1 under a new prefix.
  assert(acceptNonce(g, nonce(B, 1n)));
  assertEquals(g.currentPrefix, B);
  assert(acceptNonce(g, nonce(B, 2n)));
  assert(!acceptNonce(g, nonce(B, 1n)));
  // Straggler from A still accepted once, replay of A still refused.
  assert(acceptNonce(g, nonce(A, 6n)));
  assert(!acceptNonce(g, nonce(A, 6n)));
  assert(!acceptNonce(g, nonce(A, 2n)));
});

Deno.test("replay guard: a forged new prefix that never authenticates changes nothing", () => {
  const g = new PrefixReplayGuard();
  assert(acceptNonce(g, nonce(1, 1n)));
  assert(g.checkNonce(nonce(99, 1n))); // would be a fresh window, but is never committed
  assertEquals(g.currentPrefix, 1);
  assert(!g.checkNonce(nonce(1, 1n)));
});

Deno.test("replay guard: prefixes older than the previous one are refused", () => {
  const g = new PrefixReplayGuard();
  assert(acceptNonce(g, nonce(1, 1n)));
  assert(acceptNonce(g, nonce(2, 1n)));
  assert(acceptNonce(g, nonce(3, 1n)));
  // Prefix 1 is retired: a recorded frame of it would authenticate under an unchanged key.
  assert(!g.checkNonce(nonce(1, 100n)));
  assert(!g.commitNonce(nonce(1, 100n)));
  assert(acceptNonce(g, nonce(2, 2n)));
  // Only MAX_RETIRED_PREFIXES are remembered.
  for (let p = 4; p < 4 + MAX_RETIRED_PREFIXES; p++) assert(acceptNonce(g, nonce(p, 1n)));
  assert(g.checkNonce(nonce(1, 100n)));
  assert(!g.checkNonce(nonce(2, 100n)));
  g.reset();
  assertEquals(g.currentPrefix, -1);
  assert(acceptNonce(g, nonce(2, 1n)));
});
