// The web UI at scale in a real browser: the first page of 10,000 experiments, and a 20,000-file version in the
// virtualized file tree. Figures are printed and written to .tmp/web-ui-scale.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDb } from '../../../functions/src/adapters/local/sqlite-db.ts';
import { createSqliteExperimentStore } from '../../../functions/src/adapters/local/sqlite-experiment-store.ts';
import { cliOk, makeSandbox, REPO, removeSandbox, type Sandbox } from './helpers.ts';
import { type Browser, openBrowser, screenshot } from './web/browser.ts';
import { startUi, type UiServer } from './web/ui-fixture.ts';

const EXPERIMENTS = 10_000;
const FILES = 20_000;
let sb: Sandbox & { dirs: string[] };
let ui: UiServer;
let browser: Browser;
const figures: Record<string, number> = {};

beforeAll(async () => {
  sb = makeSandbox();
  // 20,000 files in 200 folders, captured by the real CLI.
  const dir = sb.tmp();
  for (let d = 0; d < FILES / 100; d++) {
    const sub = join(dir, `part-${String(d).padStart(3, '0')}`);
    mkdirSync(sub);
    for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f-${String(f).padStart(3, '0')}.txt`), `${d}/${f}\n`);
  }
  const t0 = Date.now();
  await cliOk(sb, ['run', '-q', '-e', 'many', '-c', `${dir}:files`, '--', 'node', '-e', '1']);
  figures.capture20kMs = Date.now() - t0;
  // 10,000 more experiment records, written straight into the home's database (a CLI run each would take hours).
  const sdb = openSqliteDb(join(sb.home, 'db', 'studio.sqlite'));
  const experiments = createSqliteExperimentStore(sdb);
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < EXPERIMENTS; i++) {
    await experiments.createExperiment({
      team: 'local',
      key: `bulk-${String(i).padStart(5, '0')}`,
      project: `p${i % 7}`,
      owner: 'local',
      status: i % 10 === 0 ? 'failed' : 'finished',
      command: ['python', 'train.py', `--seed=${i}`],
      cwd: '/work',
      host: 'box',
      git: null,
      createdAt: new Date(base + i * 1000).toISOString(),
      startedAt: new Date(base + i * 1000).toISOString(),
      finishedAt: new Date(base + i * 1000 + 500).toISOString(),
      exitCode: i % 10 === 0 ? 1 : 0,
      signal: null,
      warnings: [],
      lineage: [],
    });
  }
  sdb.close();
  ui = await startUi(sb);
  browser = await openBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  removeSandbox(sb);
  mkdirSync(join(REPO, '.tmp'), { recursive: true });
  writeFileSync(join(REPO, '.tmp', 'web-ui-scale.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`web UI at scale: ${JSON.stringify(figures)}`);
});

describe('web UI at scale', () => {
  it(`renders the first page of ${EXPERIMENTS + 1} experiments in under 1 s`, async () => {
    const { page } = browser;
    await page.goto(ui.url); // sign in, then the list
    await page.getByTestId('experiments').waitFor();
    // Measured on reloads, signed in: navigation start to the 50 rows in the DOM (3 times: the machine is shared,
    // so the median is asserted and all three are reported).
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      await page.reload();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=experiments] tbody tr').length === 50);
      times.push(Date.now() - t0);
    }
    figures.listFirstRenderInPageMs = Math.round(await page.evaluate(() => performance.now()));
    [figures.listFirstRenderMinMs, figures.listFirstRenderMedianMs, figures.listFirstRenderMaxMs] = times.sort(
      (a, b) => a - b,
    ) as [number, number, number];
    expect(figures.listFirstRenderMedianMs).toBeLessThan(1000);
    const first = await page.locator('[data-testid=experiments] tbody td:first-child').first().textContent();
    expect(first).toBe('many');
    await screenshot(page, 'experiments-10k');

    // Older pages follow the cursor: no key twice.
    const seen = new Set(await page.locator('[data-testid=experiments] tbody td:first-child').allTextContents());
    await page.getByTestId('next').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=experiments] tbody td')?.textContent === 'bulk-09950',
    );
    const second = await page.locator('[data-testid=experiments] tbody td:first-child').allTextContents();
    expect(second).toHaveLength(50);
    for (const k of second) expect(seen.has(k)).toBe(false);
  });

  it(`shows a ${FILES}-file version in a virtualized tree that scrolls without long frames`, async () => {
    const { page } = browser;
    const t0 = Date.now();
    await page.goto(`${new URL(ui.url).origin}/#/e/many?a=files&v=1`);
    await page.getByRole('heading', { name: `files@1: ${FILES} files`, exact: false }).waitFor();
    figures.version20kOpenMs = Date.now() - t0;
    await page.getByRole('button', { name: 'Expand all' }).click();
    const tree = page.getByTestId('file-tree');
    await tree
      .getByRole('button', { name: /f-000\.txt/ })
      .first()
      .waitFor();
    const inDom = await tree.locator('[role=listitem]').count();
    expect(inDom).toBeLessThan(100);
    // 120 frames of scrolling, 400 px each: the slowest frame and the median.
    const frames = await page.evaluate(async () => {
      const el = document.querySelector('[data-testid=file-tree]') as HTMLElement;
      const times: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 120; i++) {
        el.scrollTop += 400;
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        const now = performance.now();
        times.push(now - last);
        last = now;
      }
      return times.sort((a, b) => a - b);
    });
    figures.scrollFrameMedianMs = Math.round(frames[Math.floor(frames.length / 2)] as number);
    figures.scrollFrameMaxMs = Math.round(frames[frames.length - 1] as number);
    expect(figures.scrollFrameMaxMs).toBeLessThan(200);
    await tree.evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await tree
      .getByRole('button', { name: /f-099\.txt/ })
      .last()
      .waitFor();
    expect(await tree.locator('[role=listitem]').count()).toBeLessThan(100);
    await screenshot(page, 'version-20k');
  });
});
