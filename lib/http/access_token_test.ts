import { assertEquals } from "../../tests/assert.ts";
import { isLoopbackBind } from "./access_token.ts";

Deno.test("only loopback binds go without a token", () => {
  for (const bound of [undefined, "127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"]) {
    assertEquals(isLoopbackBind(bound), true, String(bound));
  }
  for (const bound of ["0.0.0.0", "::", "", "192.168.1.5", "10.0.0.1", "example.com", "128.0.0.1"]) {
    assertEquals(isLoopbackBind(bound), false, bound);
  }
});
