import fc from "fast-check";
import { assert, assertEquals } from "../../tests/assert.ts";
import { fromBase64 } from "../bytes.ts";
import { generateEd25519KeyPair, verifyEd25519 } from "../crypto/ed25519.ts";
import { authMessage, canonicalJson, parseAuth, signRequest, staticChallenge } from "./auth.ts";

function shuffleKeys(v: unknown, seed: number): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, seed));
  const entries = Object.entries(v as Record<string, unknown>);
  entries.sort(() => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 3) - 1);
  return Object.fromEntries(entries.map(([k, x]) => [k, shuffleKeys(x, seed)]));
}

Deno.test("canonicalJson is independent of key order and parses back to the same value", () => {
  fc.assert(fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
    const a = canonicalJson(value);
    assertEquals(canonicalJson(shuffleKeys(value, seed)), a);
    assertEquals(JSON.parse(a), JSON.parse(JSON.stringify(value)));
  }));
  assertEquals(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
});

Deno.test("signRequest: the signature covers domain, time, nonce and the whole body", async () => {
  const kp = generateEd25519KeyPair();
  const req = { type: "set_tags", node_id: 7, tags: ["a"] };
  const signed = await signRequest(req, kp.seed, 1_700_000_000_000);
  const auth = parseAuth(signed.auth);
  assert(auth !== null && typeof auth === "object");
  assertEquals(auth.ts, 1_700_000_000_000);
  const ok = verifyEd25519(kp.publicKey, authMessage(signed, auth.ts, auth.nonce), fromBase64(auth.sig));
  assert(ok);
  for (const changed of [{ ...signed, tags: ["b"] }, { ...signed, node_id: 8 }, { ...signed, extra: 1 }]) {
    assert(!verifyEd25519(kp.publicKey, authMessage(changed, auth.ts, auth.nonce), fromBase64(auth.sig)));
  }
  assert(!verifyEd25519(kp.publicKey, authMessage(signed, auth.ts + 1, auth.nonce), fromBase64(auth.sig)));
  // Fresh nonce each time.
  const again = await signRequest(req, kp.seed, 1_700_000_000_000);
  assert((again.auth as { nonce: string }).nonce !== auth.nonce);
});

Deno.test("parseAuth rejects malformed auth objects with a reason", () => {
  assertEquals(parseAuth(undefined), null);
  for (
    const bad of [1, "x", [], { ts: "1", nonce: "", sig: "" }, { ts: 1.5, nonce: "", sig: "" }, { ts: 1 }]
  ) {
    assertEquals(typeof parseAuth(bad), "string");
  }
  assertEquals(typeof parseAuth({ ts: 1, nonce: "AAAA", sig: "" }), "string"); // nonce too short
  // 16 bytes: padded (what signers send), unpadded (still base64 of 16 bytes); 17 bytes and junk are not.
  assertEquals(typeof parseAuth({ ts: 1, nonce: "A".repeat(21) + "w==", sig: "" }), "object");
  assertEquals(typeof parseAuth({ ts: 1, nonce: "A".repeat(22), sig: "" }), "object");
  assertEquals(typeof parseAuth({ ts: 1, nonce: "A".repeat(22) + "A=", sig: "" }), "string");
  assertEquals(typeof parseAuth({ ts: 1, nonce: "A".repeat(21) + "!==", sig: "" }), "string");
});

Deno.test("static challenges match the reference's strings", () => {
  const cases: [Record<string, unknown>, string | null][] = [
    [{ type: "heartbeat", node_id: 7 }, "heartbeat:7"],
    [{ type: "rotate_key", node_id: 7 }, "rotate:7"],
    [{ type: "resolve", requester_id: 3, node_id: 9 }, "resolve:3:9"],
    [{ type: "report_trust", node_id: 3, peer_id: 9 }, "report_trust:3:9"],
    [{ type: "punch", node_a: 3, node_b: 9 }, "punch:3:9"],
    [{ type: "request_handshake", from_node_id: 3, to_node_id: 9 }, "handshake:3:9"],
    [{ type: "respond_handshake", node_id: 9, peer_id: 3 }, "respond:9:3"],
    [{ type: "poll_invites", node_id: 9 }, "poll_invites:9"],
    [{ type: "respond_invite", node_id: 9, network_id: 2 }, "respond_invite:9:2"],
    [{ type: "set_tags", node_id: 7 }, "set_tags:7"],
    [{ type: "join_network", node_id: 7, network_id: 2 }, "join_network:7:2"],
    [{ type: "invite_to_network", inviter_id: 1, network_id: 2, target_node_id: 3 }, "invite:1:2:3"],
    [{ type: "lookup", node_id: 7 }, null],
  ];
  for (const [req, want] of cases) assertEquals(staticChallenge(req), want);
});
