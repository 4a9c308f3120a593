/**
 * TensorBoard scalars: the experiment page's section (its latest `tb` version, read again when the live run captures
 * a new one) and the compare view (#/compare?keys=a,b,c: the same tag of each experiment on one chart). The chart
 * and parser code is a chunk of its own, loaded on first use (tb/lazy.ts).
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { StatusBadge } from '../components/status-badge.ts';
import { bytes } from '../format.ts';
import { html } from '../html.ts';
import { href, type Route } from '../router.ts';
import { lineColor } from '../tb/colors.ts';
import type { ScalarPoint } from '../tb/events.ts';
import type { TbScalars } from '../tb/load.ts';
import { type Artifact, type Experiment, TERMINAL } from '../types.ts';

type Lazy = typeof import('../tb/lazy.ts');
let lazy: Promise<Lazy> | null = null;
const loadLazy = (): Promise<Lazy> => {
  lazy ??= import('../tb/lazy.ts').catch((err: unknown) => {
    lazy = null;
    throw err;
  });
  return lazy;
};

/** Experiments one compare view overlays. */
export const MAX_COMPARED = 8;
const POLL_MS = 3000;

interface Line {
  label: string;
  /** Palette index (lineColor): one per run or experiment, the same on every chart. */
  color: number;
  points: ScalarPoint[];
}

/** Short, stable text of a value: 6 significant digits, exponent form for very small or large magnitudes. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e7)) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

export const compareHref = (keys: string[]) => href(['compare'], { keys: keys.join(',') });

function Warnings(props: { warnings: string[]; label?: string }) {
  if (!props.warnings.length) return null;
  return html`<details class="tb-warnings" data-testid="scalar-warnings" open=${props.warnings.length <= 3}>
    <summary class="error">${props.warnings.length} warnings${props.label ? ` (${props.label})` : ''}</summary>
    <ul>${props.warnings.slice(0, 100).map((w) => html`<li>${w}</li>`)}</ul>
  </details>`;
}

/** One chart per tag, each with the last value of every line as text. */
function ScalarGrid(props: { tags: [string, Line[]][]; lib: Lazy | null }) {
  const { lib } = props;
  return html`<div class="scalars" data-testid="scalars">
    ${props.tags.map(
      ([tag, lines]) => html`<figure class="scalar" key=${tag} data-testid="scalar" data-tag=${tag}>
        <figcaption>
          <span class="tag">${tag}</span>
          <span class="last" data-testid="scalar-last">${lines.map((l) => {
            const last = l.points[l.points.length - 1] as ScalarPoint;
            return html`<span class="last-value">${lines.length > 1 || l.label ? html`<i class="swatch" style=${{ background: lineColor(l.color) }}></i>${l.label}: ` : 'last '}<strong>${formatValue(last.value)}</strong> at step ${last.step}</span>`;
          })}</span>
        </figcaption>
        ${lib ? html`<${lib.ScalarChart} lines=${lines} />` : html`<div class="chart muted">Loading chart…</div>`}
      </figure>`,
    )}
  </div>`;
}

function summary(s: TbScalars): string {
  return `${s.tags.size} scalar tags from ${s.files} event file${s.files === 1 ? '' : 's'} in tb@${s.version} (${bytes(s.bytesRead)} read)`;
}

/**
 * The experiment page's section: the scalars of `tb` at `version` (its latest; the page's live refresh passes each
 * new one). The charts stay on screen while the next version loads.
 */
export function ScalarsSection(props: { expKey: string; version: number | null }) {
  const [lib, setLib] = useState<Lazy | null>(null);
  const [data, setData] = useState<TbScalars | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (props.version === null) return;
    let alive = true;
    void loadLazy()
      .then(async (l) => {
        if (alive) setLib(l);
        const s = await l.loadScalars(props.expKey, props.version as number);
        if (!alive) return;
        setData(s);
        setError(null);
      })
      .catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
  }, [props.expKey, props.version]);
  // Stable lines while the data is the same: the charts redraw only for a new version.
  const tags = useMemo(() => {
    const all = [...new Set([...(data?.tags.values() ?? [])].flatMap((runs) => runs.map((r) => r.run)))].sort();
    return [...(data?.tags ?? [])].map(([tag, runs]): [string, Line[]] => [
      tag,
      runs.map((r) => ({
        label: r.run || (all.length > 1 ? '(top)' : ''),
        color: all.indexOf(r.run),
        points: r.points,
      })),
    ]);
  }, [data]);

  if (props.version === null) return html`<p class="muted" data-testid="scalars-none">No tb artifact.</p>`;
  if (error && !data) return html`<p class="error" data-testid="scalars-error">${error}</p>`;
  if (!data) return html`<p class="muted">Reading tb@${props.version}…</p>`;
  return html`<section aria-label="Scalars">
    <p class="muted small" data-testid="scalars-summary">${
      data.files === 0 ? `No TensorBoard event files in tb@${data.version}.` : summary(data)
    }${error ? html` <span class="error">${error}</span>` : null}</p>
    <${Warnings} warnings=${data.warnings} />
    ${tags.length ? html`<${ScalarGrid} tags=${tags} lib=${lib} />` : null}
  </section>`;
}

interface Compared {
  key: string;
  experiment: Experiment | null;
  scalars: TbScalars | null;
  error: string | null;
}

/** #/compare?keys=a,b,c: every tag of any of the experiments, one line per experiment (and run) on its chart. */
export function ComparePage(props: { route: Route }) {
  const keys = [
    ...new Set(
      (props.route.query.get('keys') ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    ),
  ];
  const shown = keys.slice(0, MAX_COMPARED);
  const [lib, setLib] = useState<Lazy | null>(null);
  const [rows, setRows] = useState<Compared[] | null>(null);

  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const have = new Map<string, TbScalars>();
    const tick = async () => {
      let l: Lazy;
      try {
        l = await loadLazy();
      } catch (e) {
        if (alive) setRows(shown.map((key) => ({ key, experiment: null, scalars: null, error: (e as Error).message })));
        return;
      }
      if (!alive) return;
      setLib(l);
      const next = await Promise.all(
        shown.map(async (key): Promise<Compared> => {
          try {
            const d = await api<{ experiment: Experiment; artifacts: Artifact[] }>(
              'GET',
              `/v1/experiments/${seg(key)}`,
            );
            const tb = d.artifacts.find((a) => a.tag === 'tb');
            let scalars = have.get(key) ?? null;
            if (tb && scalars?.version !== tb.latestVersion) {
              scalars = await l.loadScalars(key, tb.latestVersion);
              have.set(key, scalars);
            }
            return { key, experiment: d.experiment, scalars, error: null };
          } catch (e) {
            return { key, experiment: null, scalars: have.get(key) ?? null, error: (e as Error).message };
          }
        }),
      );
      if (!alive) return;
      setRows(next);
      if (next.some((r) => r.experiment && !TERMINAL.includes(r.experiment.status)))
        timer = window.setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [shown.join(',')]);

  // Tag -> one line per experiment (and per run inside its tb, when it has several).
  const tags = useMemo(() => {
    const byTag = new Map<string, Line[]>();
    const colors = new Map<string, number>();
    for (const r of rows ?? []) {
      for (const [tag, runs] of r.scalars?.tags ?? []) {
        const lines = byTag.get(tag) ?? [];
        for (const run of runs) {
          const label = run.run ? `${r.key}/${run.run}` : r.key;
          if (!colors.has(label)) colors.set(label, colors.size);
          lines.push({ label, color: colors.get(label) as number, points: run.points });
        }
        byTag.set(tag, lines);
      }
    }
    return [...byTag].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }, [rows]);

  const title = html`<p><a href="#/experiments">← Experiments</a></p><h1>Compare scalars</h1>`;
  if (!shown.length)
    return html`${title}<p class="muted">No experiments chosen: tick them in the list and press "Compare scalars".</p>`;
  if (!rows) return html`${title}<p class="muted">Loading ${shown.join(', ')}…</p>`;
  return html`<section>
    ${title}
    ${keys.length > shown.length ? html`<p class="muted">The first ${MAX_COMPARED} of ${keys.length} experiments are compared.</p>` : null}
    <table class="list" data-testid="compared">
      <thead><tr><th scope="col">Experiment</th><th scope="col">Status</th><th scope="col">Scalars</th></tr></thead>
      <tbody>${rows.map(
        (r) => html`<tr key=${r.key}>
          <td><a href=${href(['e', r.key])}>${r.key}</a></td>
          <td>${r.experiment ? html`<${StatusBadge} status=${r.experiment.status} />` : '—'}</td>
          <td>${r.error ? html`<span class="error">${r.error}</span>` : r.scalars ? summary(r.scalars) : 'no tb artifact'}
            <${Warnings} warnings=${r.scalars?.warnings ?? []} label=${r.key} /></td>
        </tr>`,
      )}</tbody>
    </table>
    ${tags.length ? html`<${ScalarGrid} tags=${tags} lib=${lib} />` : html`<p class="muted">No scalars in these experiments.</p>`}
  </section>`;
}
