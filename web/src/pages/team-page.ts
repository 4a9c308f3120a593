import { useEffect, useState } from 'preact/hooks';
import { api, seg } from '../api.ts';
import { time } from '../format.ts';
import { html } from '../html.ts';
import type { Session } from '../session.ts';

type RetentionModule = typeof import('./retention.ts');

/** The retention section, a chunk of its own (the first page does not carry it). */
function Retention(props: { session: Session }) {
  const [mod, setMod] = useState<RetentionModule | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    import('./retention.ts').then(
      (m) => setMod(() => m),
      (e: Error) => setError(e.message),
    );
  }, []);
  if (error) return html`<p role="alert" class="error">${error}</p>`;
  return mod ? html`<${mod.RetentionSection} session=${props.session} />` : null;
}

interface Member {
  userId: string;
  role: string;
  name: string | null;
  email: string | null;
}
interface Token {
  id: string;
  kind: string;
  scopes: string[];
  label?: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}
interface Audit {
  id: string;
  at: string;
  actor: { userId: string; kind: string };
  action: string;
  target: string;
}

/**
 * Members and roles and the retention policies (retention.ts: admins edit them there) for everyone; tokens (the
 * caller's own) and the audit log for admins.
 */
export function TeamPage(props: { session: Session }) {
  const s = props.session;
  const admin = s.role === 'admin';
  const [members, setMembers] = useState<Member[] | null>(null);
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [audit, setAudit] = useState<Audit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const fail = (e: Error) => setError(e.message);
    api<{ members: Member[] }>('GET', `/v1/teams/${seg(s.team)}/members`).then((r) => setMembers(r.members), fail);
    if (admin) {
      api<{ tokens: Token[] }>('GET', '/v1/tokens').then((r) => setTokens(r.tokens), fail);
      api<{ entries: Audit[] }>('GET', '/v1/audit?limit=200').then((r) => setAudit(r.entries), fail);
    }
  }, [s.team]);
  return html`<section>
    <h1>Team ${s.team}</h1>
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <h2>Members</h2>
    ${
      members
        ? html`<table class="list" data-testid="members"><thead><tr><th scope="col">User</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th></tr></thead>
      <tbody>${members.map((m) => html`<tr><td>${m.userId}</td><td>${m.name ?? '—'}</td><td>${m.email ?? '—'}</td><td>${m.role}</td></tr>`)}</tbody></table>`
        : html`<p class="muted">Loading…</p>`
    }
    <${Retention} session=${s} />
    ${
      admin
        ? html`<h2>Your tokens</h2>
          ${
            tokens
              ? html`<table class="list" data-testid="tokens"><thead><tr><th scope="col">Id</th><th scope="col">Kind</th><th scope="col">Scopes</th><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Revoked</th></tr></thead>
            <tbody>${tokens.map((t) => html`<tr><td><code>${t.id.slice(0, 8)}</code></td><td>${t.kind}</td><td>${t.scopes.join(' ')}</td><td>${t.label ?? ''}</td><td>${time(t.createdAt)}</td><td>${time(t.expiresAt)}</td><td>${time(t.revokedAt)}</td></tr>`)}</tbody></table>`
              : null
          }
          <h2>Audit log</h2>
          ${
            audit
              ? html`<table class="list" data-testid="audit"><thead><tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th></tr></thead>
            <tbody>${audit.map((a) => html`<tr><td>${time(a.at)}</td><td>${a.actor.userId} (${a.actor.kind})</td><td>${a.action}</td><td>${a.target}</td></tr>`)}</tbody></table>`
              : null
          }`
        : html`<p class="muted">Tokens and the audit log are shown to team admins.</p>`
    }
  </section>`;
}
