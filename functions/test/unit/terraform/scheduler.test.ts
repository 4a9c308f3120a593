/**
 * The daily retention run of a deployment (scheduler.tf): a Cloud Scheduler job that POSTs `{}` to the function's
 * internal route of the `retention` task kind, with an OIDC token the function accepts (the task-invoker account the
 * function is told about in STUDIO_TASKS_SERVICE_ACCOUNT, for the audience STUDIO_PUBLIC_URL), on a schedule a
 * variable sets and null turns off; the Cloud Scheduler API is enabled exactly when the job exists.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TASK_KINDS } from '../../../src/core/task-kinds.ts';
import { body, isObj, literalsIn, loadModule, MODULE_DIR, type Obj, soleExpression, type TfModule } from './tf.ts';

let mod: TfModule;
let job: Obj;
let env: Obj;

beforeAll(async () => {
  mod = await loadModule(MODULE_DIR);
  const jobs = [...mod.resources].filter(([k]) => k.startsWith('google_cloud_scheduler_job.'));
  expect(jobs.map(([k]) => k)).toEqual(['google_cloud_scheduler_job.retention']);
  job = jobs[0]?.[1].body ?? {};
  const fn = mod.resources.get('google_cloudfunctions2_function.api')?.body ?? {};
  const vars = body(fn.service_config).environment_variables;
  env = isObj(vars) ? vars : {};
});

/** The regex inside `regex("...", var.<name>)` of a variable's validation (RE2, JS-compatible here). */
function validationPattern(name: string): RegExp {
  const v = mod.variables.get(name)?.body;
  for (const val of Array.isArray(v?.validation) ? v.validation.filter(isObj) : []) {
    const m = typeof val.condition === 'string' ? /regex\("((?:[^"\\]|\\.)*)"/.exec(val.condition) : null;
    if (m?.[1]) return new RegExp(JSON.parse(`"${m[1]}"`) as string);
  }
  throw new Error(`${name}: no regex validation`);
}

describe('the retention scheduler job', () => {
  it('POSTs {} as JSON to <STUDIO_PUBLIC_URL>/internal/tasks/retention, a task kind the function runs', () => {
    const target = body(job.http_target);
    expect(target.http_method).toBe('POST');
    expect(target.uri).toBe(`\${local.public_url}/internal/tasks/retention`);
    // The base URL is the function's STUDIO_PUBLIC_URL, and the path names the task kind internal-handler.ts routes.
    expect(soleExpression(env.STUDIO_PUBLIC_URL)).toBe('local.public_url');
    expect(TASK_KINDS).toContain(/\/internal\/tasks\/([a-z0-9-]+)$/.exec(String(target.uri))?.[1]);
    // An empty body is not JSON (the internal route would answer E_BAD_JSON): `{}` is what the task kind expects.
    expect(target.body).toBe(`\${base64encode("{}")}`);
    expect(target.headers).toEqual({ 'Content-Type': 'application/json' });
  });

  it('carries an OIDC token of the task-invoker account for the audience the function checks', () => {
    const oidc = body(body(job.http_target).oidc_token);
    expect(oidc.service_account_email).toBe(`\${google_service_account.tasks_invoker.email}`);
    expect(oidc.service_account_email).toBe(env.STUDIO_TASKS_SERVICE_ACCOUNT);
    expect(oidc.audience).toBe(env.STUDIO_PUBLIC_URL);
    expect(body(job.http_target).oauth_token).toBeUndefined(); // an OAuth token is for Google APIs, not for us
  });

  it('runs daily at 03:17 UTC by default; the schedule and time zone are variables, null turns the job off', () => {
    expect(soleExpression(job.schedule)).toBe('var.retention_schedule');
    expect(soleExpression(job.time_zone)).toBe('var.retention_time_zone');
    expect(mod.variables.get('retention_schedule')?.body.default).toBe('17 3 * * *');
    expect(mod.variables.get('retention_time_zone')?.body.default).toBe('Etc/UTC');
    expect(soleExpression(job.count)).toBe('var.retention_schedule == null ? 0 : 1');
    // HTTP targets allow an attempt deadline of 15 s to 30 min.
    expect(job.attempt_deadline).toBe(`\${min(var.function_timeout_seconds, 1800)}s`);
    expect(body(job.retry_config).retry_count).toBeGreaterThan(0);
  });

  it('validates the schedule and the time zone before Google does', () => {
    const cron = validationPattern('retention_schedule');
    for (const ok of ['17 3 * * *', '0 */6 * * *', '30 2 * * 1-5', '0 0 1 * *']) expect(cron.test(ok), ok).toBe(true);
    for (const bad of ['daily', '17 3 * *', '17 3 * * * *', '', ' 17 3 * * *']) expect(cron.test(bad), bad).toBe(false);
    const tz = validationPattern('retention_time_zone');
    for (const ok of ['Etc/UTC', 'UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+2']) {
      expect(tz.test(ok), ok).toBe(true);
    }
    for (const bad of ['', 'Europe/', '/UTC', 'Europe Berlin', 'UTC; rm']) expect(tz.test(bad), bad).toBe(false);
  });

  it('enables the Cloud Scheduler API under the same condition, before the job', () => {
    const apis = mod.locals.get('optional_apis')?.value;
    expect(literalsIn(mod, apis)).toContain('cloudscheduler.googleapis.com');
    expect(String(apis)).toMatch(/var\.retention_schedule == null \? \[\] : \["cloudscheduler\.googleapis\.com"\]/);
    expect(job.depends_on).toEqual([`\${google_project_service.apis}`]);
  });
});
