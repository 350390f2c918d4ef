/**
 * The nameserver's records in memory (docs/protocol/services.md §8): A (name → address), N (network name →
 * network id) and S ((network, port) → providers), each owned by the node that registered it and
 * alive for a TTL (5 minutes) that a new registration of the same record renews.
 *
 * The rules that keep one node from taking over another's names: a node registers only its own
 * address (A and S); a live name held by one node cannot be registered by another until it
 * expires; a node holds at most {@link MAX_RECORDS_PER_NODE} records and the table at most
 * {@link MAX_RECORDS}. Expired records are invisible at once and removed by {@link NameRecords.reap}.
 * Pure: the clock is injected, nothing is read or written here.
 * @module
 */
import { PilotError } from "../../errors.ts";
import type { Address } from "../../protocol/address.ts";
import type { ServiceRecord } from "./codec.ts";
import { quote } from "./codec.ts";

/** How long a record lives after its last registration. */
export const DEFAULT_RECORD_TTL_MS = 5 * 60_000;
/** How often expired records are removed (lookups already skip them). */
export const REAP_INTERVAL_MS = 60_000;
/** Records (A, N and S together) one node may hold. */
export const MAX_RECORDS_PER_NODE = 64;
/** Records the whole table may hold. */
export const MAX_RECORDS = 10_000;
/** Providers one (network, port) service may list, so a `QUERY S` answer stays under 64 KiB. */
export const MAX_PROVIDERS_PER_SERVICE = 100;
/** Owner of a record whose registrant is unknown (loaded from a file without owners): anyone may replace it. */
export const UNKNOWN_OWNER = 0;

/** A registration the rules refuse; its message is the `ERR` text. */
export class RegistrationRefusedError extends PilotError {}

/** What every record carries besides its data. */
interface Lease {
  /** Node that registered it. */
  owner: number;
  /** Wall-clock ms after which it is gone. */
  expiresAt: number;
}

/** An A record. */
export interface ARecord extends Lease {
  name: string;
  address: Address;
}

/** An N record. */
export interface NRecord extends Lease {
  name: string;
  network: number;
}

/** An S record (one provider of one service). */
export interface SRecord extends Lease {
  name: string;
  address: Address;
  network: number;
  port: number;
}

/** Every live record, as the persistence file holds them. */
export interface RecordSnapshot {
  a: ARecord[];
  n: NRecord[];
  s: SRecord[];
}

/** Options of {@link NameRecords}. */
export interface NameRecordsOptions {
  /** Record lifetime; default {@link DEFAULT_RECORD_TTL_MS}. */
  ttlMs?: number;
  /** Wall clock in ms; default `Date.now`. */
  now?: () => number;
}

const serviceKey = (network: number, port: number) => network * 0x1_0000 + port;

/** The record table. */
export class NameRecords {
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #a = new Map<string, ARecord>();
  readonly #n = new Map<string, NRecord>();
  readonly #s = new Map<number, SRecord[]>();
  /** Records held per owner (expired ones count until reaped). */
  readonly #perOwner = new Map<number, number>();
  #size = 0;

  constructor(options: NameRecordsOptions = {}) {
    const ttl = options.ttlMs ?? DEFAULT_RECORD_TTL_MS;
    if (!(Number.isFinite(ttl) && ttl > 0)) throw new RangeError(`record TTL must be positive, got ${ttl}`);
    this.ttlMs = ttl;
    this.#now = options.now ?? Date.now;
  }

  /** Records held, expired ones included until reaped. */
  get size(): number {
    return this.#size;
  }

  /** The address registered for `name`, if live. */
  lookupA(name: string): Address | undefined {
    const r = this.#a.get(name);
    return r && this.#live(r) ? r.address : undefined;
  }

  /** The network id registered for `name`, if live. */
  lookupN(name: string): number | undefined {
    const r = this.#n.get(name);
    return r && this.#live(r) ? r.network : undefined;
  }

  /** Live providers of (`network`, `port`), oldest registration first. */
  lookupS(network: number, port: number): ServiceRecord[] {
    return (this.#s.get(serviceKey(network, port)) ?? [])
      .filter((r) => this.#live(r))
      .map((r) => ({ name: r.name, address: r.address, port: r.port }));
  }

  /** Registers or renews `name` → `address` for `caller`; throws {@link RegistrationRefusedError}. */
  registerA(caller: number, name: string, address: Address): void {
    if (address.node !== caller) {
      throw new RegistrationRefusedError("cannot register address for another node");
    }
    const old = this.#claim(this.#a, name, caller, "name");
    if (!old) this.#admit(caller);
    this.#a.set(name, { name, address, owner: caller, expiresAt: this.#expiry() });
  }

  /** Registers or renews network name `name` → `network` for `caller`. */
  registerN(caller: number, name: string, network: number): void {
    const old = this.#claim(this.#n, name, caller, "network");
    if (!old) this.#admit(caller);
    this.#n.set(name, { name, network, owner: caller, expiresAt: this.#expiry() });
  }

  /**
   * Registers `caller`'s provider of (`network`, `port`) at `address` as `name`; a provider with
   * the same address (and port) is renewed and renamed rather than added again.
   */
  registerS(caller: number, name: string, address: Address, network: number, port: number): void {
    if (address.node !== caller) {
      throw new RegistrationRefusedError("cannot register service for another node");
    }
    const key = serviceKey(network, port);
    const list = this.#s.get(key) ?? [];
    const existing = list.find((r) => r.address.equals(address) && r.port === port);
    if (existing && this.#live(existing)) {
      existing.name = name;
      existing.expiresAt = this.#expiry();
      return;
    }
    if (existing) this.#removeS(key, existing);
    const live = (this.#s.get(key) ?? []).filter((r) => this.#live(r)).length;
    if (live >= MAX_PROVIDERS_PER_SERVICE) {
      throw new RegistrationRefusedError(
        `service ${network}:${port} already lists ${MAX_PROVIDERS_PER_SERVICE} providers`,
      );
    }
    this.#admit(caller);
    const record: SRecord = { name, address, network, port, owner: caller, expiresAt: this.#expiry() };
    const current = this.#s.get(key);
    if (current) current.push(record);
    else this.#s.set(key, [record]);
  }

  /** Removes expired records; returns how many went. */
  reap(): number {
    const now = this.#now();
    let removed = 0;
    for (const [name, r] of this.#a) {
      if (r.expiresAt <= now) {
        this.#a.delete(name);
        this.#release(r.owner);
        removed++;
      }
    }
    for (const [name, r] of this.#n) {
      if (r.expiresAt <= now) {
        this.#n.delete(name);
        this.#release(r.owner);
        removed++;
      }
    }
    for (const [key, list] of this.#s) {
      const alive = list.filter((r) => r.expiresAt > now);
      for (const r of list) if (r.expiresAt <= now) this.#release(r.owner);
      removed += list.length - alive.length;
      if (alive.length) this.#s.set(key, alive);
      else this.#s.delete(key);
    }
    return removed;
  }

  /** Every live record (copies), for the persistence file. */
  snapshot(): RecordSnapshot {
    const live = <T extends Lease>(r: T) => this.#live(r);
    return {
      a: [...this.#a.values()].filter(live).map((r) => ({ ...r })),
      n: [...this.#n.values()].filter(live).map((r) => ({ ...r })),
      s: [...this.#s.values()].flat().filter(live).map((r) => ({ ...r })),
    };
  }

  /**
   * Loads records read from a file into an empty table: expired ones are dropped, and so is any
   * record the limits or the rules refuse (reported by count, first reason kept).
   */
  restore(snapshot: RecordSnapshot): { loaded: number; dropped: number; reason?: string } {
    if (this.#size !== 0) throw new Error("restore needs an empty table");
    let loaded = 0;
    let dropped = 0;
    let reason: string | undefined;
    const take = (r: Lease, add: () => void) => {
      if (!this.#live(r)) {
        dropped++;
        return;
      }
      try {
        add();
        loaded++;
      } catch (err) {
        if (!(err instanceof RegistrationRefusedError)) throw err;
        dropped++;
        reason ??= err.message;
      }
    };
    // Registration sets a fresh expiry; the file's own expiry is put back afterwards.
    for (const r of snapshot.a) {
      take(r, () => {
        if (r.owner !== UNKNOWN_OWNER && r.owner !== r.address.node) {
          throw new RegistrationRefusedError(`A ${quote(r.name)}: owner is not the address's node`);
        }
        this.registerA(r.address.node, r.name, r.address);
        this.#a.get(r.name)!.expiresAt = Math.min(r.expiresAt, this.#expiry());
      });
    }
    for (const r of snapshot.n) {
      take(r, () => {
        this.registerN(r.owner, r.name, r.network);
        this.#n.get(r.name)!.expiresAt = Math.min(r.expiresAt, this.#expiry());
      });
    }
    for (const r of snapshot.s) {
      take(r, () => {
        this.registerS(r.address.node, r.name, r.address, r.network, r.port);
        const list = this.#s.get(serviceKey(r.network, r.port))!;
        list.find((x) => x.address.equals(r.address))!.expiresAt = Math.min(r.expiresAt, this.#expiry());
      });
    }
    return { loaded, dropped, reason };
  }

  #live(r: Lease): boolean {
    return r.expiresAt > this.#now();
  }

  #expiry(): number {
    return this.#now() + this.ttlMs;
  }

  /**
   * Checks that `caller` may (re)register `name` in `table`; drops an expired holder. Returns the
   * live record `caller` already holds, which a registration renews without counting anew.
   */
  #claim<T extends Lease>(table: Map<string, T>, name: string, caller: number, what: string): T | undefined {
    const held = table.get(name);
    if (!held) return undefined;
    if (!this.#live(held)) {
      table.delete(name);
      this.#release(held.owner);
      return undefined;
    }
    if (held.owner === caller) return held;
    if (held.owner === UNKNOWN_OWNER) {
      table.delete(name);
      this.#release(held.owner);
      return undefined;
    }
    throw new RegistrationRefusedError(`${what} ${quote(name)} is registered by another node`);
  }

  /** Counts a new record for `owner`, or refuses it when a limit is reached. */
  #admit(owner: number): void {
    if (this.#size >= MAX_RECORDS) this.reap();
    if (this.#size >= MAX_RECORDS) {
      throw new RegistrationRefusedError(`nameserver is full (${MAX_RECORDS} records)`);
    }
    if ((this.#perOwner.get(owner) ?? 0) >= MAX_RECORDS_PER_NODE) this.reap();
    const held = this.#perOwner.get(owner) ?? 0;
    if (owner !== UNKNOWN_OWNER && held >= MAX_RECORDS_PER_NODE) {
      throw new RegistrationRefusedError(`record limit reached (${MAX_RECORDS_PER_NODE} per node)`);
    }
    this.#perOwner.set(owner, held + 1);
    this.#size++;
  }

  #release(owner: number): void {
    const held = (this.#perOwner.get(owner) ?? 1) - 1;
    if (held > 0) this.#perOwner.set(owner, held);
    else this.#perOwner.delete(owner);
    this.#size--;
  }

  #removeS(key: number, record: SRecord): void {
    const list = this.#s.get(key);
    if (!list) return;
    const i = list.indexOf(record);
    if (i < 0) return;
    list.splice(i, 1);
    this.#release(record.owner);
    if (list.length === 0) this.#s.delete(key);
  }
}
