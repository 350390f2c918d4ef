/**
 * The operator-side pieces without a daemon: the config file's precedence rules, the completion
 * scripts generated from the command table, the systemd unit, and the install hint `pilot up`
 * prints when no `pilot` is on the PATH.
 */
import { assert, assertEquals, assertMatch, assertThrows } from "./assert.ts";
import { argvWithConfig, configTokens, flagValue } from "../cli/config_file.ts";
import { parseArgs } from "../cli/args.ts";
import { CliError } from "../cli/output.ts";
import { loadCommands } from "../cli/commands.ts";
import { daemonCommand, daemonConfigFromArgs } from "../cli/daemon.ts";
import { completionScript, subcommandsOf } from "../cli/completion.ts";
import { healthExamples, serviceUnit } from "../cli/service.ts";
import { installHint, pilotOnPath } from "../cli/install_hint.ts";

const COMMANDS = await loadCommands();
const DAEMON_FLAGS = daemonCommand.flags;

Deno.test("config file: keys become flags, underscores as hyphens, unknown keys ignored, the command line wins", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/config.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        hostname: "from-file",
        admin_token: "file-token",
        networks: [3, 4],
        public: true,
        "max-conns-total": 50,
        listen: ":4100",
        unknown_key: "ignored",
      }),
    );
    const argv = argvWithConfig(
      ["--config", path, "--hostname", "from-flag", "--public=false"],
      DAEMON_FLAGS,
    );
    const args = parseArgs(argv, DAEMON_FLAGS);
    const env = Deno.env.get("PILOT_ADMIN_TOKEN");
    Deno.env.delete("PILOT_ADMIN_TOKEN");
    try {
      const config = daemonConfigFromArgs(args, argv);
      assertEquals(config.hostname, "from-flag");
      assertEquals(config.public, false);
      assertEquals(config.networks, [3, 4]);
      assertEquals(config.maxConnsTotal, 50);
      assertEquals(config.listen, { host: "0.0.0.0", port: 4100 });
      assertEquals(config.adminToken, "file-token");
    } finally {
      if (env !== undefined) Deno.env.set("PILOT_ADMIN_TOKEN", env);
    }
    assertEquals(args.strings.get("hostname"), "from-flag");
    assert(!args.strings.has("unknown-key"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config file: an environment variable beats the file's key of the same meaning", () => {
  const before = Deno.env.get("PILOT_REGISTRY");
  Deno.env.set("PILOT_REGISTRY", "10.0.0.1:9000");
  try {
    assertEquals(configTokens({ registry: "10.9.9.9:9000", beacon: "10.9.9.9:9001" }, DAEMON_FLAGS, "f"), [
      "--beacon=10.9.9.9:9001",
    ]);
  } finally {
    if (before === undefined) Deno.env.delete("PILOT_REGISTRY");
    else Deno.env.set("PILOT_REGISTRY", before);
  }
});

Deno.test("config file: a named file that is missing, malformed or holds bad values is an error naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = assertThrows(() => argvWithConfig([`--config=${dir}/none.json`], DAEMON_FLAGS), CliError);
    assertEquals((missing as CliError).code, "not_found");
    assertMatch(missing.message, /none\.json/);
    // The default file may be absent.
    assertEquals(argvWithConfig(["--public"], DAEMON_FLAGS, `${dir}/none.json`), ["--public"]);
    await Deno.writeTextFile(`${dir}/bad.json`, "{ not json");
    const bad = assertThrows(() => argvWithConfig(["--config", `${dir}/bad.json`], DAEMON_FLAGS), CliError);
    assertEquals((bad as CliError).code, "invalid_argument");
    assertMatch(bad.message, /bad\.json: not valid JSON/);
    await Deno.writeTextFile(`${dir}/arr.json`, "[1]");
    assertThrows(
      () => argvWithConfig(["--config", `${dir}/arr.json`], DAEMON_FLAGS),
      CliError,
      /JSON object/,
    );
    assertThrows(
      () => configTokens({ public: "maybe" }, DAEMON_FLAGS, "x.json"),
      CliError,
      /x\.json: key "public" must be true or false/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flagValue reads --name V and --name=V, the last one winning, and stops at --", () => {
  assertEquals(flagValue(["--state", "a", "--state=b"], "state"), "b");
  assertEquals(flagValue(["x", "--", "--state", "a"], "state"), undefined);
});

Deno.test("daemon flags: the reference's names map onto the daemon's settings; fixed values are refused, not ignored", () => {
  const parse = (argv: string[]) => daemonConfigFromArgs(parseArgs(argv, DAEMON_FLAGS), argv);
  const config = parse([
    "--keepalive=5s",
    "--syn-rate-limit=7",
    "--max-conns-per-port=9",
    "--max-conns-total=11",
    "--identity=/tmp/id.json",
    "--owner=a@b.example",
    "--idle-timeout=120s",
    "--time-wait=0",
  ]);
  assertEquals(config.heartbeatMs, 5_000);
  assertEquals([config.synRateLimit, config.maxConnsPerPort, config.maxConnsTotal], [7, 9, 11]);
  assertEquals(config.identityPath, "/tmp/id.json");
  assertEquals(config.email, "a@b.example");
  assertEquals(parse(["--no-encrypt"]).encrypt, false);
  assertEquals(parse([]).encrypt, true);
  assertThrows(() => parse(["--idle-timeout", "5s"]), CliError, /--idle-timeout 5s/);
  assertThrows(() => parse(["--time-wait", "1m"]), CliError, /--time-wait 1m/);
  assertThrows(() => parse(["--max-conns-total", "-1"]), CliError);
  assertThrows(() => parse(["--email", "nobody"]), CliError, /--email/);
});

Deno.test("completion: every command and flag of the table is in each script; subcommands come from usage", () => {
  assertEquals(subcommandsOf(COMMANDS.find((c) => c.name === "daemon")!), ["start", "stop", "status"]);
  assertEquals(subcommandsOf(COMMANDS.find((c) => c.name === "service")!), ["install", "uninstall"]);
  assertEquals(subcommandsOf(COMMANDS.find((c) => c.name === "completion")!), ["bash", "zsh", "fish"]);
  assert(subcommandsOf(COMMANDS.find((c) => c.name === "task")!).includes("send-results"));
  for (const shell of ["bash", "zsh", "fish"] as const) {
    const script = completionScript(shell, COMMANDS);
    for (const c of COMMANDS) {
      assert(script.includes(c.name), `${shell}: ${c.name} missing`);
      for (const flag of Object.keys(c.flags)) {
        assert(
          script.includes(shell === "fish" ? `-l ${flag}` : `--${flag}`),
          `${shell}: ${c.name} --${flag} missing`,
        );
      }
    }
  }
  assertMatch(completionScript("zsh", COMMANDS), /^#compdef pilot/);
  assertMatch(completionScript("bash", COMMANDS), /complete -o default -F _pilot pilot/);
});

Deno.test("service: the unit runs the daemon in the foreground as the user, restarts it, quotes its words", () => {
  const unit = serviceUnit({
    name: "pilot",
    user: "alice",
    home: "/home/alice",
    exec: ["/usr/bin/deno", "run", "-A", "/srv/pilot/main.ts", "daemon", "--hostname", "a b"],
  });
  assertMatch(unit, /^ExecStart=\/usr\/bin\/deno run -A \/srv\/pilot\/main\.ts daemon --hostname "a b"$/m);
  assertMatch(unit, /^User=alice$/m);
  assertMatch(unit, /^Environment=HOME=\/home\/alice$/m);
  assertMatch(unit, /^Restart=on-failure$/m);
  assertMatch(unit, /^WantedBy=multi-user\.target$/m);
  const health = healthExamples("pilot", "alice", "/home/alice", ["/usr/local/bin/pilot", "health"]);
  assertMatch(health.cron, /^\*\/5 \* \* \* \* \/usr\/local\/bin\/pilot health /);
  assertMatch(health.timer, /OnUnitActiveSec=5min/);
  assertMatch(health.timer, /ExecStart=\/usr\/local\/bin\/pilot health/);
});

Deno.test("install hint: printed when no executable pilot is on the PATH, not when one is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert(!pilotOnPath(dir));
    const hint = installHint(dir);
    assertMatch(hint.join("\n"), /deno task install/);
    await Deno.writeTextFile(`${dir}/pilot`, "#!/bin/sh\n");
    assert(!pilotOnPath(dir), "a non-executable file is no command");
    await Deno.chmod(`${dir}/pilot`, 0o755);
    assert(pilotOnPath(`/nonexistent:${dir}`));
    assertEquals(installHint(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
