import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { StatusBadge } from '../components/status-badge.ts';
import { duration, time } from '../format.ts';
import { html } from '../html.ts';
import { href, type Route } from '../router.ts';
import type { Session } from '../session.ts';
import { type Experiment, STATUSES, TERMINAL } from '../types.ts';
import { compareHref, MAX_COMPARED } from './scalars.ts';

const PAGE = 50;
const FILTERS = ['project', 'status', 'owner', 'q'] as const;

/** Newest first, one page at a time (cursor), filters kept in the address; live while a row is not terminal. */
export function ExperimentsPage(props: { session: Session; route: Route }) {
  const query = props.route.query;
  const cursor = query.get('cursor') ?? '';
  const [rows, setRows] = useState<Experiment[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? ''])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const qs = new URLSearchParams({ limit: String(PAGE) });
  for (const f of FILTERS) if (filters[f]) qs.set(f, filters[f]);
  if (cursor) qs.set('cursor', cursor);
  const url = `/v1/experiments?${qs}`;
  const live = useRef<number | undefined>(undefined);
  // Ticked for "Compare scalars" (kept across pages of the list, in the order ticked).
  const [picked, setPicked] = useState<string[]>([]);
  const pick = (key: string, on: boolean) =>
    setPicked((p) => (on ? [...p.filter((k) => k !== key), key] : p.filter((k) => k !== key)));

  useEffect(() => {
    let alive = true;
    const load = async () => {
      try {
        const r = await api<{ experiments: Experiment[]; nextCursor: string | null }>('GET', url);
        if (!alive) return;
        setRows(r.experiments);
        setNext(r.nextCursor);
        setError(null);
        // Live status: refresh while any row can still change.
        const moving = r.experiments.some((e) => !TERMINAL.includes(e.status));
        if (moving) live.current = window.setTimeout(load, 2000);
      } catch (err) {
        if (alive) setError((err as Error).message);
      }
    };
    void load();
    return () => {
      alive = false;
      clearTimeout(live.current);
    };
  }, [url]);

  const go = (over: Record<string, string | undefined>) => {
    location.hash = href(['experiments'], { ...filters, cursor: undefined, ...over });
  };
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.target as HTMLFormElement);
    go(Object.fromEntries(FILTERS.map((f) => [f, String(data.get(f) ?? '') || undefined])));
  };
  const prev = query.get('prev');
  return html`<section>
    <h1>Experiments</h1>
    <form class="filters" onSubmit=${onSubmit} role="search">
      <label>Project <input name="project" value=${filters.project} /></label>
      <label>Status
        <select name="status" value=${filters.status}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Owner <input name="owner" value=${filters.owner} /></label>
      <label>Text <input name="q" type="search" value=${filters.q} placeholder="key, command, host…" /></label>
      <button type="submit">Filter</button>
    </form>
    <div class="toolbar">
      <button class="small" data-testid="compare" disabled=${picked.length === 0 || picked.length > MAX_COMPARED}
        onClick=${() => {
          location.hash = compareHref(picked);
        }}>Compare scalars${picked.length ? ` (${picked.length})` : ''}</button>
      <span class="muted small">${picked.length > MAX_COMPARED ? `at most ${MAX_COMPARED} at once` : 'tick experiments to overlay their TensorBoard scalars'}</span>
    </div>
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    ${
      rows === null
        ? html`<p class="muted">Loading…</p>`
        : rows.length === 0
          ? html`<p class="muted" data-testid="empty">No experiments${cursor ? ' on this page' : ''}.</p>`
          : html`<table class="list" data-testid="experiments">
              <thead><tr><th scope="col">Key</th><th scope="col">Status</th><th scope="col">Project</th><th scope="col">Owner</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Artifacts</th><th scope="col">Compare</th></tr></thead>
              <tbody>
                ${rows.map(
                  (e) => html`<tr key=${e.key}>
                    <td><a href=${href(['e', e.key])}>${e.key}</a></td>
                    <td><${StatusBadge} status=${e.status} /></td>
                    <td>${e.project ?? '—'}</td>
                    <td>${e.owner}</td>
                    <td>${time(e.createdAt)}</td>
                    <td>${duration(e.startedAt, e.finishedAt)}</td>
                    <td>${(e.artifacts ?? []).map((a) => `${a.tag}@${a.latestVersion}`).join(' ')}</td>
                    <td><input type="checkbox" aria-label=${`Compare ${e.key}`} checked=${picked.includes(e.key)}
                      onChange=${(ev: Event) => pick(e.key, (ev.target as HTMLInputElement).checked)} /></td>
                  </tr>`,
                )}
              </tbody>
            </table>`
    }
    <nav class="pager" aria-label="Pages">
      ${
        cursor
          ? html`<a href=${href(['experiments'], { ...filters, cursor: prev ?? undefined })} onClick=${(e: Event) => {
              e.preventDefault();
              history.back();
            }}>← Newer</a>`
          : null
      }
      ${next ? html`<a data-testid="next" href=${href(['experiments'], { ...filters, cursor: next, prev: cursor || undefined })}>Older →</a>` : null}
    </nav>
  </section>`;
}
