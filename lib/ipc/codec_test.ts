import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { fromHex, toHex, utf8 } from "../bytes.ts";
import { Address } from "../protocol/address.ts";
import {
  Cmd,
  commandName,
  decodeFrame,
  decodeReply,
  decodeRequest,
  encodeFrame,
  encodeRecvFrame,
  encodeRecvFrameOf,
  encodeReply,
  encodeRequest,
  encodeSendFrame,
  IpcError,
  type IpcReply,
  type IpcRequest,
  MAX_SEND_DATA,
  STREAM_FRAME_DATA,
} from "./codec.ts";

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const text = fc.string({ unit: "binary", maxLength: 40 });
const data = fc.uint8Array({ maxLength: 200 });
const addr = fc.tuple(u16, u32).map(([n, h]) => new Address(n, h));

const handshakeOp = fc.oneof(
  fc.record({ sub: fc.constant("request" as const), nodeId: u32, justification: text }),
  fc.record({ sub: fc.constant("approve" as const), nodeId: u32 }),
  fc.record({ sub: fc.constant("reject" as const), nodeId: u32, reason: text }),
  fc.constant({ sub: "pending" as const }),
  fc.constant({ sub: "trusted" as const }),
  fc.record({ sub: fc.constant("revoke" as const), nodeId: u32 }),
);
const networkOp = fc.oneof(
  fc.constant({ sub: "list" as const }),
  fc.record({ sub: fc.constant("join" as const), networkId: u16, token: text }),
  fc.record({ sub: fc.constant("leave" as const), networkId: u16 }),
  fc.record({ sub: fc.constant("members" as const), networkId: u16 }),
  fc.record({ sub: fc.constant("invite" as const), networkId: u16, targetNodeId: u32 }),
  fc.constant({ sub: "poll-invites" as const }),
  fc.record({ sub: fc.constant("respond-invite" as const), networkId: u16, accept: fc.boolean() }),
  fc.record({
    sub: fc.constant("registry" as const),
    request: fc.record({ type: text, network_id: u16 }).map((r) => ({ ...r })),
  }),
);

/** Every request kind; `fc.record` objects are re-spread into plain objects for deep equality. */
const request: fc.Arbitrary<IpcRequest> = fc.oneof(
  u16.map((port) => ({ cmd: Cmd.Bind, port })),
  fc.tuple(addr, u16).map(([a, port]) => ({ cmd: Cmd.Dial, addr: a, port })),
  fc.tuple(u32, data).map(([connId, d]) => ({ cmd: Cmd.Send, connId, data: d })),
  u32.map((connId) => ({ cmd: Cmd.Close, connId })),
  fc.tuple(addr, u16, data).map(([a, port, d]) => ({ cmd: Cmd.SendTo, addr: a, port, data: d })),
  fc.constant({ cmd: Cmd.Info }),
  handshakeOp.map((op) => ({ cmd: Cmd.Handshake, op: { ...op } })),
  text.filter((h) => h.length > 0).map((hostname) => ({ cmd: Cmd.ResolveHostname, hostname })),
  text.map((hostname) => ({ cmd: Cmd.SetHostname, hostname })),
  fc.boolean().map((b) => ({ cmd: Cmd.SetVisibility, public: b })),
  fc.constant({ cmd: Cmd.Deregister }),
  fc.array(text, { maxLength: 3 }).map((tags) => ({ cmd: Cmd.SetTags, tags })),
  text.map((url) => ({ cmd: Cmd.SetWebhook, url })),
  fc.boolean().map((enabled) => ({ cmd: Cmd.SetTaskExec, enabled })),
  networkOp.map((op) => ({ cmd: Cmd.Network, op: { ...op } })),
  fc.constant({ cmd: Cmd.Health }),
);

const jsonExtra = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
/**
 * A JSON body carrying the fields the decoder requires, plus random extras. Typed `never` so it
 * fits any reply's body type: only the codec's byte-level round trip is under test here.
 */
function body(required: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<never> {
  return fc.tuple(jsonExtra, fc.record(required)).map(([extra, req]) =>
    // Round-trip through JSON so the expected value is what the wire can carry (no -0, plain prototypes).
    JSON.parse(JSON.stringify({ ...extra, ...req })) as never
  );
}

const reply: fc.Arbitrary<IpcReply> = fc.oneof(
  u16.map((port) => ({ cmd: Cmd.BindOK, port })),
  u32.map((connId) => ({ cmd: Cmd.DialOK, connId })),
  fc.tuple(u16, u32, addr, u16).map(([localPort, connId, remote, remotePort]) => ({
    cmd: Cmd.Accept,
    localPort,
    connId,
    remote,
    remotePort,
  })),
  fc.tuple(u32, data).map(([connId, d]) => ({ cmd: Cmd.Recv, connId, data: d })),
  u32.map((connId) => ({ cmd: Cmd.CloseOK, connId })),
  fc.tuple(u16, text).map(([code, message]) => ({ cmd: Cmd.Error, code, message })),
  fc.tuple(addr, u16, u16, data).map(([src, srcPort, dstPort, d]) => ({
    cmd: Cmd.RecvFrom,
    src,
    srcPort,
    dstPort,
    data: d,
  })),
  body({ node_id: u32, address: fc.string() }).map((b) => ({ cmd: Cmd.InfoOK, body: b })),
  body({ status: fc.constantFrom("sent", "approved"), node_id: u32 }).map((b) => ({
    cmd: Cmd.HandshakeOK,
    body: b,
  })),
  body({ pending: fc.constant([]) }).map((b) => ({ cmd: Cmd.HandshakeOK, body: b })),
  body({ node_id: u32, address: fc.string() }).map((b) => ({ cmd: Cmd.ResolveHostnameOK, body: b })),
  ...([
    Cmd.SetHostnameOK,
    Cmd.SetVisibilityOK,
    Cmd.DeregisterOK,
    Cmd.SetTagsOK,
    Cmd.SetTaskExecOK,
    Cmd.NetworkOK,
  ]
    .map((cmd) => body({}).map((b) => ({ cmd, body: b })))),
  body({ webhook: fc.string() }).map((b) => ({ cmd: Cmd.SetWebhookOK, body: b })),
  body({ status: fc.constant("ok"), uptime_seconds: u32 }).map((b) => ({ cmd: Cmd.HealthOK, body: b })),
);

Deno.test("property: every request round-trips through encodeRequest/decodeRequest", () => {
  fc.assert(
    fc.property(request, (req) => assertEquals(decodeRequest(decodeFrame(encodeRequest(req))), req)),
    {
      numRuns: 500,
    },
  );
});

Deno.test("property: every reply round-trips through encodeReply/decodeReply", () => {
  fc.assert(fc.property(reply, (rep) => assertEquals(decodeReply(decodeFrame(encodeReply(rep))), rep)), {
    numRuns: 500,
  });
});

Deno.test("exact bytes of hand-written requests", () => {
  const hex = (req: IpcRequest) => toHex(encodeRequest(req));
  assertEquals(hex({ cmd: Cmd.Bind, port: 80 }), "00000003010050");
  assertEquals(
    hex({ cmd: Cmd.Dial, addr: Address.parse("1:0001.F291.0004"), port: 1000 }),
    "00000009" + "03" + "0001f2910004" + "03e8",
  );
  assertEquals(hex({ cmd: Cmd.Send, connId: 7, data: utf8("hi") }), "00000007" + "06" + "00000007" + "6869");
  assertEquals(
    hex({ cmd: Cmd.Handshake, op: { sub: "request", nodeId: 42, justification: "hi" } }),
    "00000008" + "0f" + "01" + "0000002a" + "6869",
  );
  assertEquals(
    hex({ cmd: Cmd.Network, op: { sub: "invite", networkId: 5, targetNodeId: 16 } }),
    "00000008" + "1f" + "05" + "0005" + "00000010",
  );
  assertEquals(hex({ cmd: Cmd.SetTags, tags: ["a", "b"] }), "0000000a" + "19" + toHex(utf8('["a","b"]')));
  assertEquals(hex({ cmd: Cmd.SetVisibility, public: true }), "000000021501");
  assertEquals(hex({ cmd: Cmd.Health }), "0000000121");
});

Deno.test("exact bytes of hand-written replies", () => {
  const hex = (rep: IpcReply) => toHex(encodeReply(rep));
  assertEquals(
    hex({ cmd: Cmd.Accept, localPort: 1000, connId: 7, remote: new Address(0, 42), remotePort: 49152 }),
    "0000000f" + "05" + "03e8" + "00000007" + "00000000002a" + "c000",
  );
  assertEquals(
    hex({ cmd: Cmd.Error, code: 1, message: "port 7 already bound" }),
    "00000017" + "0a" + "0001" + toHex(utf8("port 7 already bound")),
  );
  // Keys come out sorted, like the reference's encoder.
  assertEquals(
    hex({ cmd: Cmd.HealthOK, body: { uptime_seconds: 3, status: "ok" } as never }),
    toHex(encodeFrame(Cmd.HealthOK, utf8('{"status":"ok","uptime_seconds":3}'))),
  );
  assertEquals(
    hex({ cmd: Cmd.RecvFrom, src: new Address(1, 2), srcPort: 7, dstPort: 1000, data: utf8("x") }),
    "0000000c" + "0c" + "000100000002" + "0007" + "03e8" + "78",
  );
});

Deno.test("truncated requests fail with the reference daemon's texts", () => {
  const cases: [string, string][] = [
    ["01", "bind: missing port"],
    ["010a", "bind: missing port"],
    ["03 0001f2910004 03", "dial: missing address/port"],
    ["06 000000", "send: missing conn_id"],
    ["08", "close: missing conn_id"],
    ["0b 000100000002", "sendto: missing address/port"],
    ["0f", "handshake: missing sub-command"],
    ["0f 01 0000", "handshake request: missing node_id"],
    ["0f 02", "handshake approve: missing node_id"],
    ["0f 03 00", "handshake reject: missing node_id"],
    ["0f 06 000000", "handshake revoke: missing node_id"],
    ["0f 07", "handshake: unknown sub-command 0x07"],
    ["11", "resolve_hostname: missing hostname"],
    ["15", "set_visibility: missing value"],
    ["1d", "set_task_exec: missing value"],
    ["19 5b", "set_tags: invalid JSON: "],
    ["19 7b7d", "set_tags: invalid JSON: expected an array of strings"],
    ["19 " + toHex(utf8('["a","b","c","d"]')), "set_tags: maximum 3 tags allowed"],
    ["1f", "network: missing sub-command"],
    ["1f 02 00", "network join: missing network_id"],
    ["1f 03", "network leave: missing network_id"],
    ["1f 04 00", "network members: missing network_id"],
    ["1f 05 0001 000000", "network invite: missing network_id or target_node_id"],
    ["1f 07 0001", "network respond-invite: missing network_id or accept flag"],
    ["1f 0a", "network: unknown sub-command 0x0A"],
    ["1f 10", "network registry: invalid JSON: "],
    ["1f 10 " + toHex(utf8("[]")), "network registry: expected a JSON object with a string `type`"],
    ["1f 10 " + toHex(utf8('{"type":7}')), "network registry: expected a JSON object with a string `type`"],
    ["02 0050", "unknown command: 0x02"],
    ["ff", "unknown command: 0xFF"],
  ];
  for (const [hex, message] of cases) {
    const bytes = fromHex(hex);
    const frame = { cmd: bytes[0], payload: bytes.subarray(1) };
    const err = assertThrows(() => decodeRequest(frame), IpcError);
    assertEquals(err.message.startsWith(message), true, `${hex}: got ${err.message}`);
  }
});

Deno.test("decoders ignore extra bytes after a fixed-size payload and treat flag != 1 as off", () => {
  assertEquals(decodeRequest({ cmd: Cmd.Bind, payload: fromHex("0050ffff") }), { cmd: Cmd.Bind, port: 80 });
  assertEquals(decodeRequest({ cmd: Cmd.SetVisibility, payload: fromHex("02") }), {
    cmd: Cmd.SetVisibility,
    public: false,
  });
  assertEquals(decodeRequest({ cmd: Cmd.SetTags, payload: utf8("null") }), { cmd: Cmd.SetTags, tags: [] });
});

Deno.test("JSON replies must be objects with the fields the SDK relies on", () => {
  assertThrows(
    () => decodeReply({ cmd: Cmd.InfoOK, payload: utf8("[]") }),
    IpcError,
    /expected a JSON object/,
  );
  assertThrows(() => decodeReply({ cmd: Cmd.HealthOK, payload: utf8("{}") }), IpcError, /status/);
  assertThrows(() => decodeReply({ cmd: Cmd.NetworkOK, payload: utf8("{") }), IpcError, /invalid JSON/);
  assertThrows(
    () => decodeReply({ cmd: Cmd.Bind, payload: new Uint8Array(2) }),
    IpcError,
    /unexpected command/,
  );
});

Deno.test("encoders validate fields and frame size", () => {
  assertThrows(() => encodeRequest({ cmd: Cmd.Bind, port: 70000 }), IpcError, /port/);
  assertThrows(() => encodeRequest({ cmd: Cmd.Close, connId: -1 }), IpcError, /conn_id/);
  assertThrows(() => encodeSendFrame(1, new Uint8Array(MAX_SEND_DATA + 1)), IpcError, /exceeds/);
  assertEquals(encodeSendFrame(1, new Uint8Array(MAX_SEND_DATA)).length, 1 << 20 | 4);
  assertThrows(() => encodeRequest({ cmd: Cmd.SetTags, tags: [1 as unknown as string] }), IpcError);
  assertEquals(commandName(0x22), "HealthOK");
  assertEquals(commandName(0x99), "0x99");
});

Deno.test("a Recv frame built from parts equals one built from their concatenation; stream frames are 64 KiB", () => {
  const parts = [utf8("ab"), new Uint8Array(0), utf8("cde")];
  assertEquals(encodeRecvFrameOf(7, parts), encodeRecvFrame(7, utf8("abcde")));
  const half = new Uint8Array(MAX_SEND_DATA / 2 + 1);
  assertThrows(() => encodeRecvFrameOf(7, [half, half]), IpcError, /exceeds/);
  assertEquals(encodeSendFrame(1, new Uint8Array(STREAM_FRAME_DATA)).length, 64 * 1024);
});

Deno.test("fuzz: random and truncated payloads make the decoders throw only IpcError", () => {
  const only = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof IpcError)) throw err;
    }
  };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }), (cmd, payload) => {
      only(() => decodeRequest({ cmd, payload }));
      only(() => decodeReply({ cmd, payload }));
    }),
    { numRuns: 3000 },
  );
  // Every prefix of every valid frame's payload.
  fc.assert(
    fc.property(fc.oneof(request.map(encodeRequest), reply.map(encodeReply)), (bytes) => {
      const f = decodeFrame(bytes);
      for (let n = 0; n <= f.payload.length; n++) {
        const cut = { cmd: f.cmd, payload: f.payload.subarray(0, n) };
        only(() => decodeRequest(cut));
        only(() => decodeReply(cut));
      }
    }),
    { numRuns: 300 },
  );
});
