import { createHash } from 'node:crypto';
import PQueue from 'p-queue';
import { Agent, request } from 'undici';

/**
 * The least work that copies a classic repository into a registry, as the yardstick for
 * chartmirror: GET the archive, POST+PUT the config and chart blobs, PUT the manifest, 16 in
 * flight, no checks, no journal, no auth, no retries.
 */
export async function minimalPush(opts: {
  sourceUrl: string;
  registryUrl: string;
  repoPrefix: string;
  versions: Array<{ name: string; version: string; file: string }>;
  inFlight?: number;
}): Promise<void> {
  const agent = new Agent({ connections: opts.inFlight ?? 16, pipelining: 1 });
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const origin = new URL(opts.registryUrl).origin;

  async function pushBlob(repo: string, bytes: Buffer, digest: string): Promise<void> {
    const post = await request(`${origin}/v2/${repo}/blobs/uploads/`, { method: 'POST', dispatcher: agent });
    await post.body.dump();
    if (post.statusCode !== 202) throw new Error(`POST ${post.statusCode}`);
    const loc = new URL(String(post.headers.location), origin);
    loc.searchParams.set('digest', digest);
    const put = await request(loc, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
      dispatcher: agent,
    });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`PUT blob ${put.statusCode}`);
  }

  const queue = new PQueue({ concurrency: opts.inFlight ?? 16 });
  for (const v of opts.versions) {
    void queue.add(async () => {
      const res = await request(`${opts.sourceUrl}/${v.file}`, { dispatcher: agent });
      const tgz = Buffer.from(await res.body.arrayBuffer());
      const config = Buffer.from(JSON.stringify({ name: v.name, version: v.version, apiVersion: 'v2' }));
      const repo = `${opts.repoPrefix}/${v.name}`;
      const configDigest = sha(config);
      const chartDigest = sha(tgz);
      await pushBlob(repo, config, configDigest);
      await pushBlob(repo, tgz, chartDigest);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: configDigest, size: config.length },
          layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: chartDigest, size: tgz.length }],
        }),
      );
      const put = await request(`${origin}/v2/${repo}/manifests/${v.version.replace(/\+/g, '_')}`, {
        method: 'PUT',
        body: manifest,
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        dispatcher: agent,
      });
      await put.body.dump();
      if (put.statusCode !== 201) throw new Error(`PUT manifest ${put.statusCode}`);
    });
  }
  await queue.onIdle();
  await agent.close();
}
