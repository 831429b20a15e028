// The customers list, by name, filtered by segment and region, a page at a time; it reloads when
// any customer changes.

import { useRef } from "preact/hooks";
import { listCustomers } from "../api/customers";
import { ErrorNote, Empty, LiveBadge, Loading } from "../components/feedback";
import { PagerControls, usePager } from "../components/pager";
import { label } from "../format";
import { latestVersions, useLiveEvents, useLoad, useSession } from "../hooks";
import { navigate } from "../router";
import { REGIONS, SEGMENTS } from "./customer-form";

export function CustomersPage({ query }: { query: URLSearchParams }) {
  const session = useSession();
  const seen = useRef<Array<[string, number]>>([]);
  const segment = query.get("segment") ?? "";
  const region = query.get("region") ?? "";
  const filterKey = `${segment}|${region}`;
  const pager = usePager(filterKey);

  const customers = useLoad(
    (signal) => {
      const announced = seen.current;
      seen.current = [];
      return listCustomers({ segment, region, pageSize: 10, pageToken: pager.token || undefined }, signal, announced);
    },
    [filterKey, pager.token],
  );
  const live = useLiveEvents({ aggregateType: "customer" }, (events) => {
    seen.current = events ? latestVersions(events) : [];
    customers.reload();
  });

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const params = new URLSearchParams();
    for (const key of ["segment", "region"]) {
      const value = String(form.get(key) ?? "").trim();
      if (value) params.set(key, value);
    }
    navigate(params.size ? `/customers?${params}` : "/customers");
  };

  return (
    <section>
      <div class="title-row">
        <h1>
          Customers <LiveBadge connected={live} />
        </h1>
        {session && (
          <a class="button primary" href="/customers/new">
            Register a customer
          </a>
        )}
      </div>
      <form class="filters" onSubmit={apply} key={filterKey} aria-label="Filter customers">
        <label>
          Segment
          <select name="segment" defaultValue={segment}>
            <option value="">any</option>
            {SEGMENTS.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Region
          <input name="region" defaultValue={region} list="regions" placeholder="any" />
          <datalist id="regions">
            {REGIONS.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </label>
        <div class="actions">
          <button type="submit">Apply</button>
        </div>
      </form>
      <ErrorNote error={customers.error} onRetry={() => customers.reload()} />
      {!customers.data && !customers.error && <Loading what="Loading customers" />}
      {customers.data &&
        (customers.data.customers.length === 0 ? (
          <Empty>No customers yet.</Empty>
        ) : (
          <div class="table-wrap">
            <table data-testid="customer-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th class="hide-narrow">Email</th>
                  <th>Segment</th>
                  <th>Region</th>
                </tr>
              </thead>
              <tbody>
                {customers.data.customers.map((c) => (
                  <tr key={c.customer_id}>
                    <td>
                      <a href={`/customers/${c.customer_id}`}>{c.name}</a>
                    </td>
                    <td class="hide-narrow">{c.email}</td>
                    <td>{label(c.segment)}</td>
                    <td>{label(c.region)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {customers.data && (
        <PagerControls
          pager={pager}
          nextToken={customers.data.next_page_token}
          total={customers.data.total_size}
          shown={customers.data.customers.length}
        />
      )}
    </section>
  );
}
