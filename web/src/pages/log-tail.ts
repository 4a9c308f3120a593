import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, seg } from '../api.ts';
import { html } from '../html.ts';
import type { Manifest } from '../types.ts';
import { fetchFile, fileSource } from './preview.ts';

const SHOWN = 200_000;
const POLL_MS = 1500;

/**
 * The run's `output` artifact: each new version while the run is live (follow), the captured output after it ended.
 * Pause stops reading and scrolling; the end of a long output is shown.
 */
export function LogTail(props: { expKey: string; running: boolean }) {
  const [text, setText] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const seen = useRef(0);
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    // Paused: no reads while the run is live; once it ended, its final output is shown either way.
    if (!follow && props.running && text !== null) return;
    let alive = true;
    let timer: number | undefined;
    const poll = async () => {
      try {
        const { version } = await api<{ version: { version: number; manifest: Manifest } }>(
          'GET',
          `/v1/experiments/${seg(props.expKey)}/artifacts/output/versions/latest`,
        );
        const file = version.manifest.files[0];
        if (version.version !== seen.current) {
          seen.current = version.version;
          let body = '';
          if (file && file.size > 0) {
            const src = await fileSource(props.expKey, 'output', version.version, file.sha256);
            body = new TextDecoder().decode(await fetchFile(src, file.size));
          }
          if (alive) setText(body.length > SHOWN ? body.slice(-SHOWN) : body);
        }
        setError(null);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) setError((e as Error).message);
        else if (alive && text === null) setText('');
      }
      if (alive && props.running && follow) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [props.expKey, props.running, follow]);

  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow]);

  return html`<div class="log">
    <div class="toolbar">
      ${props.running ? html`<button class="small" aria-pressed=${follow ? 'false' : 'true'} onClick=${() => setFollow(!follow)}>${follow ? 'Pause' : 'Follow'}</button>` : null}
      <span class="muted small">${props.running ? (follow ? 'following the live output' : 'paused') : 'captured output'}</span>
    </div>
    ${error ? html`<p class="error">${error}</p>` : null}
    <pre ref=${pre} class="log-text" data-testid="log" tabindex="0" aria-label="Output">${text === null ? 'Loading…' : text || (props.running ? '(no output yet)' : '(no output)')}</pre>
  </div>`;
}
