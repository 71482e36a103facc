import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { writeFileAtomic } from '../util/fs-atomic.js';

export interface JournalEntry {
  /** Manifest digest the target confirmed. */
  digest: string;
  /** sha256 of the source archive it was built from (index digest), to notice republished versions. */
  archive?: string;
  /** When it was confirmed (ISO time). */
  at: string;
  /** The container images the chart uses (normalized references), when images were on. */
  images?: string[];
  /** The tag it was pushed under, when not the version's own (Chart.yaml's version read as a YAML number). */
  tag?: string;
}

export interface JournalKey {
  source: string;
  chart: string;
  version: string;
  /** Target identity (URL or layout path) + repository: a moved target is a new destination. */
  destination: string;
}

const FILE = 'journal.jsonl';
/** fsync at most this often; every line is written at once, so a SIGKILL loses nothing written. */
const SYNC_INTERVAL_MS = 200;

/**
 * Crash-safe record of what each target has confirmed. One JSON line per confirmation, appended
 * with a single write() as soon as the target confirmed it, fsynced in small groups. A torn last
 * line (power loss mid-write) is ignored. On open the file is compacted when it has grown well
 * past the number of live entries.
 */
export class Journal {
  private readonly entries = new Map<string, JournalEntry>();
  /** Entries of other journals of the same state (other shards'): consulted, never rewritten. */
  private readonly inherited = new Map<string, JournalEntry>();
  private fh: FileHandle | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private dirtySinceSync = false;
  private lines = 0;
  ignoredLines = 0;

  private constructor(
    readonly dir: string,
    private readOnly: boolean,
    private readonly memory = false,
  ) {}

  /** A journal that keeps nothing on disk (an export's staging run, a library caller's dry plan). */
  static inMemory(): Journal {
    return new Journal('(memory)', true, true);
  }

  static key(k: JournalKey): string {
    return JSON.stringify([k.source, k.chart, k.version, k.destination]);
  }

  /**
   * Open (creating the state directory unless read-only) and load every confirmed entry.
   * `inherit`: directories of other journals to consult too (other shards' of the same state,
   * so a chart that moved to this shard when the shard count changed is still known).
   */
  static async open(dir: string, opts: { readOnly?: boolean; inherit?: readonly string[] } = {}): Promise<Journal> {
    const j = new Journal(dir, opts.readOnly ?? false);
    for (const other of opts.inherit ?? []) {
      const text = await readFile(join(other, FILE), 'utf8').catch(() => '');
      parseLines(text, (k, e) => j.inherited.set(k, e));
    }
    await j.load();
    return j;
  }

  private get path(): string {
    return join(this.dir, FILE);
  }

  private async load(): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ChartMirrorError('CONFIG', `state ${this.path}: cannot read journal (${(e as NodeJS.ErrnoException).code})`);
      }
    }
    const { lines, ignored } = parseLines(text, (k, e) => this.entries.set(k, e));
    this.lines += lines;
    this.ignoredLines += ignored;
    if (!this.readOnly) await this.startWriting();
  }

  /**
   * Make a journal opened read-only writable: create the state directory, compact, open the file
   * for appending. Runs read the journal first and write only once they know they will work.
   */
  async openForWriting(): Promise<void> {
    if (this.fh || this.memory) return;
    this.readOnly = false;
    await this.startWriting();
  }

  private async startWriting(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (this.ignoredLines > 0 || this.lines > 2 * this.entries.size + 1000) await this.compact();
    this.fh = await open(this.path, 'a');
  }

  private async compact(): Promise<void> {
    const body = [...this.entries].map(([k, e]) => line(k, e)).join('');
    await writeFileAtomic(this.path, body);
    this.lines = this.entries.size;
    this.ignoredLines = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): JournalEntry | undefined {
    return this.entries.get(key) ?? this.inherited.get(key);
  }

  /** This journal's entries, compacted: what a registry-backed state pushes. */
  serialize(): Buffer {
    return Buffer.from([...this.entries].map(([k, e]) => line(k, e)).join(''));
  }

  /** Record a confirmation. The line is in the file (page cache) when this resolves. */
  async record(key: string, entry: Omit<JournalEntry, 'at'>): Promise<void> {
    const full: JournalEntry = { ...entry, at: new Date().toISOString() };
    this.entries.set(key, full);
    if (!this.fh) return;
    await this.fh.write(line(key, full));
    this.lines++;
    this.dirtySinceSync = true;
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = undefined;
      this.syncing = this.sync();
    }, SYNC_INTERVAL_MS);
  }

  private async sync(): Promise<void> {
    if (!this.fh || !this.dirtySinceSync) return;
    this.dirtySinceSync = false;
    await this.fh.sync().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await this.syncing;
    await this.sync();
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** Every well-formed line of a journal; a torn one (a crash mid-write) is counted and skipped. */
function parseLines(text: string, add: (key: string, entry: JournalEntry) => void): { lines: number; ignored: number } {
  let lines = 0;
  let ignored = 0;
  for (const l of text.split('\n')) {
    if (!l) continue;
    lines++;
    try {
      const rec = JSON.parse(l) as { k: string; d: string; a?: string; t: string; i?: unknown; g?: unknown };
      if (typeof rec.k !== 'string' || typeof rec.d !== 'string') throw new Error('bad record');
      const images = Array.isArray(rec.i) ? rec.i.filter((x): x is string => typeof x === 'string') : undefined;
      add(rec.k, { digest: rec.d, archive: rec.a, at: rec.t, ...(images ? { images } : {}), ...(typeof rec.g === 'string' ? { tag: rec.g } : {}) });
    } catch {
      // A torn line from a crash mid-write: that item was not confirmed, so it is redone.
      ignored++;
    }
  }
  return { lines, ignored };
}

function line(k: string, e: JournalEntry): string {
  return `${JSON.stringify({ k, d: e.digest, a: e.archive, t: e.at, ...(e.images ? { i: e.images } : {}), ...(e.tag ? { g: e.tag } : {}) })}\n`;
}
