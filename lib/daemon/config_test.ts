/** Daemon configuration: the auto-join settings from flags and their validation. */
import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { daemonCommand, daemonConfigFromArgs } from "../../cli/daemon.ts";
import { parseArgs } from "../../cli/args.ts";
import { CliError } from "../../cli/output.ts";
import { ConfigError, parseNetworkList, resolveConfig } from "./config.ts";

const base = { registry: "127.0.0.1:9000", stateDir: "/tmp/pilot-config-test" };

Deno.test("config: --networks lists parse, and ids outside 1..65535 are refused", () => {
  assertEquals(parseNetworkList("1,2, 3,,"), [1, 2, 3]);
  assertEquals(parseNetworkList(""), []);
  assertThrows(() => parseNetworkList("1,two"), ConfigError, /"two" is not a network id/);
  assertThrows(() => parseNetworkList("-1"), ConfigError);
  assertEquals(resolveConfig({ ...base, networks: [1, 65535] }).networks, [1, 65535]);
  assertThrows(() => resolveConfig({ ...base, networks: [0] }), ConfigError, /1\.\.65535/);
  assertThrows(() => resolveConfig({ ...base, networks: [65536] }), ConfigError);
});

Deno.test("config: pilot daemon --admin-token and --networks reach the daemon configuration", () => {
  const argv = [
    "--registry",
    base.registry,
    "--state",
    base.stateDir,
    "--admin-token",
    "T",
    "--networks",
    "7,9",
  ];
  const config = daemonConfigFromArgs(parseArgs(argv, daemonCommand.flags), argv);
  assertEquals([config.adminToken, config.networks], ["T", [7, 9]]);
  const none = ["--registry", base.registry, "--state", base.stateDir];
  assertEquals(daemonConfigFromArgs(parseArgs(none, daemonCommand.flags), none).networks, undefined);
  const bad = [...none, "--networks", "1,x"];
  assertThrows(() => daemonConfigFromArgs(parseArgs(bad, daemonCommand.flags), bad), CliError);
});
