/**
 * The status pages in a real browser: Debian's Chromium, headless, driven by puppeteer-core over
 * the DevTools protocol. A registry and two daemons run as real `pilot` subprocesses; node A pings
 * node B and asks it for trust, then the test loads `/` on both daemons and on the registry, finds
 * the peers, their path, the RTT and the pending request on the pages (with JavaScript turned off:
 * the pages must not need it), sees no console errors and saves a screenshot of each page under
 * tests/artifacts/ (or $PILOT_TEST_ARTIFACTS), printing the paths.
 * Without a Chromium binary the test is reported as ignored, loudly; it never passes unverified.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { type TestDaemon, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { connect } from "../../lib/sdk/mod.ts";

/** Where Debian (and most distributions) put Chromium; PILOT_CHROMIUM overrides. */
const CHROMIUM_PATHS = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const TOKEN = "browser-test-token";
/** User input with markup in it: the page must show it as text (no bold, no script element). */
const JUSTIFICATION = `browser test <b>please</b><script>document.title = "owned"</script>`;

function findChromium(): string | undefined {
  const candidates = [Deno.env.get("PILOT_CHROMIUM"), ...CHROMIUM_PATHS].filter((p): p is string => !!p);
  return candidates.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

const chromium = findChromium();
if (!chromium) {
  console.warn(
    `\n*** status page browser test SKIPPED: no Chromium at ${CHROMIUM_PATHS.join(", ")} ` +
      `(install it with 'apt-get install -y chromium', or set PILOT_CHROMIUM). ` +
      `The pages are NOT verified in a browser on this machine. ***\n`,
  );
}

const ARTIFACTS = Deno.env.get("PILOT_TEST_ARTIFACTS") ??
  new URL("../artifacts/", import.meta.url).pathname;

type Browser = Awaited<ReturnType<typeof import("puppeteer-core").default.launch>>;
type Page = Awaited<ReturnType<Browser["newPage"]>>;

/** Opens `url` with JavaScript off, collecting console errors and failed requests. */
async function open(
  browser: Browser,
  url: string,
): Promise<{ page: Page; errors: string[]; status: number }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`page error: ${err}`));
  page.on("requestfailed", (req) => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  await page.setJavaScriptEnabled(false);
  await page.setViewport({ width: 1280, height: 900 });
  const res = await page.goto(url, { waitUntil: "load" });
  return { page, errors, status: res?.status() ?? 0 };
}

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS.replace(/\/$/, "")}/${name}.png`;
  await page.screenshot({ path: path as `${string}.png`, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

/**
 * The little of the DOM the probes below use, run inside the page. (Typed here rather than with the
 * "dom" lib, which would change the global types of every module checked with this one.)
 */
interface DomNode {
  innerText: string;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): Iterable<DomNode>;
}
const pageDocument = () => (globalThis as unknown as { document: DomNode & { body: DomNode } }).document;

/** The page's visible text (what a reader sees; no script of the page runs). */
function bodyText(page: Page): Promise<string> {
  return page.evaluate(`(${pageDocument})().body.innerText`) as Promise<string>;
}

/** The footer line, which names the time the page was generated. */
function footer(page: Page): Promise<string> {
  return page.evaluate(`(${pageDocument})().querySelector("footer").innerText`) as Promise<string>;
}

/** The cells of the peers table row for `address`, as shown. */
function peerRow(page: Page, address: string): Promise<string[] | null> {
  const probe = (addr: string, doc: DomNode) => {
    for (const row of doc.querySelectorAll("section tr")) {
      const cells = [...row.querySelectorAll("td")].map((td) => td.innerText.trim());
      if (cells[0] === addr && row.querySelector("[data-path]")) return cells;
    }
    return null;
  };
  return page.evaluate(`(${probe})(${JSON.stringify(address)}, (${pageDocument})())`) as Promise<
    string[] | null
  >;
}

Deno.test({
  name: "status pages in headless Chromium: peers with path and RTT, the pending request, the registry",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { default: puppeteer } = await import("puppeteer-core");
    // The registry binds its HTTP endpoint to the wildcard address, so its page needs the token.
    const net = await TestNetwork.start(["--http", "0.0.0.0:0", "--http-token", TOKEN]);
    let browser: Browser | undefined;
    let a: TestDaemon | undefined, b: TestDaemon | undefined;
    try {
      a = await net.addDaemon("a", ["--hostname", "alpha"]);
      b = await net.addDaemon("b", ["--hostname", "bravo", "--public"]);
      const ping = await runPilot(["ping", b.address, "--count", "2", "--socket", a.socket, "--json"]);
      assertEquals(ping.code, 0, ping.stderr);
      const ca = await connect(a.socket, { timeoutMs: 5_000 });
      const cb = await connect(b.socket, { timeoutMs: 5_000 });
      try {
        await ca.handshake(b.nodeId, JUSTIFICATION);
        const until = Date.now() + 10_000;
        while (!(await cb.pendingHandshakes()).some((p) => p.node_id === a!.nodeId)) {
          assert(Date.now() < until, "B never saw A's trust request");
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await ca.close();
        await cb.close();
      }

      browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        // No background networking: on a closed network Chromium's own update, sync and component
        // requests fail many at a time, which can hold up the page it is asked to render.
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--no-first-run",
          "--disable-quic",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });

      // Node B: A is a direct peer, and A's request waits for approval.
      const pb = await open(browser, `${b.http}/`);
      assertEquals(pb.status, 200);
      assertEquals(await pb.page.title(), `pilot node bravo (${b.address})`);
      const rowA = await peerRow(pb.page, a.address);
      assert(rowA, `peer ${a.address} on B's page`);
      assertEquals(rowA[1], "direct");
      const textB = await bodyText(pb.page);
      assertMatch(textB, /Pending requests \(1\)/);
      assert(textB.includes(a.address) && textB.includes(JUSTIFICATION), "the pending request, as text");
      assertMatch(textB, /tunnel\.established|handshake\.received/); // recent events
      assertEquals(await pb.page.$$eval("script", (s) => s.length), 0);
      await screenshot(pb.page, "daemon-b-status");
      assertEquals(pb.errors, []);

      // Node A: B is a direct peer with the RTT `pilot ping` measured, and A's request waits.
      const pa = await open(browser, `${a.http}/`);
      assertEquals(pa.status, 200);
      const rowB = await peerRow(pa.page, b.address);
      assert(rowB, `peer ${b.address} on A's page`);
      assertEquals(rowB[1], "direct");
      assertMatch(rowB[4], /^\d+(\.\d+)? ms$/);
      const textA = await bodyText(pa.page);
      assertMatch(textA, /Our requests, unanswered \(1\)/);
      assert(textA.includes(b.address), "A's own request to B, waiting");
      await screenshot(pa.page, "daemon-a-status");
      assertEquals(pa.errors, []);

      // The registry, bound to 0.0.0.0: refused without the token, shown with it.
      const registryHttp = String(net.registry!.ready.http).replace(/^0\.0\.0\.0:/, "127.0.0.1:");
      const refused = await fetch(`http://${registryHttp}/`);
      assertEquals(refused.status, 401);
      await refused.body?.cancel();
      const pr = await open(browser, `http://${registryHttp}/?token=${TOKEN}`);
      assertEquals(pr.status, 200);
      assertEquals(
        await pr.page.$eval("[data-nodes-online]", (e) => e.getAttribute("data-nodes-online")),
        "2",
      );
      assertMatch(await bodyText(pr.page), /2 node\(s\) online/);
      assertMatch(await bodyText(pr.page), /node\.registered/);
      await screenshot(pr.page, "registry-status");
      // The page reloads itself with JavaScript off, and the reload keeps the token in the URL.
      const firstGenerated = await footer(pr.page);
      const reload = await pr.page.waitForNavigation({ timeout: 15_000 });
      assertEquals(reload?.status(), 200);
      assertEquals(new URL(pr.page.url()).searchParams.get("token"), TOKEN);
      assert((await footer(pr.page)) !== firstGenerated, "the reloaded page is a new one");
      assertEquals(pr.errors, []);

      // The same daemon page in a dark colour scheme, for a look at both palettes.
      await pb.page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "dark" }]);
      await screenshot(pb.page, "daemon-b-status-dark");
    } catch (err) {
      for (const [name, d] of [["a", a], ["b", b]] as const) {
        if (d) console.error(`--- ${name} stderr ---\n${d.process.stderrLines.slice(-30).join("\n")}`);
      }
      throw err;
    } finally {
      await browser?.close();
      await net.close();
    }
  },
});
