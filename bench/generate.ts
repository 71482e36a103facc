import { randomBytes, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { craftTgz } from '../test/support/craft.js';

/**
 * A synthetic classic repository: `charts` charts x `versions` versions, each a real chart
 * archive (Chart.yaml, values.yaml, templates) of about `archiveBytes` compressed, and an
 * index.yaml as `helm repo index` writes it (relative URLs, bare-hex digests, created times).
 */
export interface SyntheticRepo {
  dir: string;
  versions: Array<{ name: string; version: string; file: string; digest: string; size: number }>;
  indexBytes: number;
}

export function chartArchive(name: string, version: string, archiveBytes: number, mtime: number): Buffer {
  const chartYaml = `apiVersion: v2\nname: ${name}\ndescription: A synthetic chart for benchmarks\ntype: application\nversion: ${version}\nappVersion: "1.0.0"\nmaintainers:\n  - name: Bench\n    email: bench@example.invalid\n`;
  const values = `replicaCount: 1\nimage:\n  repository: nginx\n  tag: "1.27"\nservice:\n  type: ClusterIP\n  port: 80\n`;
  // Random text compresses poorly, so the archive ends up near the wanted size.
  const filler = randomBytes(Math.max(0, Math.floor(archiveBytes * 0.9))).toString('base64');
  const template = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  annotations:\n    bench/filler: "${filler}"\nspec:\n  replicas: {{ .Values.replicaCount }}\n`;
  return craftTgz([
    { name: `${name}/Chart.yaml`, data: chartYaml, mtime },
    { name: `${name}/values.yaml`, data: values, mtime },
    { name: `${name}/templates/deployment.yaml`, data: template, mtime },
  ]);
}

export async function generateRepo(dir: string, opts: { charts: number; versions: number; archiveBytes: number }): Promise<SyntheticRepo> {
  await mkdir(dir, { recursive: true });
  const out: SyntheticRepo['versions'] = [];
  let index = 'apiVersion: v1\nentries:\n';
  const base = Date.parse('2025-01-01T00:00:00Z') / 1000;
  for (let c = 0; c < opts.charts; c++) {
    const name = `bench-chart-${String(c).padStart(4, '0')}`;
    index += `  ${name}:\n`;
    for (let v = 0; v < opts.versions; v++) {
      const version = `1.${Math.floor(v / 10)}.${v % 10}`;
      const created = base + c * 3600 + v * 60;
      const tgz = chartArchive(name, version, opts.archiveBytes, created);
      const file = `${name}-${version}.tgz`;
      await writeFile(join(dir, file), tgz);
      const digest = createHash('sha256').update(tgz).digest('hex');
      out.push({ name, version, file, digest, size: tgz.length });
      index +=
        `  - apiVersion: v2\n    appVersion: 1.0.0\n    created: "${new Date(created * 1000).toISOString().replace('.000Z', '.123456789Z')}"\n` +
        `    description: A synthetic chart for benchmarks\n    digest: ${digest}\n    maintainers:\n    - email: bench@example.invalid\n      name: Bench\n` +
        `    name: ${name}\n    type: application\n    urls:\n    - ${file}\n    version: ${version}\n`;
    }
  }
  index += `generated: "2025-01-01T00:00:00Z"\n`;
  await writeFile(join(dir, 'index.yaml'), index);
  return { dir, versions: out, indexBytes: Buffer.byteLength(index) };
}
