// The web UI in a real browser (Debian's chromium via playwright-core) against the local host that
// `studio-lite ui` starts, on experiments made by the real CLI. Screenshots: .tmp/screenshots (git-ignored).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, collect, listFiles, makeSandbox, removeSandbox, type Sandbox, startCli, waitFor } from './helpers.ts';
import { axeViolations, type Browser, openBrowser, screenshot } from './web/browser.ts';
import { makeExperiments, startUi, type UiServer } from './web/ui-fixture.ts';

let sb: Sandbox & { dirs: string[] };
let ui: UiServer;
let browser: Browser;
const origin = () => new URL(ui.url).origin;

beforeAll(async () => {
  sb = makeSandbox();
  await makeExperiments(sb);
  await cliOk(sb, ['alias', 'src/data@1', 'best']);
  ui = await startUi(sb);
  browser = await openBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  removeSandbox(sb);
});

async function gotoExp(key: string, query = ''): Promise<void> {
  await browser.page.goto(`${origin()}/#/e/${key}${query}`);
  await browser.page.getByRole('heading', { level: 1, name: new RegExp(key) }).waitFor();
}

describe('web UI on the local host', () => {
  it('signs in with the printed one-time link; the session is an HttpOnly SameSite=Strict cookie', async () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#\/signin\?code=slc_/);
    const { page, context } = browser;
    await page.goto(ui.url);
    await page.getByTestId('experiments').waitFor();
    expect(page.url()).not.toContain('code=');
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['studio_session', true, 'Strict']]);
    const keys = await page.locator('[data-testid=experiments] tbody tr td:first-child').allTextContents();
    expect(keys).toEqual(['failing', 'consumer', 'src']);
    await screenshot(page, 'experiments');
    expect(await axeViolations(page)).toEqual([]);

    // The same link a second time (another browser): refused, no session.
    const other = await openBrowser();
    try {
      await other.page.goto(ui.url);
      await other.page.getByRole('alert').waitFor();
      expect(await other.page.getByRole('alert').textContent()).toContain('unknown, used or expired');
      expect(await other.context.cookies()).toEqual([]);
      await screenshot(other.page, 'signin-reused');
    } finally {
      await other.close();
    }
  });

  it('filters the list by status, project and text', async () => {
    const { page } = browser;
    // The previous page's rows stay until the filtered answer arrives: wait for exactly the expected list.
    const rowsAre = (keys: string[]) =>
      page.waitForFunction(
        (want) =>
          JSON.stringify(
            [...document.querySelectorAll('[data-testid=experiments] tbody tr td:first-child')].map(
              (td) => td.textContent,
            ),
          ) === JSON.stringify(want),
        keys,
      );
    await page.goto(`${origin()}/#/experiments?status=failed`);
    await rowsAre(['failing']);
    await page.goto(`${origin()}/#/experiments?project=vision`);
    await rowsAre(['src']);
    await page.goto(`${origin()}/#/experiments?q=process.exit`);
    await rowsAre(['failing']);
    await page.goto(`${origin()}/#/experiments?owner=local&status=finished`);
    await rowsAre(['consumer', 'src']);
  });

  it('shows an experiment: exit code, command, lineage both ways, artifacts, checkpoints, tree, previews, diff', async () => {
    const { page } = browser;
    await gotoExp('failing');
    expect(await page.getByTestId('outcome').textContent()).toBe('exit code 3');

    await gotoExp('src');
    expect(await page.getByTestId('outcome').textContent()).toBe('exit code 0');
    expect(await page.locator('.facts').textContent()).toContain('node train.mjs');
    await page.getByTestId('reused-by').getByRole('link', { name: 'consumer' }).waitFor();
    const arts = await page.getByTestId('artifacts').textContent();
    for (const t of ['data', 'modeldir', 'output', 'workspace']) expect(arts).toContain(t);
    // Aliases sit next to the version they name.
    const aliased = page.getByTestId('artifacts').locator('tr', { has: page.getByTestId('alias') });
    expect(await aliased.allTextContents()).toEqual([expect.stringMatching(/v1 @best/)]);

    // The resumed run wrote the same checkpoints: modeldir has one version.
    await page.goto(`${origin()}/#/e/src?a=modeldir`);
    expect(await page.getByTestId('checkpoints').textContent()).toBe('2 checkpoints');
    // Each listed with its kind, files and size; a first version's are all new.
    const rows = await page.getByTestId('checkpoint-list').locator('tbody tr').allTextContents();
    expect(rows).toEqual([
      expect.stringMatching(/^ckpt-1tensorflow2.*new$/),
      expect.stringMatching(/^ckpt-2tensorflow2.*new$/),
    ]);

    await page.goto(`${origin()}/#/e/src?a=data&v=2`);
    const tree = page.getByTestId('file-tree');
    await tree.getByRole('button', { name: /table\.csv/ }).click();
    await page.getByTestId('preview-csv').waitFor();
    expect(await page.getByTestId('preview-csv').locator('th').allTextContents()).toEqual(['epoch', 'loss']);
    expect(await page.getByTestId('preview-csv').locator('tbody tr').count()).toBe(2);
    await tree.getByRole('button', { name: /metrics\.json/ }).click();
    expect(await page.getByTestId('preview-json').textContent()).toContain('"loss": 0.25');
    await tree.getByRole('button', { name: /notes\.txt/ }).click();
    expect(await page.getByTestId('preview-text').textContent()).toContain('second line, edited');
    await tree.getByRole('button', { name: /sub\// }).click();
    await tree.getByRole('button', { name: /deep\// }).click();
    expect(await tree.getByRole('button', { name: /weights\.bin/ }).textContent()).toContain('4.9 KiB');
    await tree.getByRole('button', { name: /plot\.png/ }).click();
    await page.waitForFunction(
      () => (document.querySelector('[data-testid=preview-image]') as HTMLImageElement | null)?.naturalWidth === 2,
    );
    await page.getByTestId('diff-against').selectOption('1');
    const diff = page.getByTestId('diff');
    await diff.getByText('1 added, 1 removed, 1 changed').waitFor();
    expect(await diff.textContent()).toMatch(/added.*added\.txt/);
    expect(await diff.textContent()).toMatch(/removed.*remove-me\.txt/);
    expect(await diff.textContent()).toMatch(/changed.*notes\.txt/);
    await screenshot(page, 'experiment');
    expect(await axeViolations(page)).toEqual([]);

    await gotoExp('consumer');
    await page.getByTestId('reused').getByRole('link', { name: 'src/data@2' }).click();
    await page.getByRole('heading', { level: 1, name: /src/ }).waitFor();
    await page.getByTestId('log').filter({ hasText: 'epoch 2 loss 0.5' }).waitFor();
  });

  it('a version downloads as .tar.gz through a signed link that works in curl; it equals `pull` file by file', async () => {
    const { page } = browser;
    await page.goto(`${origin()}/#/e/src?a=data&v=2`);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download data version 2 as tar.gz' }).click();
    expect((await download).suggestedFilename()).toBe('src-data-v2.tar.gz');
    const link = await page.getByTestId('archive-link').getAttribute('href');
    expect(link).toMatch(new RegExp(`^${origin()}/v1/archives/`));

    // curl: no cookie, no token.
    const out = sb.tmp();
    const curl = spawnSync('sh', ['-c', `curl -sSf "$0" | tar xzf - -C "$1"`, link as string, out]);
    expect(curl.status, String(curl.stderr)).toBe(0);
    const pulled = sb.tmp();
    await cliOk(sb, ['pull', 'src/data@2', '-o', pulled, '-q']);
    const files = listFiles(pulled);
    expect(listFiles(out)).toEqual(files);
    expect(files).toContain('sub/deep/weights.bin');
    for (const f of files) {
      expect(readFileSync(join(out, f)).equals(readFileSync(join(pulled, f))), f).toBe(true);
      const [a, b] = [statSync(join(out, f)), statSync(join(pulled, f))];
      expect(a.mode & 0o111, f).toBe(b.mode & 0o111);
      expect(Math.floor(a.mtimeMs / 1000), f).toBe(Math.floor(b.mtimeMs / 1000));
    }
  });

  it('a viewer sees no delete button, and a forged delete is refused with 403', async () => {
    const user = JSON.parse(
      (await cliOk(sb, ['user', 'add', 'vic', '--team', 'local', '--role', 'viewer', '--json'])).stdout,
    ) as { secret: string };
    const viewerUi = await startUi(
      { cwd: sb.cwd, env: { ...sb.env, STUDIOML_API_URL: origin(), STUDIOML_TOKEN: user.secret } },
      [],
    );
    const v = await openBrowser();
    try {
      expect(new URL(viewerUi.url).origin).toBe(origin());
      await v.page.goto(viewerUi.url);
      await v.page.getByTestId('experiments').waitFor();
      await v.page.goto(`${origin()}/#/e/src`);
      await v.page.getByRole('heading', { level: 1, name: /src/ }).waitFor();
      await v.page.getByTestId('artifacts').waitFor();
      expect(await v.page.getByTestId('delete').count()).toBe(0);
      expect(await v.page.locator('header .who').textContent()).toContain('vic · viewer');
      const status = await v.page.evaluate(async () => {
        const r = await fetch('/v1/experiments/src?force=true', { method: 'DELETE', headers: { 'x-studio-ui': '1' } });
        return r.status;
      });
      expect(status).toBe(403);
      await screenshot(v.page, 'experiment-viewer');
    } finally {
      await v.close();
      await viewerUi.stop();
    }
    // Still there, and the admin's page offers the button.
    await gotoExp('src');
    expect(await browser.page.getByTestId('delete').count()).toBe(1);
  });

  it('tails the output of a live run within 5 s of the print, with pause and follow', async () => {
    const { page } = browser;
    const stamps = sb.tmp();
    writeFileSync(
      join(sb.cwd, 'live.mjs'),
      [
        "import { writeFileSync } from 'node:fs';",
        "const say = (name) => { console.log(name); writeFileSync(process.argv[2] + '/' + name, String(Date.now())); };",
        "setTimeout(() => say('tick-A'), 3000);",
        "setTimeout(() => say('tick-B'), 9000);",
        'setTimeout(() => {}, 20000);',
      ].join('\n'),
    );
    const run = collect(startCli(sb, ['run', '-q', '-e', 'live', '--', 'node', 'live.mjs', stamps]));
    await waitFor(() => existsSync(join(sb.home, 'experiments', 'live')), 'the run to register');
    await gotoExp('live');
    const log = page.getByTestId('log');
    await log.filter({ hasText: 'tick-A' }).waitFor({ timeout: 15_000 });
    const latency = Date.now() - Number(readFileSync(join(stamps, 'tick-A'), 'utf8'));
    console.log(`web UI log tail: tick-A shown ${latency} ms after the script printed it`);
    expect(latency).toBeLessThan(5000);
    await screenshot(page, 'experiment-live');

    await page.getByRole('button', { name: 'Pause' }).click();
    await waitFor(() => existsSync(join(stamps, 'tick-B')), 'tick-B to be printed', 15_000);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await log.textContent()).not.toContain('tick-B');
    await page.getByRole('button', { name: 'Follow' }).click();
    await log.filter({ hasText: 'tick-B' }).waitFor({ timeout: 10_000 });
    expect((await run).code).toBe(0);
    await page.locator('h1 .s-finished').waitFor({ timeout: 10_000 });
  });

  it('tails the output of a queued run on a worker within 5 s', async () => {
    const { page } = browser;
    const stamps = sb.tmp();
    writeFileSync(
      join(sb.cwd, 'queued.mjs'),
      [
        "import { writeFileSync } from 'node:fs';",
        "setTimeout(() => { console.log('tick-Q'); writeFileSync(process.argv[2] + '/tick-Q', String(Date.now())); }, 4000);",
        'setTimeout(() => {}, 9000);',
      ].join('\n'),
    );
    await cliOk(sb, ['run', '-q', '--queue', 'tail', '-e', 'queued-live', '--', 'node', 'queued.mjs', stamps]);
    const worker = collect(startCli(sb, ['worker', '--queue', 'tail', '--max-jobs', '1', '-q']));
    await gotoExp('queued-live');
    await page.getByTestId('log').filter({ hasText: 'tick-Q' }).waitFor({ timeout: 20_000 });
    const latency = Date.now() - Number(readFileSync(join(stamps, 'tick-Q'), 'utf8'));
    console.log(`web UI log tail (queued run on a worker): tick-Q shown ${latency} ms after the script printed it`);
    expect(latency).toBeLessThan(5000);
    expect((await worker).code).toBe(0);
    await page.locator('h1 .s-finished').waitFor({ timeout: 10_000 });
    expect(await page.locator('table.list').first().textContent()).toContain('finished');
  });

  it('jobs and team views', async () => {
    const { page } = browser;
    await cliOk(sb, ['run', '-q', '--queue', 'gpu', '-e', 'waiting', '--', 'node', '-e', '1']);
    await page.goto(`${origin()}/#/jobs`);
    await page.getByRole('heading', { name: 'Queue gpu' }).waitFor();
    expect(await page.locator('.queue').textContent()).toContain('1 waiting, 0 running');
    await screenshot(page, 'jobs');
    expect(await axeViolations(page)).toEqual([]);
    await page.goto(`${origin()}/#/team`);
    await page.getByTestId('audit').waitFor();
    expect(await page.getByTestId('members').textContent()).toContain('vic');
    expect(await page.getByTestId('audit').textContent()).toContain('download.sign');
    await screenshot(page, 'team');
    expect(await axeViolations(page)).toEqual([]);
  });
});
