/**
 * The registry and the daemons release their start-up pages a few seconds after their ready line
 * (lib/daemon/resident_memory.ts), and go on serving: a dial, an echo and a transfer afterwards.
 * The release when quiet after work is tested in lib/daemon/resident_memory_test.ts (its interval
 * is 30 s here).
 */
import { assert, assertEquals } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";
import type { PilotProcess } from "../helpers/network.ts";
import { until } from "../helpers/wait.ts";
import { residentBytes } from "../helpers/memory.ts";
import { transfer } from "../helpers/transfer.ts";
import { connect, type PilotClient } from "../../lib/sdk/mod.ts";
import { closeQuietly } from "../../lib/errors.ts";
import { STARTUP_PAGE_RELEASE_DELAY_MS } from "../../lib/daemon/resident_memory.ts";

const MIB = 1024 * 1024;
const DEBUG = ["--log-level", "debug"];
/** Less than a third of what the release drops here (~28 MiB), so a release that did little fails. */
const MIN_FILE_DROP = 8 * MIB;

const released = (p: PilotProcess) =>
  p.stderrLines.some((l) => l.includes(`msg="memory released" when="after start-up"`));

Deno.test({
  name: "servers release their start-up pages after start and keep serving",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const net = await TestNetwork.start(DEBUG);
    const clients: PilotClient[] = [];
    try {
      const a = await net.addDaemon("a", ["--public", ...DEBUG]);
      const b = await net.addDaemon("b", ["--public", ...DEBUG]);
      const atReady = residentBytes(a.process.child.pid, "RssFile");
      for (const p of [net.registry!, a.process, b.process]) {
        await until(
          "the start-up page release",
          () => released(p),
          STARTUP_PAGE_RELEASE_DELAY_MS + 5_000,
          50,
        );
      }
      const afterRelease = residentBytes(a.process.child.pid, "RssFile");
      console.log(`daemon a RssFile ${(atReady / MIB).toFixed(1)} → ${(afterRelease / MIB).toFixed(1)} MiB`);
      assert(afterRelease < atReady - MIN_FILE_DROP, `RssFile ${atReady} → ${afterRelease} bytes`);
      // The daemon's /metrics reports the resident size a health check reads (as /proc does).
      const metrics = await (await fetch(`${a.http}/metrics`)).text();
      const reported = Number(/^pilot_resident_bytes (\d+)$/m.exec(metrics)?.[1]);
      const vmRss = residentBytes(a.process.child.pid, "VmRSS");
      assert(Math.abs(reported - vmRss) < vmRss / 5, `pilot_resident_bytes ${reported}, VmRSS ${vmRss}`);

      const [ca, cb] = [await connect(a.socket), await connect(b.socket)];
      clients.push(ca, cb);
      const echo = await ca.dial(b.address, 7, { timeoutMs: 10_000 });
      await echo.write(new TextEncoder().encode("after the release"));
      assertEquals(new TextDecoder().decode((await echo.read({ timeoutMs: 10_000 }))!), "after the release");
      await echo.close();
      const r = await transfer(ca, cb, b.address, 5000, 8 * MIB);
      assertEquals(r.received, r.sent);
      assertEquals(r.bytes, 8 * MIB);
    } finally {
      for (const c of clients) await closeQuietly(c);
      await net.close();
    }
  },
});
