import { html } from '../html.ts';

export function StatusBadge(props: { status: string }) {
  return html`<span class=${`badge s-${props.status}`}>${props.status}</span>`;
}
