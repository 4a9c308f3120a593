// The team page's retention section in a real browser (issue 18): an admin fills the form, Preview shows the versions
// the rules would delete and an aliased version as protected (alias), Save stores the policy (GET /v1/retention) and
// deletes nothing; a changed form must be previewed again; a viewer sees the policies and may dry-run them but gets no
// form, no Save and no Clear (and a forged PUT is refused). Screenshots: .tmp/screenshots (git-ignored).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../../functions/src/contract/index.ts';
import { artifact, cliOk, makeSandbox, removeSandbox, type Sandbox, showJson } from './helpers.ts';
import { axeViolations, type Browser, openBrowser, screenshot } from './web/browser.ts';
import { startUi, type UiServer } from './web/ui-fixture.ts';

let sb: Sandbox & { dirs: string[] };
let ui: UiServer;
let browser: Browser;
const origin = () => new URL(ui.url).origin;
const versions = async () => artifact(await showJson(sb, 'exp'), 'w').versions.map((v) => v.version);

beforeAll(async () => {
  sb = makeSandbox();
  const dir = join(sb.tmp(), 'w');
  mkdirSync(dir);
  for (let n = 1; n <= 5; n++) {
    writeFileSync(join(dir, 'weights.txt'), `weights ${n}`);
    await cliOk(sb, ['run', '-q', '-e', 'exp', ...(n > 1 ? ['--resume'] : []), '-c', `${dir}:w`, '--', 'true']);
  }
  await cliOk(sb, ['alias', 'exp/w@1', 'best']);
  ui = await startUi(sb);
  browser = await openBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  removeSandbox(sb);
});

async function policies(page: Browser['page']): Promise<RetentionPolicy[]> {
  return page.evaluate(async () => {
    const r = await fetch('/v1/retention', { headers: { 'x-studio-ui': '1' } });
    return ((await r.json()) as { policies: RetentionPolicy[] }).policies;
  });
}

describe('retention on the team page', () => {
  it('an admin previews a policy (deletions, the aliased version protected), then saves it; nothing is deleted', async () => {
    const { page } = browser;
    await page.goto(ui.url);
    await page.getByTestId('experiments').waitFor();
    await page.goto(`${origin()}/#/team`);
    const section = page.getByTestId('retention');
    await section.getByTestId('retention-none').waitFor();
    const form = section.getByTestId('retention-form');
    const save = form.getByRole('button', { name: 'Save' });
    await form.getByLabel('Keep last').fill('2');
    expect(await save.isDisabled()).toBe(true); // not before a preview

    await form.getByRole('button', { name: 'Preview' }).click();
    const report = section.getByTestId('retention-report');
    await report.waitFor();
    expect(await report.getByRole('heading').textContent()).toBe('Preview for the team: keep last 2 (not saved)');
    const rows = await report.getByTestId('retention-deletions').locator('tbody tr').allTextContents();
    expect(rows).toContain('expw@2-32');
    expect(await report.getByTestId('retention-protected').locator('tbody tr').allTextContents()).toContain(
      'expw@1has an alias',
    );
    expect(await report.getByTestId('retention-summary').textContent()).toMatch(/Would delete \d+ version\(s\)/);
    expect(await report.getByTestId('retention-summary').textContent()).toContain('Nothing was deleted.');
    await screenshot(page, 'team-retention-preview');
    expect(await axeViolations(page)).toEqual([]);

    // Save is offered for exactly what was previewed: a changed form must be previewed again.
    await form.getByLabel('Keep last').fill('3');
    expect(await save.isDisabled()).toBe(true);
    await form.getByLabel('Keep last').fill('2');
    expect(await save.isDisabled()).toBe(false);
    await save.click();
    await section.getByRole('status').filter({ hasText: 'Saved the policy of the team.' }).waitFor();
    const table = section.getByTestId('retention-policies');
    expect(await table.locator('tbody tr td').first().textContent()).toBe('(team)');
    expect(await table.locator('tbody tr td').nth(1).textContent()).toBe('keep last 2');
    expect(await policies(page)).toEqual([
      expect.objectContaining({ team: 'local', project: null, keepLast: 2, keepEvery: null, updatedBy: 'local' }),
    ]);
    // Saving applies nothing (the `ui` host does not run retention): every version is still there.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await versions()).toEqual([1, 2, 3, 4, 5]);
    await screenshot(page, 'team-retention-saved');
  });

  it('durations in days are saved as hours; Edit fills the form back; a dry run of the saved policy', async () => {
    const { page } = browser;
    const section = page.getByTestId('retention');
    const form = section.getByTestId('retention-form');
    await form.getByLabel('Project (empty: the whole team)').fill('vision');
    await form.getByLabel('Keep last').fill('');
    await form.getByLabel('Keep within', { exact: true }).fill('2');
    await form.getByLabel('Keep within unit').selectOption('days');
    await form.getByLabel('Expire after (days)').fill('30');
    await form.getByRole('button', { name: 'Preview' }).click();
    await section.getByRole('heading', { name: /^Preview for project vision: keep within 2d;/ }).waitFor();
    await form.getByRole('button', { name: 'Save' }).click();
    await section.getByRole('status').filter({ hasText: 'Saved the policy of project vision.' }).waitFor();
    expect((await policies(page)).find((p) => p.project === 'vision')).toMatchObject({
      keepWithinHours: 48,
      expireDays: 30,
      keepLast: null,
    });
    await form.getByRole('button', { name: 'Reset' }).click();
    await section.getByRole('button', { name: 'Edit the policy of project vision' }).click();
    expect(await form.getByLabel('Keep within', { exact: true }).inputValue()).toBe('2');
    expect(await form.getByLabel('Keep within unit').inputValue()).toBe('days');
    expect(await form.getByLabel('Project (empty: the whole team)').inputValue()).toBe('vision');

    await section.getByRole('button', { name: 'Dry run every policy' }).click();
    await section.getByRole('heading', { name: 'Dry run of the saved policies' }).waitFor();
    expect(await section.getByTestId('retention-deletions').locator('tbody tr').allTextContents()).toContain(
      'expw@2-32',
    );
    expect(await versions()).toEqual([1, 2, 3, 4, 5]);
  });

  it('a viewer sees the policies and may dry-run them, but has no form, Save or Clear; a forged PUT is 403', async () => {
    const user = JSON.parse(
      (await cliOk(sb, ['user', 'add', 'vic', '--team', 'local', '--role', 'viewer', '--json'])).stdout,
    ) as { secret: string };
    const viewerUi = await startUi({
      cwd: sb.cwd,
      env: { ...sb.env, STUDIOML_API_URL: origin(), STUDIOML_TOKEN: user.secret },
    });
    const v = await openBrowser();
    try {
      await v.page.goto(viewerUi.url);
      await v.page.getByTestId('experiments').waitFor();
      await v.page.goto(`${origin()}/#/team`);
      const section = v.page.getByTestId('retention');
      await section.getByTestId('retention-policies').waitFor();
      expect(await section.getByTestId('retention-policies').locator('tbody tr').count()).toBe(2);
      expect(await section.getByTestId('retention-form').count()).toBe(0);
      expect(await section.getByRole('button', { name: 'Save' }).count()).toBe(0);
      expect(await section.getByRole('button', { name: /^Clear/ }).count()).toBe(0);
      expect(await section.getByRole('button', { name: /^Edit/ }).count()).toBe(0);
      await section.getByRole('button', { name: 'Dry run every policy' }).click();
      await section.getByTestId('retention-deletions').waitFor();
      expect(await section.getByTestId('retention-protected').locator('tbody tr').allTextContents()).toContain(
        'expw@1has an alias',
      );
      const status = await v.page.evaluate(async () => {
        const r = await fetch('/v1/retention', {
          method: 'PUT',
          headers: { 'x-studio-ui': '1', 'content-type': 'application/json' },
          body: JSON.stringify({ keepLast: 1 }),
        });
        return r.status;
      });
      expect(status).toBe(403);
      await screenshot(v.page, 'team-retention-viewer');
      expect(await axeViolations(v.page)).toEqual([]);
    } finally {
      await v.close();
      await viewerUi.stop();
    }
    expect(await versions()).toEqual([1, 2, 3, 4, 5]);
  });

  it('an admin clears a policy (after confirming)', async () => {
    const { page } = browser;
    page.once('dialog', (d) => void d.accept());
    const section = page.getByTestId('retention');
    await section.getByRole('button', { name: 'Clear the policy of project vision' }).click();
    await section.getByRole('status').filter({ hasText: 'Removed the policy of project vision.' }).waitFor();
    expect((await policies(page)).map((p) => p.project)).toEqual([null]);
  });
});
