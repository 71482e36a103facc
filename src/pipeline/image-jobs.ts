/**
 * Image jobs: one per image (and target set), however many charts use it. Created when a chart
 * is found to use an image (from its files, or from the journal when the chart was confirmed
 * before), scheduled like any job, and reported back on each chart's item. The executor and the
 * planner (which looks when a plan is made to be shown) share this.
 */
import type { ChartImage, ItemResult } from './events.js';
import type { ImageOrigin, PlanDestination, PlanJob } from './plan.js';
import { parseImageReference, type ImageReference } from '../images/reference.js';

/** Where an image lands at each of the given targets. */
export interface ImageDestinations {
  destinations(ref: ImageReference, targets: readonly string[]): PlanDestination[];
  /** Why an image is left out (an incremental export: the far side has it), or undefined. */
  leaveOut?(chart: string, version: string): string | undefined;
}

/** `source/chart@version`: how an image item names the chart versions that use it. */
export function chartId(job: Pick<PlanJob, 'source' | 'chart' | 'version'>): string {
  return `${job.source}/${job.chart}@${job.version}`;
}

/**
 * One image job per image (and target set), however many charts use it: created when a chart
 * is found to use it (from the chart's files, or from the journal when the chart was confirmed
 * before), run like any job, and reported back on each chart's item.
 */
export class ImageScheduler {
  private readonly jobs = new Map<string, PlanJob>();
  private readonly charts = new Map<string, { images: ChartImage[] }>();
  private readonly refused = new Map<string, ItemResult[]>();

  constructor(
    private readonly destinations: ImageDestinations | undefined,
    private readonly schedule: (job: PlanJob) => void,
    private readonly record: (r: ItemResult) => void,
  ) {}

  /** An image job the plan already holds (images.extra, or found when the plan was made). */
  planned(job: PlanJob): void {
    if (job.origin.kind === 'image') for (const d of job.destinations) this.jobs.set(`${job.origin.url}\u0000${d.target}`, job);
  }

  /** The images a chart uses, at the chart's targets. */
  found(chart: Pick<PlanJob, 'source' | 'chart' | 'version'>, found: readonly { image: string; methods: string[]; problem?: string }[], targets: readonly string[]): void {
    if (!this.destinations) return;
    const who = chartId(chart);
    if (!this.charts.has(who)) this.charts.set(who, { images: found.map((f) => ({ image: f.image, methods: [...f.methods] })) });
    for (const f of found) {
      const parsed = f.problem ? undefined : parseImageReference(f.image);
      if (!parsed?.ok) {
        const reason = `not an image reference: ${f.problem ?? (parsed && !parsed.ok ? parsed.problem : f.image)}`;
        for (const target of targets) {
          const k = `${f.image}\u0000${target}`;
          const prior = this.refused.get(k);
          if (prior) {
            for (const r of prior) if (r.target === target && !r.usedBy!.includes(who)) r.usedBy!.push(who);
            continue;
          }
          const r: ItemResult = { source: IMAGES_SOURCE, chart: f.image, version: '', target, status: 'failed', code: 'REFERENCE', reason, kind: 'image', usedBy: [who], methods: f.methods };
          this.refused.set(k, [r]);
          this.record(r);
        }
        continue;
      }
      const ref = parsed.ref;
      const missing = targets.filter((t) => {
        const job = this.jobs.get(`${f.image}\u0000${t}`);
        if (!job) return true;
        const o = job.origin as ImageOrigin;
        if (!o.usedBy?.includes(who)) (o.usedBy ??= []).push(who);
        for (const m of f.methods) if (!o.methods?.includes(m)) (o.methods ??= []).push(m);
        return false;
      });
      if (missing.length === 0) continue;
      const job = imageJob(f.image, ref, this.destinations.destinations(ref, missing), [who], f.methods);
      for (const t of missing) this.jobs.set(`${f.image}\u0000${t}`, job);
      const why = this.destinations.leaveOut?.(job.chart, job.version);
      if (why) {
        for (const d of job.destinations) this.record({ source: IMAGES_SOURCE, chart: job.chart, version: job.version, target: d.target, status: 'excluded', reason: why, repository: d.repository, tag: d.tag, kind: 'image', url: f.image, usedBy: (job.origin as ImageOrigin).usedBy });
        continue;
      }
      this.schedule(job);
    }
  }

  /** images.extra: copied whoever uses them. */
  extra(images: readonly string[], targets: readonly string[]): void {
    if (!this.destinations) return;
    for (const image of images) {
      const parsed = parseImageReference(image);
      if (!parsed.ok) continue; // checked when the config was loaded
      const missing = targets.filter((t) => !this.jobs.has(`${image}\u0000${t}`));
      if (missing.length === 0) continue;
      const ref = parsed.ref;
      const job = imageJob(image, ref, this.destinations.destinations(ref, missing), [], ['extra']);
      for (const t of missing) this.jobs.set(`${image}\u0000${t}`, job);
      this.schedule(job);
    }
  }

  /** Each chart item learns what became of its images at its target. */
  annotate(items: ItemResult[]): void {
    // Image items are named by repository and tag (or digest), as the charts' images are parsed.
    const key = (chart: string, version: string, target: string) => `${chart}\u0000${version}\u0000${target}`;
    const status = new Map<string, ItemResult>();
    for (const i of items) if (i.kind === 'image') status.set(key(i.chart, i.version, i.target), i);
    for (const i of items) {
      if (i.kind === 'image') continue;
      const c = this.charts.get(chartId(i));
      if (!c) continue;
      i.images = c.images.map((img) => {
        const p = parseImageReference(img.image);
        const r = status.get(p.ok ? key(`${p.ref.registry}/${p.ref.repository}`, p.ref.tag ?? p.ref.digest!, i.target) : key(img.image, '', i.target));
        return { ...img, ...(r ? { status: r.status } : {}), ...(r?.status === 'failed' && r.reason ? { reason: r.reason } : {}) };
      });
    }
  }
}

/** The source name of image items. */
export const IMAGES_SOURCE = 'images';

/** The job that copies one image to some destinations. */
function imageJob(url: string, ref: ImageReference, destinations: PlanDestination[], usedBy: string[], methods: readonly string[]): PlanJob {
  return {
    source: IMAGES_SOURCE,
    chart: `${ref.registry}/${ref.repository}`,
    version: ref.tag ?? ref.digest!,
    origin: {
      kind: 'image',
      url,
      registry: ref.registry,
      repository: ref.repository,
      ...(ref.tag ? { tag: ref.tag } : {}),
      ...(ref.digest ? { digest: ref.digest } : {}),
      usedBy: [...usedBy],
      methods: [...methods],
    },
    destinations,
  };
}
