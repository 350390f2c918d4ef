/**
 * `pilot registry --rate-limit`: one comma-separated list for the three layers of
 * limits. Bare names are the per-address budgets (`register=300`), `node.<category>`
 * the per-node budgets (`node.heartbeat=120` or `node.heartbeat=120:30` for rate per
 * minute and burst), `global.rps`, `global.inflight` and `global.heap_mb` the global
 * budget. `off` turns every limit off.
 * @module
 */
import { DEFAULT_RATE_LIMITS, parseRateLimits, type RateLimits } from "./ratelimit.ts";
import {
  DEFAULT_NODE_LIMITS,
  NODE_CATEGORIES,
  NODE_LIMITS_OFF,
  type NodeCategory,
  type NodeLimits,
} from "./node_limits.ts";
import { DEFAULT_GLOBAL_LIMITS, GLOBAL_LIMITS_OFF, type GlobalLimits } from "./load_shed.ts";

/** Every limit the registry enforces on requests. */
export interface AllRateLimits {
  address: RateLimits;
  node: NodeLimits;
  global: GlobalLimits;
}

/** The defaults of all three layers. */
export function defaultRateLimits(): AllRateLimits {
  return {
    address: { ...DEFAULT_RATE_LIMITS },
    node: structuredClone(DEFAULT_NODE_LIMITS) as NodeLimits,
    global: { ...DEFAULT_GLOBAL_LIMITS },
  };
}

const GLOBAL_KEYS: Record<string, (g: GlobalLimits, v: number) => void> = {
  rps: (g, v) => g.requestsPerSecond = v,
  inflight: (g, v) => g.maxInFlight = v,
  heap_mb: (g, v) => g.maxHeapBytes = v * 1024 * 1024,
};

/** Parses the flag's text over the defaults. Throws RangeError naming the bad entry. */
export function parseRateLimitFlag(text: string): AllRateLimits {
  const out = defaultRateLimits();
  if (text.trim() === "off") {
    return {
      address: parseRateLimits("off"),
      node: structuredClone(NODE_LIMITS_OFF) as NodeLimits,
      global: { ...GLOBAL_LIMITS_OFF },
    };
  }
  const addressParts: string[] = [];
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    let m = /^node\.([a-z]+)=(\d+)(?::(\d+))?$/.exec(part);
    if (m) {
      if (!NODE_CATEGORIES.includes(m[1] as NodeCategory)) {
        throw new RangeError(`bad rate limit "${part}" (node categories: ${NODE_CATEGORIES.join(", ")})`);
      }
      const budget = out.node[m[1] as NodeCategory];
      budget.perMinute = Number(m[2]);
      budget.burst = m[3] !== undefined
        ? Math.max(1, Number(m[3]))
        : Math.max(1, Math.ceil(budget.perMinute / 4));
      continue;
    }
    m = /^global\.([a-z_]+)=(\d+)$/.exec(part);
    if (m) {
      const set = GLOBAL_KEYS[m[1]];
      if (!set) {
        throw new RangeError(
          `bad rate limit "${part}" (global keys: ${Object.keys(GLOBAL_KEYS).join(", ")})`,
        );
      }
      set(out.global, Number(m[2]));
      continue;
    }
    addressParts.push(part);
  }
  out.address = parseRateLimits(addressParts.join(","), out.address);
  return out;
}
