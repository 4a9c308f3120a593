/** JSX-like templates without a compile step (htm bound to preact's h). */
export { html } from 'htm/preact';
