import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { StatusBadge } from '../components/status-badge.ts';
import { time } from '../format.ts';
import { html } from '../html.ts';
import { href } from '../router.ts';
import type { Session } from '../session.ts';
import type { Job } from '../types.ts';

/** Queues with their waiting and running jobs and the workers holding them (read-only). */
export function JobsPage(_props: { session: Session }) {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const load = async () => {
      try {
        const r = await api<{ jobs: Job[] }>('GET', '/v1/jobs?status=queued,leased&limit=1000');
        if (alive) setJobs(r.jobs);
      } catch (e) {
        if (alive) setError((e as Error).message);
      }
      if (alive) timer = window.setTimeout(load, 3000);
    };
    void load();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, []);
  if (error) return html`<p role="alert" class="error">${error}</p>`;
  if (!jobs) return html`<p class="muted">Loading…</p>`;
  const queues = [...new Set(jobs.map((j) => j.queue))].sort();
  return html`<section>
    <h1>Jobs</h1>
    ${queues.length === 0 ? html`<p class="muted">No queued or running jobs.</p>` : null}
    ${queues.map((q) => {
      const list = jobs.filter((j) => j.queue === q);
      const workers = [...new Set(list.filter((j) => j.worker).map((j) => `${j.worker?.id} (${j.worker?.host})`))];
      return html`<section class="queue">
        <h2>Queue ${q}</h2>
        <p>${list.filter((j) => j.status === 'queued').length} waiting, ${list.filter((j) => j.status === 'leased').length} running${workers.length ? `; workers: ${workers.join(', ')}` : ''}</p>
        <table class="list">
          <thead><tr><th scope="col">Experiment</th><th scope="col">Status</th><th scope="col">Attempt</th><th scope="col">Worker</th><th scope="col">Queued</th><th scope="col">Started</th></tr></thead>
          <tbody>${list.map(
            (
              j,
            ) => html`<tr><td><a href=${href(['e', j.id])}>${j.id}</a></td><td><${StatusBadge} status=${j.status} />${j.stopRequested ? ` (${j.stopRequested} requested)` : ''}</td>
              <td>${j.attempt}/${j.maxAttempts}</td><td>${j.worker ? `${j.worker.id} (${j.worker.host})` : '—'}</td><td>${time(j.queuedAt)}</td><td>${time(j.startedAt)}</td></tr>`,
          )}</tbody>
        </table>
      </section>`;
    })}
  </section>`;
}
