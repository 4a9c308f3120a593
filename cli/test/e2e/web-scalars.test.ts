// TensorBoard scalars in the web UI, in a real browser (Chromium via playwright-core) against `studio-lite ui`:
// event files written into runs' `tb` artifacts by the real CLI (the default tb folder, `--capture ./mytb:tb`, and a
// live run captured every second). The event files are built by web/test/tb-writer.ts (protobufjs + masked CRC32C).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concat, eventBytes, eventFile, record } from '../../../web/test/tb-writer.ts';
import { cliOk, collect, makeSandbox, removeSandbox, type Sandbox, startCli, waitFor } from './helpers.ts';
import { axeViolations, type Browser, openBrowser, screenshot } from './web/browser.ts';
import { startUi, type UiServer } from './web/ui-fixture.ts';

const steps = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
/** Where record `i` of an event file starts (0 = its file_version record). */
function offsetOf(bytes: Uint8Array, i: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  let at = 0;
  for (let k = 0; k < i; k++) at += 16 + view.getUint32(at, true);
  return at;
}

/** Copies the files of `from` (relative path -> source file) into the folder named by the env var or path `to`. */
const COPY = `import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
const [to, ...pairs] = process.argv.slice(2);
const dest = process.env[to] ?? to;
for (let i = 0; i < pairs.length; i += 2) {
  mkdirSync(dirname(join(dest, pairs[i])), { recursive: true });
  copyFileSync(pairs[i + 1], join(dest, pairs[i]));
}
console.log('wrote', pairs.length / 2, 'files into', dest);
`;

/** Writes part 1 of an event file, waits for the test's go file, appends part 2, and stays up a while. */
const LIVE = `import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [part1, part2, go] = process.argv.slice(2);
const file = join(process.env.STUDIOML_ARTIFACT_TB, 'events.out.tfevents.1700000000.live');
writeFileSync(file, readFileSync(part1));
console.log('part 1 written');
const wait = setInterval(() => {
  if (!existsSync(go)) return;
  clearInterval(wait);
  appendFileSync(file, readFileSync(part2));
  console.log('part 2 written');
  setTimeout(() => {}, 8000);
}, 200);
`;

let sb: Sandbox & { dirs: string[] };
let ui: UiServer;
let browser: Browser;
/** Errors the pages logged (a CSP refusal, an exception): none expected. The 404s of the page's lookups of a run's
 * job and of its output before there is one are the browser's own lines, not errors of the page. */
const pageErrors: string[] = [];
const origin = () => new URL(ui.url).origin;

function writeBin(name: string, bytes: Uint8Array): string {
  const path = join(sb.tmp(), name);
  writeFileSync(path, bytes);
  return path;
}

beforeAll(async () => {
  sb = makeSandbox();
  writeFileSync(join(sb.cwd, 'copy.mjs'), COPY);
  writeFileSync(join(sb.cwd, 'live.mjs'), LIVE);
  // tb-a: a TF1 loss and a TF2 accuracy (tensor) for 1,000 steps, a validation run, a corrupt file, a text file.
  const main = eventFile(steps(1000), (s) => [
    { tag: 'loss', simple: 1 / s },
    { tag: 'accuracy', tensor: { dtype: 1, value: s / 1000, as: 'content' }, meta: s === 1 },
  ]);
  const validation = eventFile(
    steps(10).map((s) => s * 100),
    (s) => [{ tag: 'loss', simple: 1.1 / s }],
  );
  const bad = eventFile(steps(20), (s) => [{ tag: 'broken', simple: s }]);
  // Record 10 (step 10) has a changed data byte: steps 1-9 are read.
  const cut = offsetOf(bad, 10) + 14;
  bad[cut] = (bad[cut] as number) ^ 0xff;
  await cliOk(sb, [
    'run',
    '-q',
    '-e',
    'tb-a',
    '--',
    'node',
    'copy.mjs',
    'STUDIOML_ARTIFACT_TB',
    'events.out.tfevents.1700000000.box',
    writeBin('a', main),
    'validation/events.out.tfevents.1700000001.box',
    writeBin('v', validation),
    'bad/events.out.tfevents.1700000002.box',
    writeBin('b', bad),
    'notes.txt',
    writeBin('n', new TextEncoder().encode('not an event file')),
  ]);
  // tb-b: `--capture ./mytb:tb`; a 300 KB graph event first, so the file is a blob of its own (not packed).
  const graph = record(eventBytes({ wallTime: 1_700_000_000, step: 0, graphDef: new Uint8Array(300_000).fill(7) }));
  const b = concat([
    graph,
    eventFile(steps(1000), (s) => [
      { tag: 'loss', simple: 2 / s },
      { tag: 'accuracy', tensor: { dtype: 2, value: s / 2000, as: 'val' }, meta: s === 1 },
    ]),
  ]);
  mkdirSync(join(sb.cwd, 'mytb'));
  await cliOk(sb, [
    'run',
    '-q',
    '-e',
    'tb-b',
    '--capture',
    './mytb:tb',
    '--',
    'node',
    'copy.mjs',
    './mytb',
    'events.out.tfevents.1700000005.box',
    writeBin('b', b),
  ]);
  ui = await startUi(sb);
  browser = await openBrowser();
  browser.page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('status of 404')) pageErrors.push(m.text());
  });
  browser.page.on('pageerror', (e) => pageErrors.push(String(e)));
  await browser.page.goto(ui.url);
  await browser.page.getByTestId('experiments').waitFor();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  removeSandbox(sb);
});

const chart = (page: Page, tag: string) => page.locator(`[data-testid=scalar][data-tag="${tag}"]`);
const lastOf = (page: Page, tag: string) => chart(page, tag).getByTestId('scalar-last');

/** Painted pixels of the chart's canvas (uPlot draws axes, grid and lines there). */
async function paintedPixels(page: Page, tag: string): Promise<number> {
  return chart(page, tag)
    .locator('canvas')
    .evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if ((d[i] as number) > 0) n++;
      return n;
    });
}

describe('TensorBoard scalars in the web UI', () => {
  it('the experiment page charts each tag of its tb event files by step, with the last values and warnings', async () => {
    const { page } = browser;
    const t0 = Date.now();
    await page.goto(`${origin()}/#/e/tb-a`);
    await chart(page, 'loss').locator('canvas').waitFor();
    console.log(`web UI scalars: 3 event files (1,000 steps) charted ${Date.now() - t0} ms after navigation`);
    expect(await page.getByTestId('scalars-summary').textContent()).toMatch(
      /^3 scalar tags from 3 event files in tb@\d+ \([\d.]+ KiB read\)$/,
    );
    expect(
      await page.locator('[data-testid=scalar]').evaluateAll((els) => els.map((e) => e.getAttribute('data-tag'))),
    ).toEqual(['accuracy', 'broken', 'loss']);
    expect(await lastOf(page, 'loss').textContent()).toBe('(top): 0.001 at step 1000validation: 0.0011 at step 1000');
    // Lines are named by run (the event file's folder in tb) when the experiment has several.
    expect(await lastOf(page, 'accuracy').textContent()).toBe('(top): 1 at step 1000');
    expect(await lastOf(page, 'broken').textContent()).toBe('bad: 9 at step 9');
    expect(await page.getByTestId('scalar-warnings').textContent()).toMatch(
      /bad\/events\.out\.tfevents\.1700000002\.box: the CRC of a record's data does not match at byte \d+ \(corrupt\)/,
    );
    expect(await page.getByTestId('scalar-warnings').textContent()).not.toContain('notes.txt');
    expect(await paintedPixels(page, 'loss')).toBeGreaterThan(1000);
    // Two runs: a legend with both.
    expect(await chart(page, 'loss').locator('.u-legend').textContent()).toContain('validation');
    await screenshot(page, 'scalars');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('compare: tick two experiments in the list, "Compare scalars" overlays each tag', async () => {
    const { page } = browser;
    await page.goto(`${origin()}/#/experiments`);
    await page.getByTestId('experiments').waitFor();
    expect(await page.getByTestId('compare').isDisabled()).toBe(true);
    await page.getByRole('checkbox', { name: 'Compare tb-a' }).check();
    await page.getByRole('checkbox', { name: 'Compare tb-b' }).check();
    await page.getByTestId('compare').click();
    await page.waitForURL(/#\/compare\?keys=tb-a%2Ctb-b$/);
    await chart(page, 'loss').locator('canvas').waitFor();
    expect(await page.getByTestId('compared').textContent()).toMatch(/tb-b.*2 scalar tags from 1 event file in tb@\d+/);
    expect(await lastOf(page, 'loss').textContent()).toBe(
      'tb-a: 0.001 at step 1000tb-a/validation: 0.0011 at step 1000tb-b: 0.002 at step 1000',
    );
    expect(await lastOf(page, 'accuracy').textContent()).toBe('tb-a: 1 at step 1000tb-b: 0.5 at step 1000');
    expect(await chart(page, 'accuracy').locator('.u-legend').textContent()).toMatch(/tb-a.*tb-b/);
    expect(await paintedPixels(page, 'accuracy')).toBeGreaterThan(1000);
    await screenshot(page, 'scalars-compare');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('a live run: the page follows new tb versions while it runs', async () => {
    const { page } = browser;
    const ev = eventFile(steps(1000), (s) => [{ tag: 'loss', simple: 1 / s }]);
    // The first 100 steps (101 records with file_version), then the rest.
    const at = offsetOf(ev, 101);
    const go = join(sb.tmp(), 'go');
    const run = collect(
      startCli(sb, [
        'run',
        '-q',
        '-e',
        'tb-live',
        '--capture-interval',
        '1',
        '--',
        'node',
        'live.mjs',
        writeBin('p1', ev.subarray(0, at)),
        writeBin('p2', ev.subarray(at)),
        go,
      ]),
    );
    await waitFor(() => existsSync(join(sb.home, 'experiments', 'tb-live')), 'the run to register');
    await page.goto(`${origin()}/#/e/tb-live`);
    await lastOf(page, 'loss').filter({ hasText: 'at step 100' }).waitFor({ timeout: 20_000 });
    writeFileSync(go, '');
    const t0 = Date.now();
    await lastOf(page, 'loss').filter({ hasText: 'last 0.001 at step 1000' }).waitFor({ timeout: 20_000 });
    console.log(`web UI scalars: a new tb version of a live run shown ${Date.now() - t0} ms after the write`);
    expect(await page.locator('h1 .badge').textContent()).toBe('running');
    expect(await paintedPixels(page, 'loss')).toBeGreaterThan(1000);
    expect((await run).code).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
