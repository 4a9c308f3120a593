import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { bytes, time } from '../format.ts';
import { html } from '../html.ts';
import { href } from '../router.ts';
import type { Artifact } from '../types.ts';

/** A version's tar.gz: the host signs a short-lived link (works in curl until it expires) and the browser follows it. */
function ArchiveButton(props: { expKey: string; tag: string; version: number }) {
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const get = async () => {
    try {
      const r = await api<{ url: string; expiresAt: string }>(
        'POST',
        `/v1/experiments/${seg(props.expKey)}/artifacts/${seg(props.tag)}/versions/${props.version}/archive`,
      );
      setLink(r);
      location.assign(r.url);
    } catch (e) {
      setErr((e as Error).message);
    }
  };
  return html`<span class="archive">
    <button class="small" onClick=${get} aria-label=${`Download ${props.tag} version ${props.version} as tar.gz`}>.tar.gz</button>
    ${link ? html` <a href=${link.url} data-testid="archive-link" title=${`valid until ${time(link.expiresAt)}`}>link</a>` : null}
    ${err ? html` <span class="error">${err}</span>` : null}
  </span>`;
}

export function ArtifactList(props: {
  expKey: string;
  artifacts: Artifact[];
  selected: { tag: string; version: number } | null;
}) {
  if (!props.artifacts.length) return html`<p class="muted">No artifacts yet.</p>`;
  return html`<table class="list" data-testid="artifacts">
    <thead><tr><th scope="col">Artifact</th><th scope="col">Version</th><th scope="col">Files</th><th scope="col">Size</th><th scope="col">Created</th><th scope="col">Download</th></tr></thead>
    <tbody>
      ${props.artifacts.flatMap((a) =>
        [...a.versions].reverse().map((v, i) => {
          const current = props.selected?.tag === a.tag && props.selected.version === v.version;
          return html`<tr key=${`${a.tag}@${v.version}`} class=${current ? 'current' : ''}>
            <td>${i === 0 ? html`<strong>${a.tag}</strong>${a.mutable ? '' : ' (immutable)'}` : ''}</td>
            <td><a href=${href(['e', props.expKey], { a: a.tag, v: String(v.version) })} aria-current=${current ? 'true' : undefined}>v${v.version}</a>${(
              a.aliases ?? []
            )
              .filter((x) => x.version === v.version)
              .map((x) => html` <span class="alias" data-testid="alias">@${x.name}</span>`)}</td>
            <td>${v.files}</td>
            <td>${bytes(v.bytes)}</td>
            <td>${time(v.createdAt)}</td>
            <td><${ArchiveButton} expKey=${props.expKey} tag=${a.tag} version=${v.version} /></td>
          </tr>`;
        }),
      )}
    </tbody>
  </table>`;
}
