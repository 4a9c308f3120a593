import { useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { html } from '../html.ts';
import type { Session } from '../session.ts';
import type { Experiment } from '../types.ts';

/**
 * Stop / kill (queued runs, editors) and delete (its owner if editor, or an admin): shown only when the API would
 * allow them; the API checks again.
 */
export function ExperimentActions(props: { exp: Experiment; hasJob: boolean; session: Session; onChange: () => void }) {
  const { exp, session } = props;
  const [msg, setMsg] = useState<string | null>(null);
  const live = exp.status === 'running' || exp.status === 'queued';
  const editor = session.role === 'editor' || session.role === 'admin';
  const canDelete = session.role === 'admin' || (session.role === 'editor' && exp.owner === session.userId);
  const act = async (what: string, f: () => Promise<unknown>) => {
    setMsg(null);
    try {
      await f();
      setMsg(`${what}: done`);
      props.onChange();
    } catch (err) {
      setMsg(`${what}: ${(err as Error).message}`);
    }
  };
  const path = `/v1/experiments/${seg(exp.key)}`;
  return html`<div class="actions">
    ${
      editor && live && props.hasJob
        ? html`<button onClick=${() => act('stop', () => api('POST', `${path}/stop`, { mode: 'stop' }))}>Stop</button>
          <button onClick=${() => act('kill', () => api('POST', `${path}/stop`, { mode: 'kill' }))}>Kill</button>`
        : null
    }
    ${
      canDelete
        ? html`<button class="danger" data-testid="delete" onClick=${() => {
            if (!confirm(`Delete ${exp.key} with its artifacts and versions?`)) return;
            void act('delete', async () => {
              await api('DELETE', `${path}${live ? '?force=true' : ''}`);
              location.hash = '#/experiments';
            });
          }}>Delete</button>`
        : null
    }
    ${msg ? html`<span role="status">${msg}</span>` : null}
  </div>`;
}
