import type { RetentionPolicy, RetentionReport, RetentionRules } from '@studio-lite/functions/contract';
import { describeRetention, versionRuns } from '@studio-lite/functions/contract/pure';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { bytes, time } from '../format.ts';
import { html } from '../html.ts';
import { href } from '../router.ts';
import type { Session } from '../session.ts';

/**
 * Retention policies of the team (issue 18), on the team page. Everyone sees the policies and may dry-run the saved
 * ones; admins edit one in a form, Preview it (a dry run of the rules not saved yet: what would be deleted, what is
 * protected and why) and only then Save it, or Clear one. The API checks every role again.
 */

/** The form: one text per rule ('' = off); durations with their unit. */
interface Form {
  project: string;
  keepLast: string;
  keepEvery: string;
  keepWithin: string;
  keepWithinUnit: 'hours' | 'days';
  keepHourly: string;
  keepDaily: string;
  expireDays: string;
}

const EMPTY: Form = {
  project: '',
  keepLast: '',
  keepEvery: '',
  keepWithin: '',
  keepWithinUnit: 'hours',
  keepHourly: '',
  keepDaily: '',
  expireDays: '',
};

const num = (n: number | null) => (n === null ? '' : String(n));

function formOf(p: RetentionPolicy): Form {
  const within = p.keepWithinHours;
  const days = within !== null && within % 24 === 0;
  return {
    project: p.project ?? '',
    keepLast: num(p.keepLast),
    keepEvery: num(p.keepEvery),
    keepWithin: within === null ? '' : String(days ? within / 24 : within),
    keepWithinUnit: days ? 'days' : 'hours',
    keepHourly: num(p.keepHourly),
    keepDaily: num(p.keepDaily),
    expireDays: num(p.expireDays),
  };
}

/** The rules the form names; throws with the field's label when a value is not a number. */
function rulesOf(f: Form): RetentionRules {
  const n = (v: string, label: string): number | null => {
    const t = v.trim();
    if (t === '') return null;
    const x = Number(t);
    if (!Number.isFinite(x)) throw new Error(`${label}: "${t}" is not a number`);
    return x;
  };
  const within = n(f.keepWithin, 'Keep within');
  return {
    keepLast: n(f.keepLast, 'Keep last'),
    keepEvery: n(f.keepEvery, 'Keep every'),
    keepWithinHours: within === null ? null : f.keepWithinUnit === 'days' ? within * 24 : within,
    keepHourly: n(f.keepHourly, 'Keep hourly'),
    keepDaily: n(f.keepDaily, 'Keep daily'),
    expireDays: n(f.expireDays, 'Expire after'),
  };
}

const WHY: Record<RetentionReport['protected'][number]['reason'], string> = {
  alias: 'has an alias',
  lineage: 'reused by another experiment',
  running: 'running or queued',
};

/** What a dry run found: the versions that would go, expired experiments, and what stays because it is protected. */
function ReportView(props: { report: RetentionReport; title: string }) {
  const r = props.report;
  const verb = r.dryRun ? 'Would delete' : 'Deleted';
  const expLink = (key: string) => html`<a href=${href(['e', key])}>${key}</a>`;
  return html`<section class="retention-report" data-testid="retention-report" aria-label=${props.title}>
    <h3>${props.title}</h3>
    <p data-testid="retention-summary">
      ${verb} <strong>${r.versionsDeleted}</strong> version(s) (${bytes(r.bytes)} referenced) and${' '}
      <strong>${r.expired.length}</strong> expired experiment(s); ${r.experiments} experiment(s) under a policy.${' '}
      ${r.dryRun ? 'Nothing was deleted.' : null}
    </p>
    ${
      r.deletions.length
        ? html`<table class="list" data-testid="retention-deletions">
        <caption class="muted small">Versions that would be deleted (their blobs are freed by the next two GC runs)</caption>
        <thead><tr><th scope="col">Experiment</th><th scope="col">Artifact</th><th scope="col">Versions</th><th scope="col">Count</th></tr></thead>
        <tbody>${r.deletions.map(
          (d) =>
            html`<tr><td>${expLink(d.experiment)}</td><td>${d.tag}</td><td>${versionRuns(d.versions)}</td><td>${d.versions.length}</td></tr>`,
        )}</tbody></table>`
        : html`<p class="muted">No version would be deleted.</p>`
    }
    ${
      r.expired.length
        ? html`<p data-testid="retention-expired">Expired experiments: ${r.expired.map(
            (k, i) => html`${i ? ', ' : ''}${expLink(k)}`,
          )}</p>`
        : null
    }
    ${
      r.protected.length
        ? html`<table class="list" data-testid="retention-protected">
        <caption class="muted small">Kept although a rule would delete them</caption>
        <thead><tr><th scope="col">Experiment</th><th scope="col">Artifact</th><th scope="col">Version</th><th scope="col">Why</th></tr></thead>
        <tbody>${r.protected.map(
          (x) =>
            html`<tr><td>${expLink(x.experiment)}</td><td>${x.tag ?? '(all)'}</td><td>${x.version === null ? '—' : `@${x.version}`}</td><td>${WHY[x.reason]}</td></tr>`,
        )}</tbody></table>`
        : null
    }
    ${r.truncated ? html`<p class="muted small">The lists are cut at 1,000 entries; the counts are whole.</p>` : null}
  </section>`;
}

export function RetentionSection(props: { session: Session }) {
  const admin = props.session.role === 'admin';
  const [policies, setPolicies] = useState<RetentionPolicy[] | null>(null);
  const [form, setForm] = useState<Form>(EMPTY);
  const [report, setReport] = useState<{ report: RetentionReport; title: string } | null>(null);
  /** The form as last previewed: Save is offered only for exactly what the preview showed. */
  const [previewed, setPreviewed] = useState<string | null>(null);
  const [msg, setMsg] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api<{ policies: RetentionPolicy[] }>('GET', '/v1/retention').then(
      (r) => setPolicies(r.policies),
      (e: Error) => setMsg({ text: e.message, error: true }),
    );
  useEffect(() => {
    void load();
  }, [props.session.team]);

  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setMsg(null);
    try {
      await f();
    } catch (e) {
      setMsg({ text: (e as Error).message, error: true });
    } finally {
      setBusy(false);
    }
  };
  const project = () => form.project.trim() || null;
  const scopeName = (p: string | null) => (p === null ? 'the team' : `project ${p}`);
  const edit = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  const key = JSON.stringify(form);

  const preview = () =>
    run(async () => {
      const rules = rulesOf(form);
      const r = await api<RetentionReport>('POST', '/v1/retention/apply', { dryRun: true, project: project(), rules });
      setReport({ report: r, title: `Preview for ${scopeName(project())}: ${describeRetention(rules)} (not saved)` });
      setPreviewed(key);
    });
  const save = () =>
    run(async () => {
      const rules = rulesOf(form);
      await api('PUT', '/v1/retention', { project: project(), ...rules });
      setMsg({ text: `Saved the policy of ${scopeName(project())}.`, error: false });
      setPreviewed(null);
      // The preview shown is of exactly these rules (Save needs it): it now describes the saved policy.
      setReport(
        (cur) => cur && { ...cur, title: cur.title.replace('(not saved)', '(saved: applied at the next run)') },
      );
      await load();
    });
  const clear = (p: string | null) =>
    run(async () => {
      if (!confirm(`Remove the retention policy of ${scopeName(p)}?`)) return;
      await api('DELETE', `/v1/retention${p === null ? '' : `?project=${encodeURIComponent(p)}`}`);
      setMsg({ text: `Removed the policy of ${scopeName(p)}.`, error: false });
      await load();
    });
  const dryRun = (p: string | null) =>
    run(async () => {
      const r = await api<RetentionReport>('POST', '/v1/retention/apply', { dryRun: true, project: p });
      setReport({
        report: r,
        title: `Dry run of the saved policies${p === null ? '' : ` of project ${p}`}`,
      });
    });

  const field = (name: keyof Form, label: string, hint: string) =>
    html`<label>${label}
      <input type="number" min="0" step="1" inputmode="numeric" name=${name} value=${form[name]} placeholder="off"
        title=${hint} onInput=${(e: Event) => edit({ [name]: (e.target as HTMLInputElement).value })} />
    </label>`;

  return html`<section data-testid="retention">
    <h2>Retention</h2>
    <p class="muted small">
      Which versions of mutable artifacts to keep, per team or per project (a project's policy replaces the team's).
      The latest version, versions with an alias, versions another experiment reused and running experiments are never
      deleted. Applied daily on a deployment and by <code>studio-lite serve</code>, or with${' '}
      <code>studio-lite retention apply</code>.
    </p>
    ${msg ? html`<p role=${msg.error ? 'alert' : 'status'} class=${msg.error ? 'error' : ''}>${msg.text}</p>` : null}
    ${
      policies === null
        ? html`<p class="muted">Loading…</p>`
        : policies.length === 0
          ? html`<p data-testid="retention-none">No policy: every version and experiment is kept.</p>`
          : html`<table class="list" data-testid="retention-policies">
            <thead><tr><th scope="col">Scope</th><th scope="col">Policy</th><th scope="col">Set by</th><th scope="col">Set</th><th scope="col">Actions</th></tr></thead>
            <tbody>${policies.map(
              (p) => html`<tr>
                <td>${p.project ?? '(team)'}</td><td>${describeRetention(p)}</td><td>${p.updatedBy}</td><td>${time(p.updatedAt)}</td>
                <td class="row-actions">
                  <button class="small" disabled=${busy} onClick=${() => dryRun(p.project)}
                    aria-label=${`Dry run ${p.project === null ? 'every policy' : `the policy of project ${p.project}`}`}>Dry run</button>
                  ${
                    admin
                      ? html`<button class="small" disabled=${busy} onClick=${() => {
                          setForm(formOf(p));
                          setPreviewed(null);
                        }} aria-label=${`Edit the policy of ${scopeName(p.project)}`}>Edit</button>
                        <button class="small danger" disabled=${busy} onClick=${() => clear(p.project)}
                          aria-label=${`Clear the policy of ${scopeName(p.project)}`}>Clear</button>`
                      : null
                  }
                </td></tr>`,
            )}</tbody></table>`
    }
    ${
      admin
        ? html`<form class="filters retention-form" data-testid="retention-form" aria-label="Retention policy"
            onSubmit=${(e: Event) => {
              e.preventDefault();
              void preview();
            }}>
            <label>Project (empty: the whole team)
              <input name="project" value=${form.project} placeholder="(team)"
                onInput=${(e: Event) => edit({ project: (e.target as HTMLInputElement).value })} />
            </label>
            ${field('keepLast', 'Keep last', 'the N newest versions')}
            ${field('keepEvery', 'Keep every Nth', 'every version whose number is a multiple of N (N ≥ 2)')}
            <label>Keep within
              <span class="with-unit">
                <input type="number" min="0" step="any" name="keepWithin" value=${form.keepWithin} placeholder="off"
                  title="every version younger than this" aria-label="Keep within"
                  onInput=${(e: Event) => edit({ keepWithin: (e.target as HTMLInputElement).value })} />
                <select name="keepWithinUnit" value=${form.keepWithinUnit} aria-label="Keep within unit"
                  onChange=${(e: Event) => edit({ keepWithinUnit: (e.target as HTMLSelectElement).value as Form['keepWithinUnit'] })}>
                  <option value="hours">hours</option><option value="days">days</option>
                </select>
              </span>
            </label>
            ${field('keepHourly', 'Keep hourly', 'the newest version of each of the last N hours that have one')}
            ${field('keepDaily', 'Keep daily', 'the newest version of each of the last N days that have one')}
            ${field('expireDays', 'Expire after (days)', 'delete experiments that ended longer ago than this')}
            <span class="form-buttons">
              <button type="submit" disabled=${busy}>Preview</button>
              <button type="button" disabled=${busy || previewed !== key} onClick=${save}
                title=${previewed === key ? 'save this policy' : 'preview it first'}>Save</button>
              <button type="button" class="link" disabled=${busy} onClick=${() => {
                setForm(EMPTY);
                setPreviewed(null);
              }}>Reset</button>
            </span>
          </form>
          ${previewed !== key ? html`<p class="muted small">Preview a policy to see what it would delete before you save it.</p>` : null}`
        : html`<p class="muted small">Team admins set, preview and clear policies; you can dry-run the saved ones.</p>`
    }
    ${report ? html`<${ReportView} report=${report.report} title=${report.title} />` : null}
  </section>`;
}
