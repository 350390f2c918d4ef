/**
 * The operator's commands as real `pilot` subprocesses with a temporary HOME: the background
 * daemon's start/status/stop cycle (PID and log files, stale files after a SIGKILL, `down`),
 * `status` against a daemon with a peer, config-file precedence, `init`/`config`/`context`,
 * the completion scripts checked by the shells, the systemd unit checked by systemd-analyze,
 * the default UDP port's fallback, and `deno task install` into a temporary root.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { startPilot, TestNetwork } from "../helpers/network.ts";
import { runPilot } from "../helpers/pilot.ts";
import { until } from "../helpers/wait.ts";
import { connect } from "../../lib/sdk/mod.ts";
import { DEFAULT_LISTEN_PORT } from "../../lib/daemon/config.ts";
import dgram from "node:dgram";
import { settleQuietly } from "../../lib/errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Deno's cache stays the real one when HOME moves (npm packages are not downloaded again). */
const DENO_DIR = Deno.env.get("DENO_DIR") ||
  `${Deno.env.get("XDG_CACHE_HOME") || `${Deno.env.get("HOME")}/.cache`}/deno`;

/** A temporary HOME with `pilot` runs bound to it. */
async function withHome(fn: (home: string, pilot: typeof runPilot) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "pilot-home-" });
  const pilot: typeof runPilot = (args, opts = {}) =>
    runPilot(args, {
      ...opts,
      env: { HOME: home, DENO_DIR, PILOT_SOCKET: "", PILOT_REGISTRY: "", ...opts.env },
    });
  try {
    await fn(home, pilot);
  } finally {
    // Whatever a failed assertion left running in this HOME is stopped here.
    await settleQuietly(pilot(["down"]), "cleanup");
    await settleQuietly(Deno.remove(home, { recursive: true }), "cleanup");
  }
}

function data(stdout: string): Record<string, unknown> {
  const envelope = JSON.parse(stdout.trim().split("\n").pop()!);
  assertEquals(envelope.status, "ok", stdout);
  return envelope.data;
}

function errorCode(stderr: string): string {
  return JSON.parse(stderr.trim().split("\n").pop()!).code;
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX] /s.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("daemon start/status/stop: background process, PID and log files, already_exists, stale files, down", async () => {
  const net = await TestNetwork.start();
  try {
    await withHome(async (home, pilot) => {
      const socket = `${home}/node.sock`;
      const flags = [
        "--registry",
        net.registryAddr,
        "--listen",
        "127.0.0.1:0",
        "--socket",
        socket,
        "--http",
        "off",
      ];
      const pidFile = `${home}/.pilot/pilot.pid`;
      const logFile = `${home}/.pilot/pilot.log`;

      const started = await pilot(["daemon", "start", ...flags, "--json"]);
      assertEquals(started.code, 0, started.stderr);
      const s = data(started.stdout);
      const pid = Number(s.pid);
      assertEquals(Number((await Deno.readTextFile(pidFile)).trim()), pid);
      assert(alive(pid), "the daemon outlives `daemon start`");
      assertEquals([s.socket, s.log_file], [socket, logFile]);
      assertMatch(String(s.address), /^0:0000\.\d{4}\.[0-9A-F]{4}$/i);
      assertMatch(await Deno.readTextFile(logFile), /pilot daemon: node .* ready/);
      // A new session: the daemon leads its own session, so the starting terminal's hang-up cannot reach it.
      const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).replace(/^.*\) /s, "").split(" ");
      assertEquals(Number(stat[3]), pid, "session id = the daemon's pid");

      const status = await pilot(["daemon", "status", "--socket", socket, "--json"]);
      assertEquals(status.code, 0, status.stderr);
      const st = data(status.stdout);
      assertEquals([st.running, st.responsive, st.pid, st.node_id], [true, true, pid, s.node_id]);
      assertEquals((await pilot(["daemon", "status", "--check", "--socket", socket])).code, 0);

      const again = await pilot(["daemon", "start", ...flags, "--json"]);
      assertEquals(again.code, 1);
      assertEquals(errorCode(again.stderr), "already_exists");

      // SIGKILL leaves the PID file and the socket file behind: status says so, start cleans up.
      Deno.kill(pid, "SIGKILL");
      await until("the killed daemon to be gone", () => !alive(pid), 10_000, 50);
      assert(await exists(socket) && await exists(pidFile), "kill -9 leaves both files");
      const dead = data((await pilot(["daemon", "status", "--socket", socket, "--json"])).stdout);
      assertEquals([dead.running, dead.responsive, dead.pid], [false, false, null]);
      assertEquals((await pilot(["daemon", "status", "--check", "--socket", socket])).code, 1);
      const restarted = await pilot(["daemon", "start", ...flags, "--json"]);
      assertEquals(restarted.code, 0, restarted.stderr);
      const pid2 = Number(data(restarted.stdout).pid);
      assert(pid2 !== pid && alive(pid2));
      assertEquals(data(restarted.stdout).node_id, s.node_id, "same identity, same node");

      const down = await pilot(["down", "--json"]);
      assertEquals(down.code, 0, down.stderr);
      assertEquals(data(down.stdout).pid, pid2);
      assert(!alive(pid2));
      assert(!(await exists(pidFile)), "PID file removed");
      assert(!(await exists(socket)), "the daemon removed its socket");
      const log = await Deno.readTextFile(logFile);
      assertEquals(log.match(/ready/g)?.length, 2, "the log is appended to, not truncated");

      const noDaemon = await pilot(["daemon", "stop", "--json"]);
      assertEquals(noDaemon.code, 1);
      assertEquals(errorCode(noDaemon.stderr), "not_running");
    });
  } finally {
    await net.close();
  }
});

Deno.test("daemon start --foreground runs the daemon in this process, as `pilot daemon`", async () => {
  const net = await TestNetwork.start();
  try {
    const socket = `${net.dir}/fg.sock`;
    const fg = await startPilot([
      "daemon",
      "start",
      "--foreground",
      "--registry",
      net.registryAddr,
      "--listen",
      "127.0.0.1:0",
      "--socket",
      socket,
      "--state",
      `${net.dir}/fg`,
      "--http",
      "off",
    ]);
    try {
      assertEquals(fg.ready.socket, socket);
      assert(Number(fg.ready.node_id) > 0);
      assert(!(await exists(`${net.dir}/fg/pilot.pid`)), "no PID file in the foreground");
    } finally {
      assertEquals((await fg.stop()).code, 0);
    }
  } finally {
    await net.close();
  }
});

Deno.test("a PID file naming a live process that is no pilot daemon (a reused PID) is stale: never signalled", async () => {
  await withHome(async (home, pilot) => {
    await Deno.mkdir(`${home}/.pilot`);
    // This test process: alive, and not a daemon. Were it signalled, the test would die with it.
    await Deno.writeTextFile(`${home}/.pilot/pilot.pid`, `${Deno.pid}\n`);
    const status = data(
      (await pilot(["daemon", "status", "--socket", `${home}/none.sock`, "--json"])).stdout,
    );
    assertEquals([status.running, status.pid], [false, null]);
    const down = await pilot(["down", "--json"]);
    assertEquals(down.code, 1);
    assertEquals(errorCode(down.stderr), "not_running");
    assert(!(await exists(`${home}/.pilot/pilot.pid`)), "the stale PID file is removed");
  });
});

Deno.test("daemon start: a daemon that cannot start is reported with its log, and leaves no PID file", async () => {
  await withHome(async (home, pilot) => {
    // Nothing listens on this registry address, and the wait is short.
    const r = await pilot([
      "daemon",
      "start",
      "--registry",
      "127.0.0.1:1",
      "--registry-wait",
      "300ms",
      "--listen",
      "127.0.0.1:0",
      "--socket",
      `${home}/x.sock`,
      "--http",
      "off",
      "--json",
    ]);
    assertEquals(r.code, 1);
    const err = JSON.parse(r.stderr.trim().split("\n").pop()!);
    assertEquals(err.code, "internal");
    assertMatch(err.message, /exited during start-up/);
    assertMatch(err.message, /127\.0\.0\.1:1/); // the log's reason is in the message
    assert(!(await exists(`${home}/.pilot/pilot.pid`)));
    // A usage error is found before anything is spawned.
    const usage = await pilot(["daemon", "start", "--idle-timeout", "5s", "--json"]);
    assertEquals(usage.code, 64);
    assertMatch(usage.stderr, /--idle-timeout 5s/);
  });
});

Deno.test("status: node, registry, health, a peer with its path and RTT, connections, trust; text and --json", async () => {
  const net = await TestNetwork.start();
  try {
    const a = await net.addDaemon("a", ["--public"]);
    const b = await net.addDaemon("b", ["--public"]);
    const client = await connect(a.socket, { timeoutMs: 5_000 });
    try {
      const conn = await client.dial(b.address, 7, { timeoutMs: 10_000 });
      for (let i = 0; i < 3; i++) {
        await conn.write(new TextEncoder().encode(`rtt-${i}`));
        await conn.read();
      }
      const json = await runPilot(["status", "--socket", a.socket, "--json"]);
      assertEquals(json.code, 0, json.stderr);
      const d = data(json.stdout) as {
        node_id: number;
        registry: string;
        health: { status: string };
        peers: { node_id: number; path: string; rtt_ms: number | null; connections: number }[];
        connections: { remote_port: number; state: string }[];
        trusted: unknown[];
        pending: unknown[];
      };
      assertEquals(d.node_id, a.nodeId);
      assertEquals(d.registry, net.registryAddr);
      assertEquals(d.health.status, "ok");
      const peer = d.peers.find((p) => p.node_id === b.nodeId);
      assert(peer, `peer ${b.nodeId} listed: ${json.stdout}`);
      assertEquals(peer.path, "direct");
      assertEquals(peer.connections, 1);
      assert(peer.rtt_ms !== null && peer.rtt_ms >= 0, `rtt measured: ${peer.rtt_ms}`);
      assert(d.connections.some((c) => c.remote_port === 7 && c.state === "ESTABLISHED"));
      assertEquals([d.trusted, d.pending], [[], []]);

      const text = await runPilot(["status", "--socket", a.socket]);
      assertEquals(text.code, 0, text.stderr);
      assertMatch(
        text.stdout,
        new RegExp(`^node\\s+${a.address.replace(/\./g, "\\.")} \\(id ${a.nodeId}\\)`, "m"),
      );
      assertMatch(text.stdout, new RegExp(`^registry\\s+${net.registryAddr}`, "m"));
      assertMatch(text.stdout, /^health\s+ok/m);
      assertMatch(
        text.stdout,
        new RegExp(`^  ${b.nodeId}\\s+direct\\s+127\\.0\\.0\\.1:\\d+\\s+rtt \\d+(\\.\\d)? ms`, "m"),
      );
      assertMatch(text.stdout, /^connections 1/m);
      assertMatch(text.stdout, /^trusted\s+none/m);
      await conn.close();
    } finally {
      await client.close();
    }
    const none = await runPilot(["status", "--socket", `${net.dir}/nobody.sock`, "--json"]);
    assertEquals(none.code, 1);
    assertEquals(errorCode(none.stderr), "not_running");
  } finally {
    await net.close();
  }
});

Deno.test("--max-conns-total reaches the transport: a second connection to a node limited to one is refused", async () => {
  const net = await TestNetwork.start();
  try {
    const a = await net.addDaemon("a", ["--public"]);
    const b = await net.addDaemon("b", ["--public", "--max-conns-total", "1"]);
    const client = await connect(a.socket, { timeoutMs: 5_000 });
    try {
      const first = await client.dial(b.address, 7, { timeoutMs: 10_000 });
      let refused = false;
      try {
        const second = await client.dial(b.address, 7, { timeoutMs: 10_000 });
        await second.close();
      } catch {
        refused = true;
      }
      assert(refused, "the second dial must fail");
      await first.close();
    } finally {
      await client.close();
    }
  } finally {
    await net.close();
  }
});

Deno.test("config file: the daemon starts from ~/.pilot/config.json, --config names another file, flags win", async () => {
  const net = await TestNetwork.start();
  try {
    await withHome(async (home, pilot) => {
      const socket = `${home}/c.sock`;
      const init = await pilot([
        "init",
        "--registry",
        net.registryAddr,
        "--socket",
        socket,
        "--hostname",
        "from-file",
        "--json",
      ]);
      assertEquals(init.code, 0, init.stderr);
      assertEquals(data(init.stdout).config_path, `${home}/.pilot/config.json`);
      assertEquals((await Deno.stat(`${home}/.pilot/config.json`)).mode! & 0o777, 0o600);
      for (const [k, v] of [["listen", "127.0.0.1:0"], ["http", "off"]]) {
        assertEquals((await pilot(["config", "--set", `${k}=${v}`])).code, 0);
      }
      // The file alone: registry, socket, hostname, listen and http all come from it.
      let r = await pilot(["daemon", "start", "--json"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(data(r.stdout).hostname, "from-file");
      assertEquals(data(r.stdout).socket, socket);
      // Client commands find the socket through the file too.
      const info = await pilot(["info", "--json"]);
      assertEquals(data(info.stdout).hostname, "from-file");
      assertEquals((await pilot(["down"])).code, 0);

      // A flag beats the file.
      r = await pilot(["daemon", "start", "--hostname", "from-flag", "--json"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(data(r.stdout).hostname, "from-flag");
      assertEquals((await pilot(["down"])).code, 0);

      // --config names another file, read instead of the default one.
      const other = `${home}/other.json`;
      await Deno.writeTextFile(
        other,
        JSON.stringify({
          registry: net.registryAddr,
          socket: `${home}/o.sock`,
          hostname: "other-file",
          listen: "127.0.0.1:0",
          http: "off",
        }),
      );
      r = await pilot(["daemon", "start", "--config", other, "--json"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals([data(r.stdout).hostname, data(r.stdout).socket], ["other-file", `${home}/o.sock`]);
      assertEquals((await pilot(["down"])).code, 0);

      const missing = await pilot(["daemon", "--config", `${home}/none.json`, "--json"]);
      assertEquals(missing.code, 1);
      assertEquals(errorCode(missing.stderr), "not_found");
      assertMatch(missing.stderr, /none\.json/);
    });
  } finally {
    await net.close();
  }
});

Deno.test("registry --config: the file's settings apply and a flag overrides one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/registry.json`;
    await Deno.writeTextFile(file, JSON.stringify({ listen: "127.0.0.1:0", memory: true, http: "off" }));
    const fromFile = await startPilot(["registry", "--config", file]);
    try {
      assertMatch(String(fromFile.ready.listen), /^127\.0\.0\.1:\d+$/);
      assertEquals(fromFile.ready.http ?? null, null);
    } finally {
      await fromFile.stop();
    }
    const overridden = await startPilot(["registry", "--config", file, "--http", "127.0.0.1:0"]);
    try {
      assertMatch(String(overridden.ready.http), /127\.0\.0\.1:\d+/);
    } finally {
      await overridden.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("init merges into the file, config shows and sets keys, context describes every command", async () => {
  await withHome(async (home, pilot) => {
    assertEquals((await pilot(["init", "--hostname", "alice"])).code, 0);
    const again = data((await pilot(["init", "--registry", "10.1.2.3:9000", "--json"])).stdout);
    assertEquals(again, {
      config_path: `${home}/.pilot/config.json`,
      registry: "10.1.2.3:9000",
      beacon: "127.0.0.1:9001",
      socket: "/tmp/pilot.sock",
      hostname: "alice",
    });
    const bad = await pilot(["init", "--registry", "nowhere", "--json"]);
    assertEquals(bad.code, 64);
    assertMatch(bad.stderr, /--registry/);

    const set = data((await pilot(["config", "--set", "email=a@example.com", "--json"])).stdout);
    assertEquals(set, { key: "email", value: "a@example.com" });
    const shown = data((await pilot(["config", "--json"])).stdout);
    assertEquals(shown.email, "a@example.com");
    assertEquals(shown.hostname, "alice");
    assertEquals(shown.pid_file, `${home}/.pilot/pilot.pid`);
    assertEquals(shown.log_file, `${home}/.pilot/pilot.log`);
    assertEquals(shown.registry, "10.1.2.3:9000");
    const env = data((await pilot(["config", "--json"], { env: { PILOT_REGISTRY: "10.9.9.9:1" } })).stdout);
    assertEquals(env.registry, "10.9.9.9:1", "the environment beats the file");

    const ctx = data((await pilot(["context", "--json"])).stdout) as {
      version: string;
      commands: Record<string, { args: string[]; description: string }>;
      error_codes: Record<string, string>;
      config_file: string;
    };
    assertEquals(ctx.version, "1.2");
    for (const name of ["daemon", "down", "status", "init", "config", "ping", "completion", "service"]) {
      assert(ctx.commands[name]?.description, `context lists ${name}`);
    }
    assert(ctx.commands.ping.args.length > 0);
    assertEquals(Object.keys(ctx.error_codes).length, 7);
    assertEquals(ctx.config_file, `${home}/.pilot/config.json`);
  });
});

Deno.test("completion scripts pass the shells' syntax checks; bash completes commands, subcommands and flags", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await runPilot(["completion", shell]);
    assertEquals(r.code, 0, r.stderr);
    const file = await Deno.makeTempFile({ suffix: `.${shell}` });
    try {
      await Deno.writeTextFile(file, r.stdout);
      let checker: Deno.CommandOutput;
      try {
        checker = await new Deno.Command(shell, { args: ["-n", file], stderr: "piped" }).output();
      } catch (err) {
        if (err instanceof Deno.errors.NotFound && shell !== "bash") continue; // that shell is not installed
        throw err;
      }
      assertEquals(checker.code, 0, `${shell} -n: ${new TextDecoder().decode(checker.stderr)}`);
      if (shell === "bash") {
        const probe = (words: string) =>
          new Deno.Command("bash", {
            args: [
              "-c",
              `source ${file}; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _pilot; echo "\${COMPREPLY[*]}"`,
            ],
            stdout: "piped",
          }).output().then((o) => new TextDecoder().decode(o.stdout).trim());
        assertEquals(await probe("pilot dae"), "daemon");
        assertEquals(await probe("pilot daemon st"), "start stop status");
        assertEquals(await probe("pilot status --so"), "--socket");
        assertEquals(await probe("pilot service un"), "uninstall");
      }
      if (shell === "fish") {
        const bin = await Deno.makeTempDir();
        await Deno.writeTextFile(`${bin}/pilot`, "#!/bin/sh\n", { mode: 0o755 });
        const o = await new Deno.Command("fish", {
          args: [
            "-c",
            `set PATH ${bin} $PATH; source ${file}; complete -C 'pilot daemon st'; complete -C 'pilot status --so'`,
          ],
          stdout: "piped",
        }).output();
        await Deno.remove(bin, { recursive: true });
        assertEquals(new TextDecoder().decode(o.stdout).trim().split("\n"), [
          "start",
          "status",
          "stop",
          "--socket",
        ]);
      }
      if (shell === "zsh") {
        const o = await new Deno.Command("zsh", {
          args: ["-f", "-c", `autoload -U compinit; compinit -u -D; source ${file}; print \${_comps[pilot]}`],
          env: { HOME: Deno.cwd() },
          stdout: "piped",
        }).output();
        assertEquals(new TextDecoder().decode(o.stdout).trim(), "_pilot", "compdef registered the function");
      }
    } finally {
      await Deno.remove(file);
    }
  }
  assertEquals((await runPilot(["completion", "tcsh"])).code, 64);
});

Deno.test("service install writes a unit systemd-analyze accepts; uninstall removes it", async () => {
  await withHome(async (home, pilot) => {
    const dir = `${home}/units`;
    await Deno.mkdir(dir);
    const r = await pilot([
      "service",
      "install",
      "--unit-dir",
      dir,
      "--json",
      "--",
      "--registry",
      "127.0.0.1:9000",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const d = data(r.stdout);
    assertEquals(d.unit_path, `${dir}/pilot.service`);
    const unit = await Deno.readTextFile(`${dir}/pilot.service`);
    assertMatch(unit, /^ExecStart=\S+ .*main\.[jt]s daemon --registry 127\.0\.0\.1:9000$/m);
    assertMatch(unit, new RegExp(`^Environment=HOME=${home}$`, "m"));
    assertMatch(String(d.health_cron), /^\*\/5 \* \* \* \* .* health /);
    assertMatch(String(d.health_timer), /\[Timer\]/);
    const text = await pilot(["service", "install", "--unit-dir", dir, "--name", "pilot2"]);
    assertMatch(text.stdout, /crontab -e/);
    assertMatch(text.stdout, /systemctl enable --now pilot2/);
    let verify: Deno.CommandOutput | undefined;
    try {
      verify = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/pilot.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (verify) assertEquals(verify.code, 0, new TextDecoder().decode(verify.stderr));
    assertEquals((await pilot(["service", "uninstall", "--unit-dir", dir])).code, 0);
    assert(!(await exists(`${dir}/pilot.service`)));
    const gone = await pilot(["service", "uninstall", "--unit-dir", dir, "--json"]);
    assertEquals(gone.code, 1);
    assertEquals(errorCode(gone.stderr), "not_found");
    assertEquals((await pilot(["service", "restart"])).code, 64);
  });
});

Deno.test("the daemon listens on UDP 4000 by default and falls back, saying so, when it is taken", async () => {
  // Hold the default port (all addresses) so the fallback is certain, whatever else runs.
  const holder = dgram.createSocket("udp4");
  const held = await new Promise<boolean>((resolve) => {
    holder.once("error", () => resolve(false));
    holder.bind({ port: DEFAULT_LISTEN_PORT, address: "0.0.0.0", exclusive: true }, () => resolve(true));
  });
  const net = await TestNetwork.start();
  try {
    await withHome(async (home, pilot) => {
      const r = await pilot([
        "daemon",
        "start",
        "--registry",
        net.registryAddr,
        "--socket",
        `${home}/p.sock`,
        "--http",
        "off",
        "--json",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const log = await Deno.readTextFile(`${home}/.pilot/pilot.log`);
      assertMatch(log, new RegExp(`UDP port ${DEFAULT_LISTEN_PORT} \\(the default tunnel port\\) is in use`));
      const info = data((await pilot(["info", "--socket", `${home}/p.sock`, "--json"])).stdout);
      assert(info.node_id !== undefined);
      assertEquals((await pilot(["down"])).code, 0);
    });
  } finally {
    await net.close();
    if (held) await new Promise<void>((r) => holder.close(() => r()));
  }
});

Deno.test("deno task install puts a working pilot launcher in DENO_INSTALL_ROOT/bin", async () => {
  const root = await Deno.makeTempDir({ prefix: "pilot-install-" });
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["task", "install"],
      cwd: ROOT,
      env: { DENO_INSTALL_ROOT: root },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(install.code, 0, new TextDecoder().decode(install.stderr));
    const launcher = `${root}/bin/pilot`;
    assert(((await Deno.stat(launcher)).mode! & 0o111) !== 0, "the launcher is executable");
    const version = await new Deno.Command(launcher, { args: ["version", "--json"], stdout: "piped" })
      .output();
    assertEquals(version.code, 0);
    const v = data(new TextDecoder().decode(version.stdout));
    assertMatch(String(v.version), /^\d+\.\d+\.\d+/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
