import { assertEquals } from "../tests/assert.ts";
import { closeQuietly, errorMessage, ignoreRejection, settleQuietly } from "./errors.ts";

Deno.test("errorMessage: an Error's message, anything else as a string", () => {
  assertEquals(errorMessage(new RangeError("out of range")), "out of range");
  assertEquals(errorMessage("plain"), "plain");
  assertEquals(errorMessage(7), "7");
  assertEquals(errorMessage(undefined), "undefined");
  assertEquals(errorMessage({ message: "not an Error" }), "[object Object]");
});

Deno.test("settleQuietly: the value on success, undefined on rejection", async () => {
  assertEquals(await settleQuietly(Promise.resolve(3), "cleanup"), 3);
  assertEquals(await settleQuietly(Promise.reject(new Error("x")), "cleanup"), undefined);
});

Deno.test("ignoreRejection: a rejected promise does not surface as an unhandled rejection", async () => {
  // Deno fails the test on an unhandled rejection, so finishing cleanly is the assertion.
  ignoreRejection(Promise.reject(new Error("gone")), "peer gone");
  await new Promise((resolve) => setTimeout(resolve, 10));
});

Deno.test("closeQuietly: sync and async close errors are swallowed, a missing resource is fine", async () => {
  let closed = 0;
  await closeQuietly({ close: () => closed++ });
  await closeQuietly({
    close: () => {
      throw new Error("already closed");
    },
  });
  await closeQuietly({ close: () => Promise.reject(new Error("already closed")) });
  await closeQuietly(undefined);
  assertEquals(closed, 1);
});
