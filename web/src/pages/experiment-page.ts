import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, seg } from '../api.ts';
import { StatusBadge } from '../components/status-badge.ts';
import { argv, bytes, duration, time } from '../format.ts';
import { html } from '../html.ts';
import { href, type Route } from '../router.ts';
import type { Session } from '../session.ts';
import { type Artifact, type Experiment, type Job, TERMINAL } from '../types.ts';
import { ArtifactList } from './artifact-list.ts';
import { ExperimentActions } from './experiment-actions.ts';
import { LogTail } from './log-tail.ts';
import { ScalarsSection } from './scalars.ts';
import { VersionView } from './version-view.ts';

interface Consumers {
  consumers: { experiment: string; status: string; reused: { tag: string; version: number; as: string }[] }[];
  complete: boolean;
}

export function ExperimentPage(props: { expKey: string; session: Session; route: Route }) {
  const key = props.expKey;
  const [data, setData] = useState<{ experiment: Experiment; artifacts: Artifact[] } | null>(null);
  const [job, setJob] = useState<Job | null>(null);
  const [consumers, setConsumers] = useState<Consumers | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const base = `/v1/experiments/${seg(key)}`;

  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const load = async () => {
      try {
        const d = await api<{ experiment: Experiment; artifacts: Artifact[] }>('GET', base);
        const j = await api<{ job: Job }>('GET', `${base}/job`).then(
          (r) => r.job,
          (err) => (err instanceof ApiError && err.status === 404 ? null : Promise.reject(err)),
        );
        if (!alive) return;
        setData(d);
        setJob(j);
        if (!TERMINAL.includes(d.experiment.status)) timer = window.setTimeout(load, 2000);
      } catch (err) {
        if (alive) setError((err as Error).message);
      }
    };
    void load();
    void api<Consumers>('GET', `${base}/reused-by`).then(
      (c) => alive && setConsumers(c),
      () => undefined,
    );
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [key, tick]);

  if (error) return html`<p role="alert" class="error">${error}</p>`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  const e = data.experiment;
  const selTag = props.route.query.get('a');
  const selVersion = Number(props.route.query.get('v'));
  const sel = data.artifacts.find((a) => a.tag === selTag);
  const outcome = e.signal ? `signal ${e.signal}` : e.exitCode !== null ? `exit code ${e.exitCode}` : null;
  return html`<article>
    <p><a href="#/experiments">← Experiments</a></p>
    <h1 class="exp-title">${e.key} <${StatusBadge} status=${e.status} /> ${outcome ? html`<span class="muted" data-testid="outcome">${outcome}</span>` : null}</h1>
    <${ExperimentActions} exp=${e} hasJob=${job !== null} session=${props.session} onChange=${() => setTick(tick + 1)} />
    <dl class="facts">
      <dt>Command</dt><dd><code>${argv(e.command)}</code></dd>
      <dt>Working directory</dt><dd>${e.cwd ?? '—'}</dd>
      <dt>Host</dt><dd>${e.host ?? '—'}</dd>
      <dt>Git commit</dt><dd>${e.git ? html`<code>${e.git.commit}</code>${e.git.dirty ? ' (uncommitted changes)' : ''} ${e.git.url ?? ''}` : '—'}</dd>
      <dt>Project</dt><dd>${e.project ?? '—'}</dd>
      <dt>Owner</dt><dd>${e.owner}</dd>
      <dt>Created</dt><dd>${time(e.createdAt)}</dd>
      <dt>Started</dt><dd>${time(e.startedAt)}</dd>
      <dt>Finished</dt><dd>${time(e.finishedAt)}</dd>
      <dt>Duration</dt><dd>${duration(e.startedAt, e.finishedAt)}</dd>
      ${
        e.push
          ? html`<dt>Pushed</dt><dd data-testid="pushed">from ${e.push.from} by ${e.push.by}${e.push.host ? ` on ${e.push.host}` : ''}, ${time(e.push.at)}${e.push.complete ? '' : ' (incomplete)'}</dd>`
          : null
      }
      ${job ? html`<dt>Queue</dt><dd>${job.queue} (job ${job.status}${job.worker ? ` on ${job.worker.host}` : ''})</dd>` : null}
    </dl>
    ${e.warnings.length ? html`<details><summary>${e.warnings.length} warnings</summary><ul>${e.warnings.slice(0, 200).map((w) => html`<li>${w}</li>`)}</ul></details>` : null}
    <h2>Attempts</h2>
    ${
      job?.history.length
        ? html`<table class="list"><thead><tr><th scope="col">Attempt</th><th scope="col">Worker</th><th scope="col">Leased</th><th scope="col">Ended</th><th scope="col">Outcome</th></tr></thead>
            <tbody>${job.history.map((h) => html`<tr><td>${h.attempt}</td><td>${h.worker}</td><td>${time(h.leasedAt)}</td><td>${time(h.endedAt)}</td><td>${h.outcome ?? '—'}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">One attempt (a local run${e.host ? ` on ${e.host}` : ''}).</p>`
    }
    <h2>Lineage</h2>
    <div class="lineage">
      <div><h3>Reused</h3>${
        e.lineage.length
          ? html`<ul data-testid="reused">${e.lineage.map(
              (l) =>
                html`<li><a href=${href(['e', l.experiment], { a: l.tag, v: String(l.version) })}>${l.experiment}/${l.tag}@${l.version}</a> as ${l.as}</li>`,
            )}</ul>`
          : html`<p class="muted">Nothing.</p>`
      }</div>
      <div><h3>Reused by</h3>${
        !consumers
          ? html`<p class="muted">…</p>`
          : consumers.consumers.length
            ? html`<ul data-testid="reused-by">${consumers.consumers.map(
                (c) =>
                  html`<li><a href=${href(['e', c.experiment])}>${c.experiment}</a> (${c.reused.map((r) => `${r.tag}@${r.version}`).join(', ')})</li>`,
              )}</ul>`
            : html`<p class="muted">No experiment${consumers.complete ? '' : ' among the 10,000 newest'}.</p>`
      }</div>
    </div>
    <h2>Scalars</h2>
    <${ScalarsSection} expKey=${key} version=${data.artifacts.find((a) => a.tag === 'tb')?.latestVersion ?? null} />
    <h2>Artifacts</h2>
    <${ArtifactList} expKey=${key} artifacts=${data.artifacts} selected=${sel ? { tag: sel.tag, version: selVersion || sel.latestVersion } : null} />
    ${sel ? html`<${VersionView} key=${`${sel.tag}@${selVersion || sel.latestVersion}`} expKey=${key} artifact=${sel} version=${selVersion || sel.latestVersion} />` : null}
    <h2>Output</h2>
    <${LogTail} expKey=${key} running=${!TERMINAL.includes(e.status)} />
    <p class="muted small">${data.artifacts.reduce((n, a) => n + a.versions.length, 0)} versions in ${data.artifacts.length} artifacts, ${bytes(
      data.artifacts.reduce((n, a) => n + (a.versions[a.versions.length - 1]?.bytes ?? 0), 0),
    )} in their latest versions.</p>
  </article>`;
}
