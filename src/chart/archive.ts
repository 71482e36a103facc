/**
 * Helm's chart archive loader (pkg/chart/loader/archive.go + load.go at v3.17.3,
 * pkg/chart/loader/archive/archive.go + pkg/chart/v2/loader/load.go at v4.1.4): which archives
 * load, which fail, and the metadata that `helm push` puts in the config blob.
 *
 * Helm's own rules live here: the gzip sniff, path checks, size limits, which files are
 * decoded into what, subcharts. The Go libraries under them are emulated in src/helmcompat/:
 * gzip.ts (inflating only as far as the tar reader reads, as Go does, so trailing garbage, a
 * damaged gzip trailer or reserved flag bits do not matter), gotar.ts, gopath.ts, gosniff.ts.
 */
import { ChartMirrorError } from '../errors.js';
import { filepathExt, pathClean } from '../helmcompat/gopath.js';
import { detectContentType } from '../helmcompat/gosniff.js';
import { isDir, TarError, TarReader, type ByteSource } from '../helmcompat/gotar.js';
import { GzipError, GzipReader } from '../helmcompat/gzip.js';
import { checkLockYaml, checkValuesYaml, decodeInto, validateMetadata, type ChartMetadata } from './metadata.js';

export interface LoadedChart {
  /** After Helm's load + Validate. */
  metadata: ChartMetadata;
  /** Tar header mtime of the (last) Chart.yaml entry. */
  chartYamlMtime?: Date;
  /** Paths after stripping the first component. */
  fileNames: string[];
  /**
   * The chart and its subcharts, with the files image discovery reads (values.yaml,
   * images.lock; none with keepFiles: false). Absent in hand-made values.
   */
  tree?: ChartTree;
}

/** A loaded chart as a tree: its metadata, its own files (paths within it), its subcharts. */
export interface ChartTree {
  /** The directory name under the parent's charts/ (the chart name at the top). */
  name: string;
  metadata: ChartMetadata;
  /** values.yaml and images.lock, when kept. */
  files: ReadonlyMap<string, Buffer>;
  subcharts: ChartTree[];
}

/** Helm's MaxDecompressedChartSize and MaxDecompressedFileSize. */
export const MAX_DECOMPRESSED_CHART_SIZE = 100 * 1024 * 1024;
export const MAX_DECOMPRESSED_FILE_SIZE = 5 * 1024 * 1024;
/**
 * Our own bound on the decompressed tar stream (headers, padding, skipped entries). Helm has
 * none beyond the file-size limits; a legitimate chart never comes near it.
 */
const MAX_TAR_STREAM = 2 * MAX_DECOMPRESSED_CHART_SIZE;

interface BufferedFile {
  name: string;
  /** Absent for files nothing reads (templates, docs, ...): only their names and sizes count. */
  data?: Buffer;
  mtime?: Date;
}

/**
 * Files whose content the loader or image discovery reads, at the top of a chart or of a
 * subchart directory. Everything else is inflated, checked against Helm's limits and dropped,
 * so memory does not grow with what a chart (and its subcharts, nested) carries.
 */
const READ_FILES = new Set(['Chart.yaml', 'requirements.yaml', 'requirements.lock', 'Chart.lock', 'values.yaml', 'images.lock']);

/** Whether a path in a chart (after the first component) is read: READ_FILES, or an archive under charts/. */
export function contentNeeded(path: string): boolean {
  let p = path;
  for (;;) {
    if (READ_FILES.has(p)) return true;
    if (!p.startsWith('charts/')) return false;
    const rest = p.slice('charts/'.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return true; // a file directly in charts/: a subchart archive
    p = rest.slice(slash + 1);
  }
}

function chartError(msg: string, cause?: unknown): ChartMirrorError {
  return new ChartMirrorError('CHART', msg.split('\n')[0], cause === undefined ? {} : { cause });
}

class ArchiveError extends Error {}

/** Gzip and tar failures in the words Helm's loader reports (Node's zlib wording aside). */
function readerMessage(e: GzipError | TarError): string {
  if (!(e instanceof GzipError)) return e.message;
  if (e.failure === 'truncated') return `chart archive is truncated: ${e.message}`;
  if (e.failure === 'corrupt') return `chart archive is not valid gzip: ${e.message}`;
  return e.message;
}

/** The inflated tar stream, cut off at MAX_TAR_STREAM bytes. */
function bounded(src: ByteSource): ByteSource {
  let consumed = 0;
  return {
    async read(n, eofOk) {
      if (consumed + n > MAX_TAR_STREAM) throw new ArchiveError(`chart archive expands beyond ${MAX_TAR_STREAM} bytes`);
      const b = await src.read(n, eofOk);
      if (b) consumed += n;
      return b;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// LoadArchiveFiles

async function readArchiveFiles(tgz: Uint8Array): Promise<BufferedFile[]> {
  const src = new GzipReader(tgz);
  try {
    const tr = new TarReader(bounded(src));
    const files: BufferedFile[] = [];
    let remaining = MAX_DECOMPRESSED_CHART_SIZE;
    for (;;) {
      const hd = await tr.next();
      if (!hd) break;
      if (isDir(hd)) continue;
      if (hd.typeflag === 'g' || hd.typeflag === 'x') continue;

      const delim = hd.name.includes('\\') ? '\\' : '/';
      const parts = hd.name.split(delim);
      let n = parts.slice(1).join(delim);
      n = n.split(delim).join('/');
      if (n.startsWith('/')) throw new ArchiveError('chart illegally contains absolute paths');
      n = pathClean(n);
      if (n === '.') throw new ArchiveError(`chart illegally contains content outside the base directory: ${JSON.stringify(hd.name)}`);
      if (n.startsWith('..')) throw new ArchiveError('chart illegally references parent directory');
      if (/^[a-zA-Z]:\//.test(n)) throw new ArchiveError('chart contains illegally named files');
      if (parts[0] === 'Chart.yaml') throw new ArchiveError('chart yaml not in base directory');
      if (hd.size > remaining) throw new ArchiveError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
      if (hd.size > MAX_DECOMPRESSED_FILE_SIZE) {
        throw new ArchiveError(`decompressed chart file ${JSON.stringify(hd.name)} is larger than the maximum file size ${MAX_DECOMPRESSED_FILE_SIZE}`);
      }
      const mtime = hd.mtime && !Number.isNaN(hd.mtime.getTime()) ? hd.mtime : undefined;
      if (!contentNeeded(n)) {
        const size = await tr.skipData();
        remaining -= size;
        if (size < hd.size || remaining <= 0) throw new ArchiveError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
        files.push({ name: n, mtime });
        continue;
      }
      const data = await tr.data();
      remaining -= data.length;
      if (data.length < hd.size || remaining <= 0) {
        throw new ArchiveError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
      }
      const body = data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? data.subarray(3) : data;
      files.push({ name: n, data: body, mtime });
    }
    if (files.length === 0) throw new ArchiveError('no files in chart archive');
    return files;
  } finally {
    src.close();
  }
}

// ---------------------------------------------------------------------------------------------
// LoadFiles

interface Loaded {
  metadata: ChartMetadata;
  chartYamlMtime?: Date;
  tree: ChartTree;
}

async function loadFiles(files: BufferedFile[], keep: boolean, dirName?: string): Promise<Loaded> {
  let md: ChartMetadata | undefined;
  let chartYamlMtime: Date | undefined;
  for (const f of files) {
    if (f.name !== 'Chart.yaml') continue;
    md ??= {};
    decodeInto(md, f.data!, 'Chart.yaml');
    if (!md.apiVersion) md.apiVersion = 'v1';
    chartYamlMtime = f.mtime;
  }
  const subcharts = new Map<string, BufferedFile[]>();
  for (const f of files) {
    const name = f.name;
    if (name === 'Chart.yaml') continue;
    if (name === 'Chart.lock') {
      checkLockYaml(f.data!, name);
    } else if (name === 'values.yaml') {
      checkValuesYaml(f.data!);
    } else if (name === 'requirements.yaml') {
      md ??= {};
      decodeInto(md, f.data!, name);
    } else if (name === 'requirements.lock') {
      checkLockYaml(f.data!, name);
      md ??= {};
    } else if (name.startsWith('charts/')) {
      if (filepathExt(name) === '.prov') continue;
      const fname = name.slice('charts/'.length);
      const cname = fname.split('/')[0];
      let list = subcharts.get(cname);
      if (!list) subcharts.set(cname, (list = []));
      list.push({ name: fname, data: f.data, mtime: f.mtime });
    }
  }
  if (!md) throw chartError('Chart.yaml file is missing');
  validateMetadata(md);

  const children: ChartTree[] = [];
  for (const [n, list] of subcharts) {
    if (n.startsWith('_') || n.startsWith('.')) continue;
    try {
      if (filepathExt(n) === '.tgz') {
        const file = list[0];
        if (file.name !== n) throw chartError(`error unpacking subchart tar in ${md.name}: expected ${n}, got ${file.name}`);
        const sub = await loadArchive(file.data!, keep);
        file.data = undefined; // loaded: the archive bytes are not needed any more
        children.push({ ...sub.tree, name: sub.metadata.name ?? n.slice(0, -'.tgz'.length) });
      } else {
        const buff: BufferedFile[] = [];
        for (const f of list) {
          const i = f.name.indexOf('/');
          if (i < 0) continue;
          buff.push({ name: f.name.slice(i + 1), data: f.data, mtime: f.mtime });
        }
        children.push((await loadFiles(buff, keep, n)).tree);
      }
    } catch (e) {
      if (e instanceof ChartMirrorError && e.message.startsWith('error unpacking subchart tar in ')) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw chartError(`error unpacking subchart ${n} in ${md.name}: ${msg}`, e);
    }
  }
  // What image discovery reads stays (values.yaml, images.lock); nothing at all when it is off.
  const own = new Map<string, Buffer>();
  if (keep) for (const f of files) if (f.data && (f.name === 'values.yaml' || f.name === 'images.lock')) own.set(f.name, f.data);
  return { metadata: md, chartYamlMtime, tree: { name: dirName ?? md.name ?? '', metadata: md, files: own, subcharts: children } };
}

async function loadArchive(tgz: Uint8Array, keep: boolean): Promise<Loaded & { files: BufferedFile[] }> {
  let files: BufferedFile[];
  try {
    files = await readArchiveFiles(tgz);
  } catch (e) {
    if (e instanceof ArchiveError) throw chartError(e.message, e);
    if (e instanceof GzipError || e instanceof TarError) throw chartError(readerMessage(e), e);
    throw e;
  }
  return { ...(await loadFiles(files, keep)), files };
}

/**
 * Load a chart archive exactly as Helm's loader does (gzip sniff, tar rules, path checks,
 * size limits, Chart.yaml/requirements.yaml decoding, values/lock files, Validate(), subcharts
 * under charts/ recursively). Throws ChartMirrorError('CHART', one line) where Helm fails.
 */
export async function loadChartArchive(tgz: Uint8Array, opts: { keepFiles?: boolean } = {}): Promise<LoadedChart> {
  if (!(tgz.length >= 3 && tgz[0] === 0x1f && tgz[1] === 0x8b && tgz[2] === 0x08)) {
    throw chartError(`chart archive does not appear to be a gzipped archive; got '${detectContentType(tgz)}'`);
  }
  const loaded = await loadArchive(tgz, opts.keepFiles ?? true);
  return { metadata: loaded.metadata, chartYamlMtime: loaded.chartYamlMtime, fileNames: loaded.files.map((f) => f.name), tree: loaded.tree };
}
