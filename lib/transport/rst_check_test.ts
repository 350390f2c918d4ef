import { assertEquals } from "../../tests/assert.ts";
import { judgeRst, type RstCheckState } from "./rst_check.ts";

const EST: RstCheckState = { synSent: false, sndNxt: 501, rcvNxt: 1001, rcvWindow: 4096 };

Deno.test("judgeRst: RFC 5961 §3 verdicts by Seq against the receive window", () => {
  assertEquals(judgeRst(1001, 501, EST), "accept");
  assertEquals(judgeRst(1002, 501, EST), "challenge");
  assertEquals(judgeRst(1001 + 4095, 0, EST), "challenge");
  assertEquals(judgeRst(1001 + 4096, 0, EST), "ignore");
  assertEquals(judgeRst(1000, 0, EST), "ignore");
  assertEquals(judgeRst(5, 9, EST), "ignore");
});

Deno.test("judgeRst: Seq/Ack wrap around 2^32", () => {
  const st = { ...EST, rcvNxt: 0xffff_fff0 };
  assertEquals(judgeRst(0xffff_fff0, 1, st), "accept");
  assertEquals(judgeRst(0x10, 1, st), "challenge");
  assertEquals(judgeRst(0xffff_ff00, 1, st), "ignore");
});

Deno.test("judgeRst: SYN_SENT accepts only an RST acknowledging our SYN", () => {
  const st = { synSent: true, sndNxt: 1, rcvNxt: 0, rcvWindow: 4096 };
  assertEquals(judgeRst(0, 1, st), "accept");
  assertEquals(judgeRst(0, 2, st), "ignore");
  assertEquals(judgeRst(7, 0, st), "ignore");
});

Deno.test("judgeRst: the reference's RST (Seq 0, Ack 0) carries nothing to check and is accepted in any state", () => {
  assertEquals(judgeRst(0, 0, EST), "accept");
  assertEquals(judgeRst(0, 0, { synSent: true, sndNxt: 1, rcvNxt: 0, rcvWindow: 4096 }), "accept");
});
