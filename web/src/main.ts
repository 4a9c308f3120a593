import type { Role } from '@studio-lite/functions/contract';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, setTeam, useBearer } from './api.ts';
import { authConfig, exchangeCodeFromUrl, signOut } from './auth.ts';
import { html } from './html.ts';
import { ExperimentPage } from './pages/experiment-page.ts';
import { ExperimentsPage } from './pages/experiments-page.ts';
import { JobsPage } from './pages/jobs-page.ts';
import { ComparePage } from './pages/scalars.ts';
import { TeamPage } from './pages/team-page.ts';
import { href, useRoute } from './router.ts';
import type { Session } from './session.ts';

type Firebase = Awaited<ReturnType<typeof import('./firebase-auth.ts').startFirebase>>;

async function loadSession(): Promise<Session | null> {
  try {
    // Both at once: the first render waits for them.
    const [who, { teams }] = await Promise.all([
      api<{ principal: { userId: string; teams: Record<string, Role> }; team: string | null }>('GET', '/v1/whoami'),
      api<{ teams: Session['teams'] }>('GET', '/v1/teams'),
    ]);
    const saved = localStorage.getItem('studio-lite.team');
    const team = teams.find((t) => t.id === saved)?.id ?? who.team ?? teams[0]?.id;
    if (!team) return { userId: who.principal.userId, team: '', role: 'viewer', teams };
    setTeam(team);
    return { userId: who.principal.userId, team, role: who.principal.teams[team] ?? 'viewer', teams };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
}

function SignIn(props: { firebase: Firebase | null; error: string | null; onSignedIn: () => void }) {
  const [busy, setBusy] = useState(false);
  return html`<main class="signin">
    <h1>studio-lite</h1>
    ${props.error ? html`<p role="alert" class="error">${props.error}</p>` : null}
    ${
      props.firebase
        ? html`<button disabled=${busy} onClick=${async () => {
            setBusy(true);
            await props.firebase?.signIn().finally(() => setBusy(false));
            props.onSignedIn();
          }}>Sign in with Google</button>`
        : html`<p>Run <code>studio-lite ui</code> on this machine: it prints a one-time sign-in link.</p>`
    }
  </main>`;
}

function Shell(props: { session: Session; firebase: Firebase | null; onSignOut: () => void }) {
  const route = useRoute();
  const s = props.session;
  const [page = 'experiments', ...rest] = route.path;
  let body: unknown;
  if (page === 'e' && rest[0])
    body = html`<${ExperimentPage} key=${rest[0]} expKey=${rest[0]} session=${s} route=${route} />`;
  else if (page === 'compare') body = html`<${ComparePage} route=${route} />`;
  else if (page === 'jobs') body = html`<${JobsPage} session=${s} />`;
  else if (page === 'team') body = html`<${TeamPage} session=${s} />`;
  else body = html`<${ExperimentsPage} session=${s} route=${route} />`;
  const nav = (name: string, label: string) =>
    html`<a href=${href([name])} aria-current=${page === name || (name === 'experiments' && (page === 'e' || page === 'compare')) ? 'page' : undefined}>${label}</a>`;
  return html`<header class="top">
      <a class="brand" href="#/experiments">studio-lite</a>
      <nav aria-label="Main">${nav('experiments', 'Experiments')} ${nav('jobs', 'Jobs')} ${nav('team', 'Team')}</nav>
      <span class="spacer"></span>
      <label class="team-pick">Team
        <select value=${s.team} onChange=${(e: Event) => {
          localStorage.setItem('studio-lite.team', (e.target as HTMLSelectElement).value);
          location.reload();
        }}>
          ${s.teams.map((t) => html`<option value=${t.id}>${t.id}</option>`)}
        </select>
      </label>
      <span class="who" title="signed in as">${s.userId} · ${s.role}</span>
      <button class="link" onClick=${props.onSignOut}>Sign out</button>
    </header>
    <main>${body}</main>`;
}

function App() {
  const [state, setState] = useState<{
    session: Session | null;
    firebase: Firebase | null;
    error: string | null;
    ready: boolean;
  }>({ session: null, firebase: null, error: null, ready: false });
  const boot = async (error: string | null = null) => {
    let firebase: Firebase | null = state.firebase;
    const load = () =>
      loadSession().catch((err: Error) => {
        error = err.message;
        return null;
      });
    // The cookie session is tried while the sign-in configuration loads (one round trip less on the local host);
    // with Google sign-in the session is loaded again once the ID token is at hand.
    const [cfg, first] = await Promise.all([authConfig().catch(() => null), firebase ? null : load()]);
    let session = first;
    if (cfg && !firebase) {
      const { startFirebase } = await import('./firebase-auth.ts');
      firebase = await startFirebase(cfg);
      const fb = firebase;
      useBearer(() => fb.token());
      error = null;
      session = await load();
    } else if (firebase) session = await load();
    setState({ session, firebase, error, ready: true });
  };
  useEffect(() => {
    void exchangeCodeFromUrl().then((err) => boot(err));
  }, []);
  if (!state.ready) return html`<p class="muted">Loading…</p>`;
  if (!state.session)
    return html`<${SignIn} firebase=${state.firebase} error=${state.error} onSignedIn=${() => boot()} />`;
  return html`<${Shell}
    session=${state.session}
    firebase=${state.firebase}
    onSignOut=${async () => {
      await signOut();
      await state.firebase?.signOut();
      setState({ ...state, session: null, error: null });
    }}
  />`;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
