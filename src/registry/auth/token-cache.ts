/**
 * Bearer tokens per (realm, service, sorted scopes), used until shortly before they expire, with
 * one fetch at a time per key (oras-go auth/cache.go single-flights; regclient renews early;
 * distribution floors lifetimes at 60 s).
 */

export interface TokenEntry {
  token: string;
  /** When the token service says the token stops working (our clock). */
  expiresAt: number;
  /** When we stop handing it out: expiresAt minus a margin. */
  usableUntil: number;
  /** Fetched because the previous token for this key was rejected: a second rejection is final. */
  afterRejection: boolean;
}

export interface FetchedToken {
  token: string;
  /** Remaining lifetime in ms as of `receivedAt`. */
  lifetimeMs: number;
  receivedAt: number;
}

/** Distribution's floor and default (token.md: expires_in defaults to 60, minimum 60). */
export const MIN_TOKEN_LIFETIME_MS = 60_000;

const PRUNE_ABOVE = 512;

/** Stop using a token 10% of its lifetime before it expires, but at least 10 s and at most 60 s early. */
export function expiryMargin(lifetimeMs: number): number {
  return Math.min(60_000, Math.max(10_000, lifetimeMs * 0.1));
}

export class TokenCache {
  private readonly entries = new Map<string, TokenEntry>();
  private readonly inflight = new Map<string, Promise<TokenEntry>>();
  private readonly fetchesByKey = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** The current entry for `key` while it is usable. */
  fresh(key: string): TokenEntry | undefined {
    const e = this.entries.get(key);
    return e && this.now() < e.usableUntil ? e : undefined;
  }

  /**
   * A usable token for `key`, fetching one if needed. With `replace`, a cached token equal to it
   * counts as unusable (it was just rejected); a token someone else already fetched instead of it
   * is returned as is, so concurrent rejections cause one refresh.
   */
  get(
    key: string,
    fetch: () => Promise<FetchedToken>,
    opts: { replace?: string; afterRejection?: boolean } = {},
  ): Promise<TokenEntry> {
    const cur = this.fresh(key);
    if (cur && (opts.replace === undefined || cur.token !== opts.replace)) return Promise.resolve(cur);
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.fetchAndStore(key, fetch, opts.afterRejection ?? false).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  fetchCount(): number {
    let n = 0;
    for (const v of this.fetchesByKey.values()) n += v;
    return n;
  }

  fetchCountsByKey(): Record<string, number> {
    return Object.fromEntries(this.fetchesByKey);
  }

  private async fetchAndStore(key: string, fetch: () => Promise<FetchedToken>, afterRejection: boolean): Promise<TokenEntry> {
    this.fetchesByKey.set(key, (this.fetchesByKey.get(key) ?? 0) + 1);
    const got = await fetch();
    const expiresAt = got.receivedAt + got.lifetimeMs;
    const entry: TokenEntry = {
      token: got.token,
      expiresAt,
      usableUntil: expiresAt - expiryMargin(got.lifetimeMs),
      afterRejection,
    };
    this.entries.set(key, entry);
    this.prune();
    return entry;
  }

  private prune(): void {
    if (this.entries.size <= PRUNE_ABOVE) return;
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
