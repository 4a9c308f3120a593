import Papa from 'papaparse';
import { useEffect, useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { bytes } from '../format.ts';
import { html } from '../html.ts';
import type { FileEntry } from '../types.ts';

const MAX_PREVIEW = 256 * 1024;
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg)$/i;

type Signed = { url: string; headers: Record<string, string> };
type DownloadAnswer = {
  blobs: { sha256: string; request: Signed }[];
  packs?: { request: Signed; members: { sha256: string; size: number; offset: number }[] }[];
};

/**
 * Where a file's bytes are: its own signed URL, or (a small file stored in a pack) its pack's signed URL with the
 * `Range` of its bytes (the same rule as blobRequest in the contract). Valid for the backend's URL lifetime.
 */
export interface FileSource {
  url: string;
  headers: Record<string, string>;
  /** Set for a packed file: where its bytes start in the answer (a signed range of its pack). */
  offset?: number;
}

export async function fileSource(expKey: string, tag: string, version: number, sha256: string): Promise<FileSource> {
  const src = (await fileSources(expKey, tag, version, [sha256])).get(sha256);
  if (!src) throw new Error('no download URL');
  return src;
}

/** fileSource for several files of one version in one request (a pack's members share its signed range). */
export async function fileSources(
  expKey: string,
  tag: string,
  version: number,
  sha256s: string[],
): Promise<Map<string, FileSource>> {
  const r = await api<DownloadAnswer>(
    'POST',
    `/v1/experiments/${seg(expKey)}/artifacts/${seg(tag)}/versions/${version}/downloads`,
    { sha256s: [...new Set(sha256s)] },
  );
  const out = new Map<string, FileSource>();
  for (const b of r.blobs) out.set(b.sha256, { url: b.request.url, headers: b.request.headers });
  for (const p of r.packs ?? []) {
    // Signed for exactly its members' bytes (a signed Range header on GCS, bound into the URL locally).
    const first = Math.min(...p.members.map((x) => x.offset));
    for (const m of p.members)
      if (!out.has(m.sha256))
        out.set(m.sha256, { url: p.request.url, headers: p.request.headers, offset: m.offset - first });
  }
  return out;
}

/** The whole file (packed files are at most 256 KiB). */
export async function fetchFile(src: FileSource, size: number): Promise<Uint8Array> {
  if (size === 0) return new Uint8Array(0);
  const res = await fetch(src.url, { headers: src.headers });
  if (!res.ok) throw new Error(`download failed: HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return src.offset !== undefined ? body.subarray(src.offset, src.offset + size) : body;
}

/**
 * A URL a link or an <img> can use: the signed URL of a file of its own; for a packed file (no header can ride on a
 * link) an object URL of its bytes, fetched once.
 */
export async function linkUrl(src: FileSource, size: number): Promise<string> {
  if (src.offset === undefined) return src.url;
  return URL.createObjectURL(new Blob([(await fetchFile(src, size)) as Uint8Array<ArrayBuffer>]));
}

/** The first bytes of a file (previews never read more than MAX_PREVIEW). */
export async function head(
  src: FileSource,
  size: number,
  max = MAX_PREVIEW,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  if (src.offset !== undefined) {
    // Packed: at most 256 KiB by construction, fetched whole.
    const all = await fetchFile(src, size);
    return { bytes: all.subarray(0, max), truncated: all.length > max };
  }
  const res = await fetch(src.url, { headers: src.headers });
  if (!res.ok || !res.body) throw new Error(`download failed: HTTP ${res.status}`);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  while (n < max) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const truncated = n >= max;
  if (truncated) await reader.cancel();
  const out = new Uint8Array(Math.min(n, max));
  let at = 0;
  for (const p of parts) {
    out.set(p.subarray(0, out.length - at), at);
    at += p.length;
    if (at >= out.length) break;
  }
  return { bytes: out, truncated };
}

export function FilePreview(props: { expKey: string; tag: string; version: number; file: FileEntry }) {
  const f = props.file;
  const [url, setUrl] = useState<string | null>(null);
  const [body, setBody] = useState<{ text: string | null; truncated: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    void (async () => {
      try {
        const src = await fileSource(props.expKey, props.tag, props.version, f.sha256);
        const u = await linkUrl(src, f.size);
        if (!alive) return;
        setUrl(u);
        if (IMAGE.test(f.path)) return;
        const h = await head(src, f.size);
        // Binary content (a NUL in the first 8 KiB, or not UTF-8) gets no text preview.
        let text: string | null = null;
        if (!h.bytes.subarray(0, 8192).includes(0)) {
          try {
            text = new TextDecoder('utf-8', { fatal: !h.truncated }).decode(h.bytes);
          } catch {
            text = null;
          }
        }
        if (alive) setBody({ text, truncated: h.truncated });
      } catch (e) {
        if (alive) setError((e as Error).message);
      }
    })();
    return () => {
      alive = false;
    };
  }, [f.sha256]);
  const title = html`<h4><span class="name">${f.path}</span> <span class="muted">${bytes(f.size)}, mode ${(f.mode & 0o777).toString(8)}</span>
    ${url ? html` <a href=${url} download=${f.path.split('/').pop()}>download</a>` : null}</h4>`;
  if (error) return html`${title}<p class="error">${error}</p>`;
  if (url && IMAGE.test(f.path))
    return html`${title}<img class="preview-img" src=${url} alt=${`preview of ${f.path}`} data-testid="preview-image" />`;
  if (!body) return html`${title}<p class="muted">Loading…</p>`;
  if (body.text === null) return html`${title}<p class="muted">Binary file: no preview.</p>`;
  const cut = body.truncated ? html`<p class="muted">First ${bytes(MAX_PREVIEW)} shown.</p>` : null;
  if (/\.json$/i.test(f.path) && !body.truncated) {
    try {
      return html`${title}<pre class="preview" data-testid="preview-json">${JSON.stringify(JSON.parse(body.text), null, 2)}</pre>`;
    } catch {
      // not valid JSON: shown as text below
    }
  }
  if (/\.(csv|tsv)$/i.test(f.path)) {
    const parsed = Papa.parse<string[]>(body.text, { skipEmptyLines: true, preview: 201 });
    const [header = [], ...rest] = parsed.data;
    return html`${title}${cut}<div class="table-wrap"><table class="list" data-testid="preview-csv">
      <thead><tr>${header.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${rest.slice(0, 200).map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
    </table></div>${rest.length > 200 ? html`<p class="muted">First 200 rows shown.</p>` : null}`;
  }
  return html`${title}${cut}<pre class="preview" data-testid="preview-text">${body.text}</pre>`;
}
