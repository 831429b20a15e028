// Any JSON value (an aggregate's state, an event's data) as nested lists a person can read:
// field names in words, empty lists said as such, nothing shown as raw JSON.

import { humanField } from "../errors";

export function ValueView({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <span class="muted">none</span>;
  if (typeof value === "boolean") return <span>{value ? "yes" : "no"}</span>;
  if (typeof value === "number" || typeof value === "string") return <span class="value">{String(value)}</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">empty</span>;
    return (
      <ol class="value-list">
        {value.map((v, i) => (
          <li key={i}>
            <ValueView value={v} />
          </li>
        ))}
      </ol>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <span class="muted">empty</span>;
  return (
    <dl class="value-map">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{humanField(k)}</dt>
          <dd>
            <ValueView value={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}
