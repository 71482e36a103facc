import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ItemResult, PipelineEvent } from '../../src/pipeline/events.js';
import { PlainProgress } from '../../src/progress/plain.js';
import { createProgress } from '../../src/progress/renderer.js';
import { TtyProgress } from '../../src/progress/tty.js';
import { waitFor } from '../support/wait.js';

/**
 * The progress renderers fed PipelineEvents directly, with a fake clock: what the plain lines
 * and the terminal task list say about done/total, bytes, rate and ETA.
 */

function sink(tty = false): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number; rows: number };
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  if (tty) Object.assign(stream, { isTTY: true, columns: 120, rows: 40 });
  return { stream, text: () => chunks.join('') };
}

const item = (over: Partial<ItemResult>): PipelineEvent => ({
  type: 'item',
  result: { source: 'src', chart: 'app', version: '1.0.0', target: 'reg', status: 'pushed', ...over },
});

const plan = (groups: { target: string; pending: number; failed?: number; excluded?: number; present?: number }[]): PipelineEvent => ({
  type: 'plan',
  total: 0,
  pending: groups.reduce((n, g) => n + g.pending, 0),
  present: 0,
  failed: groups.reduce((n, g) => n + (g.failed ?? 0), 0),
  excluded: 0,
  targets: groups.map((g) => g.target),
  groups: groups.map((g) => ({ source: 'src', target: g.target, pending: g.pending, present: g.present ?? 0, failed: g.failed ?? 0, excluded: g.excluded ?? 0 })),
});

describe('plain progress (logs, CI, pipes)', () => {
  it('the periodic line has done/total, failures, bytes, rate and time left', () => {
    let now = 0;
    const out = sink();
    const p = new PlainProgress(out.stream, { format: 'text', verbose: false }, () => now);
    p.handle(item({ status: 'failed', reason: 'invalid name', code: 'CHART' })); // settled by the plan itself
    p.handle(plan([{ target: 'reg', pending: 4, failed: 1 }]));
    now = 1000;
    p.handle(item({ bytesUploaded: 1024, reference: 'oci://r/app@sha256:x' }));
    now = 2000;
    p.handle(item({ version: '1.1.0', status: 'failed', reason: 'boom', code: 'NETWORK' }));
    p.periodic();
    const lines = out.text().trim().split('\n');
    expect(lines.at(-1)).toBe('progress: 2/4 done (50%), 2 failed, 1.0 KiB uploaded, 512 B/s, about 2.0s left');
    expect(lines).toContain('pushed   src/app 1.0.0 -> reg oci://r/app@sha256:x');
    expect(lines).toContain('failed   src/app 1.1.0 -> reg: boom');
  });

  it('writes no periodic line once everything is done, and none before the plan', () => {
    const out = sink();
    const p = new PlainProgress(out.stream, { format: 'text', verbose: false });
    p.periodic();
    p.handle(plan([{ target: 'reg', pending: 1 }]));
    p.handle(item({}));
    p.periodic();
    expect(out.text()).not.toMatch(/progress:/);
  });

  it('shows escape codes, newlines and other control characters a server or an index put in a message escaped, one line each', () => {
    const out = sink();
    const p = new PlainProgress(out.stream, { format: 'text', verbose: true });
    p.handle(plan([{ target: 'reg', pending: 1 }]));
    p.handle(item({ status: 'failed', reason: 'server said \x1b[31mred\x1b[0m\x07 and \x9b2J\npushed   fake 6.6.6', code: 'REGISTRY' }));
    p.handle({ type: 'warning', message: 'odd \x1b]0;title\x07 index' });
    expect(out.text()).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(out.text()).toContain('server said \\u001b[31mred\\u001b[0m\\u0007 and \\u009b2J\\npushed   fake 6.6.6');
    expect(out.text().split('\n').some((l) => l.startsWith('pushed'))).toBe(false);
    expect(out.text().trim().split('\n')).toHaveLength(3);
  });

  it('json: one object per line, url without credentials or query, the summary last', () => {
    let now = 0;
    const out = sink();
    const p = new PlainProgress(out.stream, { format: 'json', verbose: false }, () => now);
    p.handle(plan([{ target: 'reg', pending: 2 }]));
    now = 1000;
    p.handle(item({ bytesUploaded: 4096, url: 'https://u:pw-123456@charts.example.com/app-1.0.0.tgz?X-Amz-Signature=abc' }));
    p.periodic();
    p.finish({ pushed: 1, present: 0, failed: 0, excluded: 0, planned: 0, bytesUploaded: 4096, bytesPlanned: 0, dryRun: false, interrupted: false, durationMs: 1000 });
    const events = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual(['plan', 'plan-group', 'item', 'progress', 'summary']);
    expect(events[2]!.url).toBe('https://charts.example.com/app-1.0.0.tgz');
    expect(events[3]).toMatchObject({ done: 1, total: 2, bytesUploaded: 4096, bytesPerSecond: 4096, etaMs: 1000 });
    expect(events[4]).toMatchObject({ pushed: 1, bytesUploaded: 4096, durationMs: 1000 });
  });

  it('--quiet: failures and the summary only', () => {
    const out = sink();
    const p = new PlainProgress(out.stream, { format: 'text', verbose: false, quiet: true });
    p.handle({ type: 'source-indexed', source: 'src', versions: 2, selected: 2, excluded: 0, notModified: false });
    p.handle({ type: 'warning', message: 'w' });
    p.handle(plan([{ target: 'reg', pending: 2 }]));
    p.handle(item({}));
    p.handle(item({ version: '2.0.0', status: 'failed', reason: 'nope' }));
    p.finish({ pushed: 1, present: 0, failed: 1, excluded: 0, planned: 0, bytesUploaded: 0, bytesPlanned: 0, dryRun: false, interrupted: false, durationMs: 5 });
    expect(out.text()).toBe('failed   src/app 2.0.0 -> reg: nope\ndone: 1 pushed, 0 present, 1 failed, 0 excluded; 0 B uploaded in 5ms\n');
  });
});

describe('terminal progress (listr2)', () => {
  it('is chosen only for a text-format, non-quiet terminal', async () => {
    const tty = sink(true).stream;
    const pipe = sink(false).stream;
    expect(await createProgress(tty, { format: 'text', verbose: false, quiet: false }, {})).toBeInstanceOf(TtyProgress);
    expect(await createProgress(pipe, { format: 'text', verbose: false, quiet: false }, {})).toBeInstanceOf(PlainProgress);
    expect(await createProgress(tty, { format: 'json', verbose: false, quiet: false }, {})).toBeInstanceOf(PlainProgress);
    expect(await createProgress(tty, { format: 'text', verbose: false, quiet: true }, {})).toBeInstanceOf(PlainProgress);
    expect(await createProgress(tty, { format: 'text', verbose: false, quiet: false }, { TERM: 'dumb' })).toBeInstanceOf(PlainProgress);
  });

  it('one task per source and target with done/total, bytes, rate and ETA; failures under their task as they happen', async () => {
    let now = 0;
    const out = sink(true);
    const p = new TtyProgress(out.stream, { verbose: false }, () => now);
    p.handle({ type: 'source-indexed', source: 'src', versions: 3, selected: 3, excluded: 0, notModified: false });
    p.handle(plan([{ target: 'reg', pending: 3 }, { target: 'disk', pending: 1, excluded: 2 }]));
    now = 1000;
    p.handle(item({ bytesUploaded: 2048 }));
    // listr2 draws on its own clock: wait for the frame that shows the first item.
    await waitFor(() => out.text().includes('src → reg  1/3'), { what: 'the task list to show 1/3' });
    const running = out.text();
    expect(running).toMatch(/^source src: 3 versions in the index/); // before the list, as a plain line
    expect(running).toContain('src → reg  1/3  2.0 KiB  2.0 KiB/s  ETA 2.0s');
    expect(running).toContain('src → disk  0/1  0 B');
    p.handle(item({ version: '2.0.0', status: 'failed', reason: 'manifest invalid', code: 'REGISTRY' }));
    p.handle({ type: 'warning', message: 'later warning' });
    await waitFor(() => out.text().slice(running.length).includes('2.0.0: manifest invalid'), { what: 'the failure line under its task' });
    p.handle(item({ target: 'disk', bytesUploaded: 100 }));
    p.handle(item({ version: '3.0.0', status: 'present', via: 'target' }));
    await p.stop();
    p.finish({ pushed: 2, present: 1, failed: 1, excluded: 2, planned: 0, bytesUploaded: 2148, bytesPlanned: 0, dryRun: false, interrupted: false, durationMs: 1500 });
    const plain = out.text().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(plain).toContain('✖ src → reg: 1 pushed, 1 present, 1 failed, 2.0 KiB uploaded');
    expect(plain).toContain('✔ src → disk: 1 pushed, 2 excluded, 100 B uploaded');
    // Warnings that came while the list was drawn follow it, then the summary line.
    expect(plain.trimEnd().split('\n').slice(-2)).toEqual([
      'warning: later warning',
      'done: 2 pushed, 1 present, 1 failed, 2 excluded; 2.1 KiB uploaded in 1.5s',
    ]);
  });

  it('an interrupted run ends every task with what it got, and stop() returns', async () => {
    const out = sink(true);
    const p = new TtyProgress(out.stream, { verbose: false });
    p.handle(plan([{ target: 'reg', pending: 5 }]));
    p.handle(item({}));
    p.handle({ type: 'stopping', signal: 'SIGINT' });
    await waitFor(() => out.text().includes('(stopping…)'), { what: 'the task list to say (stopping…)' });
    await p.stop();
    expect(out.text().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')).toContain('✔ src → reg: 1 pushed');
  });

  it('keeps the last failures on screen and says how many more the report has', async () => {
    const out = sink(true);
    const p = new TtyProgress(out.stream, { verbose: false });
    p.handle(plan([{ target: 'reg', pending: 12 }]));
    for (let n = 1; n <= 12; n++) p.handle(item({ version: `${n}.0.0`, status: 'failed', reason: `reason ${n}` }));
    await p.stop();
    const final = out.text().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    const tail = final.slice(final.lastIndexOf('✖ src → reg: 12 failed'));
    expect(tail.split('\n').slice(1, 11)).toEqual([...[4, 5, 6, 7, 8, 9, 10, 11, 12].map((n) => `  › app ${n}.0.0: reason ${n}`), '  › … and 3 more (see --report)']);
  });

  it('prints nothing but plain lines when the run fails before the plan', async () => {
    const out = sink(true);
    const p = new TtyProgress(out.stream, { verbose: false });
    p.handle({ type: 'warning', message: 'index has odd keys' });
    await p.stop();
    expect(out.text()).toBe('warning: index has odd keys\n');
  });
});
