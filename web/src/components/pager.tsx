// Token paging: the API hands out a `next_page_token`; going back means remembering the tokens of
// the pages before, which this keeps as a stack.

import { useState } from "preact/hooks";

export interface Pager {
  /** The token of the page to show ("" for the first). */
  token: string;
  /** 1-based page number. */
  page: number;
  next: (token: string) => void;
  previous: () => void;
  reset: () => void;
}

/** Pages of one list; a new `resetKey` (another filter) starts again on page 1. */
export function usePager(resetKey = ""): Pager {
  const [state, setState] = useState({ key: resetKey, stack: [""] });
  const stack = state.key === resetKey ? state.stack : [""];
  const setStack = (change: (s: string[]) => string[]) =>
    setState((s) => ({ key: resetKey, stack: change(s.key === resetKey ? s.stack : [""]) }));
  return {
    token: stack[stack.length - 1] ?? "",
    page: stack.length,
    next: (token) => setStack((s) => [...s, token]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack(() => [""]),
  };
}

export function PagerControls({ pager, nextToken, total, shown }: {
  pager: Pager;
  nextToken: string | undefined;
  total?: number;
  shown?: number;
}) {
  if (pager.page === 1 && !nextToken) {
    return total !== undefined ? <p class="muted pager-info">{total} in all</p> : null;
  }
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        ← Previous
      </button>
      <span class="muted">
        Page {pager.page}
        {total !== undefined && shown !== undefined ? ` · ${total} in all` : ""}
      </span>
      <button type="button" disabled={!nextToken} onClick={() => nextToken && pager.next(nextToken)}>
        Next →
      </button>
    </nav>
  );
}
