import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { forkPoint, parseHistory, tokenMatches } from "./protocol.ts";

Deno.test("forkPoint: where a log whose last event came from an older epoch stops matching", () => {
  const history = [{ epoch: 1, start_seq: 101 }, { epoch: 2, start_seq: 151 }];
  assertEquals(forkPoint(history, 0), 101); // epoch-0 events from 101 on were replaced by epoch 1's
  assertEquals(forkPoint(history, 1), 151);
  assertEquals(forkPoint(history, 2), null); // same epoch as the primary: a prefix, however long
  assertEquals(forkPoint([], 0), null);
});

Deno.test("parseHistory refuses malformed epoch histories", () => {
  assertEquals(parseHistory([{ epoch: 1, start_seq: 5 }]), [{ epoch: 1, start_seq: 5 }]);
  for (
    const bad of [null, "x", [{ epoch: -1, start_seq: 1 }], [{ epoch: 1 }], [{ epoch: 1.5, start_seq: 1 }], [
      7,
    ]]
  ) {
    assertThrows(() => parseHistory(bad), Error);
  }
});

Deno.test("tokenMatches: empty configured token means replication is off", () => {
  assertEquals(tokenMatches("t", ""), false);
  assertEquals(tokenMatches(undefined, "t"), false);
  assertEquals(tokenMatches("t", "t"), true);
  assertEquals(tokenMatches("u", "t"), false);
});
