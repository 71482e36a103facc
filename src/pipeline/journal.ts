import { fstatSync, readSync, statSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { LIMITS } from '../defaults.js';
import { join } from 'node:path';
import { ChartMirrorError } from '../errors.js';
import { withFileLock } from '../util/file-lock.js';
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
/** Held while a line is appended or the file is compacted (util/file-lock.ts). */
export const JOURNAL_LOCK_FILE = 'journal.jsonl.lock';
/** fsync at most this often; every line is written at once, so a SIGKILL loses nothing written. */
const SYNC_INTERVAL_MS = 200;
/** An append follows the journal to a new file at most this often in one write (compactions are rare). */
const MAX_REWRITES = 5;

/**
 * Crash-safe record of what each target has confirmed. One JSON line per confirmation, appended
 * with a single write() as soon as the target confirmed it, fsynced in small groups. A torn last
 * line (power loss mid-write) is ignored. On open the file is compacted when it has grown well
 * past the number of live entries.
 *
 * Several processes may write one journal (library callers, runs that share a state directory
 * without the run lock). Appends take no lock: each batch is one O_APPEND write (whole with
 * respect to other appends on a local file system), after which the appender checks that its
 * handle is still the file at the path; if a compaction replaced it meanwhile, it writes the
 * batch again into the new file (a duplicate line is harmless). Compactions take
 * `journal.jsonl.lock` (one at a time), rewrite the file from what is on disk, rename it into
 * place, and then copy into the new file every whole line that reached the old one after they
 * read it. An appender whose check came before the rename wrote before the rename, so that copy
 * has its line; one whose check came after writes again: no line is lost either way.
 */
export class Journal {
  private readonly entries = new Map<string, JournalEntry>();
  /** Entries of other journals of the same state (other shards'): consulted, never rewritten. */
  private readonly inherited = new Map<string, JournalEntry>();
  private fh: FileHandle | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private dirtySinceSync = false;
  /** Lines waiting for the append in flight to finish, and when they will be written. */
  private queued = '';
  private queuedDone: Promise<void> | undefined;
  /** The last append (settled, never rejecting): the next one starts after it. */
  private appending: Promise<void> = Promise.resolve();
  /** The size of the file our handle is on after our last write (its last byte is then ours, a newline). */
  private endOfOurWrite = -1;
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
      const st = await stat(this.path);
      if (!st.isFile()) throw new ChartMirrorError('CONFIG', `state ${this.path}: the journal is not a regular file`);
      if (st.size > LIMITS.stateJournalBytes) {
        throw new ChartMirrorError('CONFIG', `state ${this.path}: the journal is larger than ${LIMITS.stateJournalBytes} bytes; remove it (the next run then checks every version at its targets)`);
      }
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if (e instanceof ChartMirrorError) throw e;
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new ChartMirrorError('CONFIG', `state ${this.path}: cannot read journal (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
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
    // a+: appends, and reads the last byte (a torn line) at a position.
    this.fh = await open(this.path, 'a+');
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.dir, JOURNAL_LOCK_FILE), fn, { what: `state ${this.path}`, ioErrorCode: 'CONFIG' });
  }

  /**
   * Rewrite the file with one line per live entry, from the file as it is now (under the lock, so
   * no other compaction runs meanwhile), unless it no longer needs it. Lines appended while it
   * works are carried into the new file (see the class comment). Returns the number of entries.
   */
  async compact(opts: { force?: boolean } = {}): Promise<number> {
    if (this.memory || this.readOnly) return this.entries.size;
    await mkdir(this.dir, { recursive: true });
    return this.locked(async () => {
      const old = await open(this.path, 'r').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw new ChartMirrorError('CONFIG', `state ${this.path}: cannot read journal (${e.code})`);
      });
      try {
        const bytes = old ? await old.readFile() : Buffer.alloc(0);
        // Only whole lines: a line being appended right now is read again with the tail below.
        const read = bytes.lastIndexOf(0x0a) + 1;
        const now = new Map<string, JournalEntry>();
        const { lines, ignored } = parseLines(bytes.subarray(0, read).toString('utf8'), (k, e) => now.set(k, e));
        for (const [k, e] of now) this.entries.set(k, e);
        this.ignoredLines = 0;
        // A piece after the last newline: a line torn by a crash, or one being appended now (which
        // its writer completes, and the tail below then carries over).
        const partial = read < bytes.length;
        if (!(opts.force || ignored > 0 || partial || lines > 2 * now.size + 1000)) {
          this.lines = lines;
          return now.size;
        }
        await writeFileAtomic(this.path, [...now].map(([k, e]) => line(k, e)).join(''));
        this.lines = now.size;
        if (!old) return now.size;
        // What reached the old file after it was read: its well-formed lines go into the new one
        // (a torn piece is left behind).
        const tail = await readFrom(old, read);
        const moved: string[] = [];
        parseLines(tail.subarray(0, tail.lastIndexOf(0x0a) + 1).toString('utf8'), (k, e) => {
          now.set(k, e);
          this.entries.set(k, e);
          moved.push(line(k, e));
        });
        if (moved.length > 0) {
          const fh = await open(this.path, 'a');
          try {
            await fh.write(moved.join(''));
          } finally {
            await fh.close();
          }
          this.lines += moved.length;
        }
        return now.size;
      } finally {
        await old?.close();
      }
    });
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

  /**
   * Why the journal stopped being written (a full disk, say), if it did. What it could not
   * record is still at its target: a later run checks it there instead of trusting the journal.
   */
  writeError: string | undefined;

  /**
   * Record a confirmation. The line is in the file (page cache) when this resolves. A write
   * that fails never fails the item (the target has it): the journal stops writing, and
   * `writeError` says why.
   */
  async record(key: string, entry: Omit<JournalEntry, 'at'>): Promise<void> {
    const full: JournalEntry = { ...entry, at: new Date().toISOString() };
    this.entries.set(key, full);
    if (!this.fh || this.writeError) return;
    try {
      await this.append(line(key, full));
    } catch (e) {
      this.writeError ??= `${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      return;
    }
    this.lines++;
    this.dirtySinceSync = true;
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = undefined;
      this.syncing = this.sync();
    }, SYNC_INTERVAL_MS);
  }

  /**
   * Group append: lines recorded while a write is in flight go together in the next one (one
   * write() for many confirmations).
   */
  private append(text: string): Promise<void> {
    this.queued += text;
    if (!this.queuedDone) {
      this.queuedDone = this.appending.then(() => {
        const batch = this.queued;
        this.queued = '';
        this.queuedDone = undefined;
        return this.writeLines(batch);
      });
      this.appending = this.queuedDone.catch(() => undefined);
    }
    return this.queuedDone;
  }

  /**
   * One write at the end of the file (a line of its own, after a line torn by a crash), then make
   * sure the file written is still the journal: a compaction that replaced it meanwhile has not
   * seen these lines, so they go into the file now at the path too.
   *
   * Synchronous calls: each is a few microseconds on a local file (the data goes to the page
   * cache; fsync stays asynchronous), where the promise API costs about 100 µs of the main
   * thread per call, a whole second over a run of 1,000 versions.
   */
  private async writeLines(text: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const fd = this.fh!.fd;
      const mine = fstatSync(fd);
      let prefix = '';
      if (mine.size > 0 && mine.size !== this.endOfOurWrite) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, mine.size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      const data = Buffer.from(prefix + text);
      writeSync(fd, data);
      this.endOfOurWrite = mine.size + data.length;
      const there = statSync(this.path, { throwIfNoEntry: false });
      if (there && there.ino === mine.ino && there.dev === mine.dev) return;
      if (attempt >= MAX_REWRITES) throw new Error(`the journal was replaced ${MAX_REWRITES} times while a line was written`);
      await this.fh!.close().catch(() => undefined);
      this.fh = await open(this.path, 'a+');
      this.endOfOurWrite = -1;
    }
  }

  private async sync(): Promise<void> {
    if (!this.fh || !this.dirtySinceSync) return;
    this.dirtySinceSync = false;
    await this.fh.sync().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.appending;
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

/** The rest of a file from `offset`. */
async function readFrom(fh: FileHandle, offset: number): Promise<Buffer> {
  const size = (await fh.stat()).size;
  if (size <= offset) return Buffer.alloc(0);
  const buf = Buffer.alloc(size - offset);
  const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
  return buf.subarray(0, bytesRead);
}

function line(k: string, e: JournalEntry): string {
  return `${JSON.stringify({ k, d: e.digest, a: e.archive, t: e.at, ...(e.images ? { i: e.images } : {}), ...(e.tag ? { g: e.tag } : {}) })}\n`;
}
