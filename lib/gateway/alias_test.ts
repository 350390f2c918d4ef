import { assertEquals, assertRejects } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { AliasError, systemAliases } from "./alias.ts";

const log = new Logger("test", "error");

Deno.test("alias: Linux adds and removes /32 on lo, but never for 127.0.0.0/8", async () => {
  const calls: string[] = [];
  const a = systemAliases(log, "linux", (cmd, args) => {
    calls.push([cmd, ...args].join(" "));
    return Promise.resolve({ code: 0, stderr: "" });
  });
  await a.add("127.77.0.1");
  await a.add("10.4.0.1");
  await a.remove("10.4.0.1");
  await a.remove("127.77.0.1");
  assertEquals(calls, ["ip addr add 10.4.0.1/32 dev lo", "ip addr del 10.4.0.1/32 dev lo"]);
});

Deno.test("alias: macOS uses ifconfig lo0; a pre-existing alias is kept; failures explain root", async () => {
  const calls: string[] = [];
  const mac = systemAliases(log, "darwin", (cmd, args) => {
    calls.push([cmd, ...args].join(" "));
    return Promise.resolve({ code: 0, stderr: "" });
  });
  await mac.add("127.77.0.1");
  await mac.remove("127.77.0.1");
  assertEquals(calls, ["ifconfig lo0 alias 127.77.0.1", "ifconfig lo0 -alias 127.77.0.1"]);

  const removed: string[] = [];
  const existing = systemAliases(log, "linux", (_cmd, args) => {
    if (args[1] === "del") removed.push(args[2]);
    return Promise.resolve({ code: 2, stderr: "RTNETLINK answers: File exists" });
  });
  await existing.add("10.4.0.9");
  await existing.remove("10.4.0.9");
  assertEquals(removed, []);

  const denied = systemAliases(
    log,
    "linux",
    () => Promise.resolve({ code: 2, stderr: "Operation not permitted" }),
  );
  await assertRejects(() => denied.add("10.4.0.2"), AliasError, /root/);
  await assertRejects(() => systemAliases(log, "windows").add("10.4.0.3"), AliasError, /not supported/);
});
