/**
 * The status page's token on a real daemon: `pilot daemon --http 0.0.0.0:0` with the token from
 * `PILOT_HTTP_TOKEN` guards `/` and `/status` (401 without it, bearer or `?token=` with it) and
 * leaves `/healthz` and `/metrics` open; a loopback bind needs no token. `--http-token` on the
 * command line wins over the environment.
 */
import { assertEquals, assertMatch } from "../assert.ts";
import { TestNetwork } from "../helpers/network.ts";

const TOKEN = "status-page-token";

async function status(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.body?.cancel();
  return res.status;
}

Deno.test("a daemon bound to 0.0.0.0 asks for its token on / and /status; on loopback it does not", async () => {
  const net = await TestNetwork.start();
  try {
    const open = await net.addDaemon("open");
    const page = await fetch(`${open.http}/`);
    assertEquals(page.status, 200);
    assertMatch(await page.text(), /<title>pilot node /);

    const guarded = await net.addDaemon("guarded", ["--http", "0.0.0.0:0"], { PILOT_HTTP_TOKEN: TOKEN });
    const base = guarded.http!.replace("0.0.0.0", "127.0.0.1");
    for (const path of ["/", "/status"]) {
      assertEquals(await status(`${base}${path}`), 401, path);
      assertEquals(await status(`${base}${path}?token=wrong`), 401, path);
      assertEquals(await status(`${base}${path}?token=${TOKEN}`), 200, path);
      assertEquals(
        await status(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }),
        200,
        path,
      );
    }
    assertEquals(await status(`${base}/healthz`), 200);
    assertEquals(await status(`${base}/metrics`), 200);

    const flag = await net.addDaemon("flag", ["--http", "0.0.0.0:0", "--http-token", "from-flag"], {
      PILOT_HTTP_TOKEN: TOKEN,
    });
    const flagBase = flag.http!.replace("0.0.0.0", "127.0.0.1");
    assertEquals(await status(`${flagBase}/?token=${TOKEN}`), 401);
    assertEquals(await status(`${flagBase}/?token=from-flag`), 200);
  } finally {
    await net.close();
  }
});
