import { type CheckpointReport, checkpointReport } from '@studio-lite/functions/contract/pure';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { VirtualList } from '../components/virtual-list.ts';
import { bytes } from '../format.ts';
import { html } from '../html.ts';
import type { Artifact, FileEntry, Manifest } from '../types.ts';
import { buildTree, type DiffRow, diffManifests, type TreeRow, visibleRows } from './file-tree.ts';
import { FilePreview } from './preview.ts';

type VersionBody = { version: { version: number; files: number; bytes: number; manifest: Manifest } };

const versionPath = (key: string, tag: string, v: number) =>
  `/v1/experiments/${seg(key)}/artifacts/${seg(tag)}/versions/${v}`;

/** One version: its file tree with sizes, a diff against another version, previews, the modeldir checkpoint count. */
export function VersionView(props: { expKey: string; artifact: Artifact; version: number }) {
  const { expKey, artifact, version } = props;
  const [m, setM] = useState<Manifest | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<Set<string> | 'all'>(new Set());
  const [file, setFile] = useState<FileEntry | null>(null);
  const [against, setAgainst] = useState<number | null>(null);
  const [diff, setDiff] = useState<DiffRow[] | null>(null);
  const [ckpts, setCkpts] = useState<CheckpointReport | null>(null);

  useEffect(() => {
    api<VersionBody>('GET', versionPath(expKey, artifact.tag, version)).then(
      (r) => setM(r.version.manifest),
      (e: Error) => setError(e.message),
    );
  }, [expKey, artifact.tag, version]);
  useEffect(() => {
    if (against === null || !m) return setDiff(null);
    void api<VersionBody>('GET', versionPath(expKey, artifact.tag, against)).then(
      (r) => setDiff(diffManifests(r.version.manifest, m)),
      (e: Error) => setError(e.message),
    );
  }, [against, m]);
  useEffect(() => {
    // modeldir: its checkpoints, each marked new or changed against the version before (core of Studio's analysis).
    if (artifact.tag !== 'modeldir' || !m) return setCkpts(null);
    // The version before in the list (numbers have gaps once retention deleted some).
    const earlier = artifact.versions.map((v) => v.version).filter((v) => v < version);
    const prev = earlier.length ? Math.max(...earlier) : null;
    if (prev === null) return setCkpts(checkpointReport(m, null));
    void api<VersionBody>('GET', versionPath(expKey, artifact.tag, prev)).then(
      (r) => setCkpts(checkpointReport(m, r.version.manifest)),
      () => setCkpts(checkpointReport(m, null)),
    );
  }, [m]);
  const tree = useMemo(() => (m ? buildTree(m) : null), [m]);
  const rows = useMemo(() => (tree ? visibleRows(tree, expanded) : []), [tree, expanded]);

  if (error) return html`<p role="alert" class="error">${error}</p>`;
  if (!m) return html`<p class="muted">Loading ${artifact.tag}@${version}…</p>`;
  const toggle = (r: TreeRow) => {
    if (!r.dir) return r.entry && setFile(r.entry);
    const next = new Set(expanded === 'all' ? rows.filter((x) => x.dir).map((x) => x.path) : expanded);
    if (next.has(r.path)) next.delete(r.path);
    else next.add(r.path);
    setExpanded(next);
  };
  const others = artifact.versions.filter((v) => v.version !== version);
  return html`<section class="version" aria-label=${`${artifact.tag} version ${version}`}>
    <h3>${artifact.tag}@${version}: ${m.files.length} files, ${bytes(m.files.reduce((n, f) => n + f.size, 0))}${
      ckpts ? html`, <span data-testid="checkpoints">${ckpts.count} checkpoints</span>` : null
    }</h3>
    ${ckpts?.count ? html`<${CheckpointList} report=${ckpts} />` : null}
    <div class="toolbar">
      <button class="small" onClick=${() => setExpanded('all')}>Expand all</button>
      <button class="small" onClick=${() => setExpanded(new Set())}>Collapse all</button>
      ${
        others.length
          ? html`<label>Compare with
              <select data-testid="diff-against" onChange=${(e: Event) => {
                const v = (e.target as HTMLSelectElement).value;
                setAgainst(v ? Number(v) : null);
              }}>
                <option value="">—</option>
                ${others.map((v) => html`<option value=${v.version}>v${v.version}</option>`)}
              </select></label>`
          : null
      }
    </div>
    ${diff ? html`<${DiffList} rows=${diff} base=${against} head=${version} />` : null}
    <div class="split">
      <${VirtualList}
        items=${rows}
        rowHeight=${26}
        height=${420}
        label="Files"
        testid="file-tree"
        row=${(
          r: TreeRow,
        ) => html`<button class="tree-row" style=${{ paddingLeft: `${0.5 + r.depth * 1.2}rem` }} onClick=${() => toggle(r)} aria-expanded=${r.dir ? (expanded === 'all' || expanded.has(r.path) ? 'true' : 'false') : undefined}>
          <span class="name">${r.dir ? (expanded === 'all' || expanded.has(r.path) ? '▾ ' : '▸ ') : ''}${r.name}${r.dir ? '/' : ''}${r.link ? ` → ${r.link}` : ''}</span>
          <span class="size">${r.dir ? `${r.files} files, ` : ''}${bytes(r.size)}</span>
        </button>`}
      />
      <div class="preview-pane">${file ? html`<${FilePreview} key=${file.path} expKey=${expKey} tag=${artifact.tag} version=${version} file=${file} />` : html`<p class="muted">Select a file to preview it.</p>`}</div>
    </div>
  </section>`;
}

function CheckpointList(props: { report: CheckpointReport }) {
  const r = props.report;
  const shown = r.checkpoints.slice(0, 200);
  return html`<details class="checkpoints" data-testid="checkpoint-list" open=${r.count <= 20}>
    <summary>${r.count} checkpoints, ${bytes(r.bytes)}; ${r.fresh} new or changed since the previous version</summary>
    <table>
      <thead><tr><th>Checkpoint</th><th>Kind</th><th>Files</th><th>Size</th><th></th></tr></thead>
      <tbody>${shown.map(
        (c) =>
          html`<tr><td><code>${c.name}</code></td><td>${c.kind}</td><td>${c.files}</td><td>${bytes(c.bytes)}</td><td>${c.change === 'same' ? '' : html`<span class=${`badge ${c.change}`}>${c.change}</span>`}</td></tr>`,
      )}</tbody>
    </table>
    ${r.count > shown.length ? html`<p class="muted">… ${r.count - shown.length} more (studio-lite show --json)</p>` : null}
  </details>`;
}

function DiffList(props: { rows: DiffRow[]; base: number; head: number }) {
  const count = (c: DiffRow['change']) => props.rows.filter((r) => r.change === c).length;
  return html`<div class="diff" data-testid="diff">
    <p>v${props.base} → v${props.head}: ${count('added')} added, ${count('removed')} removed, ${count('changed')} changed</p>
    ${
      props.rows.length
        ? html`<${VirtualList} items=${props.rows} rowHeight=${24} height=${Math.min(240, props.rows.length * 24 + 4)} label="Changed files"
            row=${(r: DiffRow) => html`<div class=${`diff-row d-${r.change}`}><span class="change">${r.change}</span><span class="name">${r.path}</span><span class="size">${r.before === null ? '' : bytes(r.before)}${r.before !== null && r.after !== null ? ' → ' : ''}${r.after === null ? '' : bytes(r.after)}</span></div>`} />`
        : null
    }
  </div>`;
}
