import fc from "fast-check";
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { Ring } from "./ring.ts";

Deno.test("ring: behaves like an array queue under any push/shift sequence", () => {
  const op = fc.oneof(fc.integer().map((v) => ({ push: true, v })), fc.constant({ push: false, v: 0 }));
  fc.assert(fc.property(fc.array(op, { maxLength: 500 }), (ops) => {
    const r = new Ring<number>();
    const model: number[] = [];
    for (const o of ops) {
      if (o.push) {
        r.push(o.v);
        model.push(o.v);
      } else assertEquals(r.shift(), model.shift());
      assertEquals(r.length, model.length);
      assertEquals(r.peek(), model[0]);
      assertEquals(r.peekLast(), model[model.length - 1]);
      for (let i = 0; i < model.length; i += 7) assertEquals(r.at(i), model[i]);
    }
    assertEquals(r.at(model.length), undefined);
    assertEquals(r.at(-1), undefined);
  }));
});

Deno.test("ring: replaceFront and clear", () => {
  const r = new Ring<string>(3);
  assertThrows(() => r.replaceFront("x"), RangeError);
  r.push("a");
  r.push("b");
  r.replaceFront("A");
  assertEquals(r.shift(), "A");
  r.clear();
  assertEquals(r.length, 0);
  assertEquals(r.shift(), undefined);
});
