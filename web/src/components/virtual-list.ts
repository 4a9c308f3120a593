import {
  elementScroll,
  observeElementOffset,
  observeElementRect,
  Virtualizer,
  type VirtualizerOptions,
} from '@tanstack/virtual-core';
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from '../html.ts';

/**
 * Fixed-height rows of a long list (20,000 files): only the rows in view (plus overscan) are in the DOM, laid out
 * by @tanstack/virtual-core.
 */
export function VirtualList<T>(props: {
  items: T[];
  rowHeight: number;
  height: number;
  label: string;
  testid?: string;
  row: (item: T, index: number) => ComponentChildren;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [, redraw] = useState(0);
  const options: VirtualizerOptions<HTMLDivElement, Element> = {
    count: props.items.length,
    getScrollElement: () => ref.current,
    estimateSize: () => props.rowHeight,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    overscan: 12,
    onChange: () => redraw((n) => n + 1),
  };
  const v = useRef<Virtualizer<HTMLDivElement, Element>>(null as unknown as Virtualizer<HTMLDivElement, Element>);
  if (!v.current) v.current = new Virtualizer(options);
  v.current.setOptions(options);
  useLayoutEffect(() => v.current._didMount(), []);
  useLayoutEffect(() => {
    v.current._willUpdate();
  });
  const virtual = v.current;
  return html`<div ref=${ref} class="vlist" style=${{ height: `${props.height}px` }} role="list" aria-label=${props.label} data-testid=${props.testid} tabindex="0">
    <div style=${{ height: `${virtual.getTotalSize()}px`, position: 'relative' }}>
      ${virtual.getVirtualItems().map(
        (
          it,
        ) => html`<div role="listitem" key=${it.key} class="vrow" style=${{ height: `${props.rowHeight}px`, transform: `translateY(${it.start}px)` }}>
          ${props.row(props.items[it.index] as T, it.index)}
        </div>`,
      )}
    </div>
  </div>`;
}
