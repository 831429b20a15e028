// Reports over orders that are not cancelled: monthly sales by customer segment, the top
// customers, units bought per price group, and sales by region. Amounts are per currency and
// never added across currencies. The page reloads when orders or customers change.

import { useRef, useState } from "preact/hooks";
import * as reports from "../api/reports";
import type { MonthlySegmentSales, TopCustomer } from "../api/types";
import { HorizontalBars, StackedBars, StackedColumns } from "../components/charts";
import { ErrorNote, Empty, LiveBadge, Loading } from "../components/feedback";
import { formatMoney, formatMoneyShort, formatMonth, label, money } from "../format";
import { latestVersions, useLiveEvents, useLoad } from "../hooks";

interface ReportData {
  monthly: MonthlySegmentSales[];
  top: TopCustomer[];
  priceGroups: Awaited<ReturnType<typeof reports.itemsByPriceGroup>>;
  regions: Awaited<ReturnType<typeof reports.salesByRegion>>;
}

export function ReportsPage() {
  const [period, setPeriod] = useState<reports.Period>({});
  const [ranking, setRanking] = useState<"revenue" | "order_count">("revenue");
  const seen = useRef<Array<[string, number]>>([]);

  const data = useLoad<ReportData>(
    async (signal) => {
      const announced = seen.current;
      seen.current = [];
      await reports.reflectWrites(signal, announced);
      const [monthly, top, priceGroups, regions] = await Promise.all([
        reports.monthlySales(period, signal),
        reports.topCustomers(ranking, signal),
        reports.itemsByPriceGroup(signal),
        reports.salesByRegion(period, signal),
      ]);
      return { monthly, top, priceGroups, regions };
    },
    [period.fromMonth, period.toMonth, ranking],
  );
  const liveOrders = useLiveEvents({ aggregateType: "order" }, (events) => {
    seen.current = events ? latestVersions(events) : [];
    data.reload();
  });

  return (
    <section class="reports">
      <div class="title-row">
        <h1>
          Reports <LiveBadge connected={liveOrders} />
        </h1>
      </div>
      <p class="muted">Orders that are not cancelled, dated when placed (UTC). Amounts are never added across currencies.</p>
      <form class="filters" aria-label="Period" onSubmit={(e) => e.preventDefault()}>
        <label>
          From month
          <input
            type="month"
            value={period.fromMonth ?? ""}
            onChange={(e) => setPeriod({ ...period, fromMonth: (e.currentTarget as HTMLInputElement).value || undefined })}
          />
        </label>
        <label>
          To month
          <input
            type="month"
            value={period.toMonth ?? ""}
            onChange={(e) => setPeriod({ ...period, toMonth: (e.currentTarget as HTMLInputElement).value || undefined })}
          />
        </label>
      </form>
      <ErrorNote error={data.error} onRetry={() => data.reload()} />
      {!data.data && !data.error && <Loading what="Loading reports" />}
      {data.data && (
        <div class="report-grid">
          <MonthlySales rows={data.data.monthly} />
          <TopCustomers rows={data.data.top} ranking={ranking} onRanking={setRanking} />
          <PriceGroups rows={data.data.priceGroups} />
          <Regions rows={data.data.regions} />
        </div>
      )}
    </section>
  );
}

function currenciesOf(rows: Array<{ revenue: { currency: string } }>): string[] {
  return [...new Set(rows.map((r) => r.revenue.currency))].sort();
}

function CurrencyPicker({ currencies, value, onChange }: {
  currencies: string[];
  value: string;
  onChange: (c: string) => void;
}) {
  if (currencies.length < 2) return null;
  return (
    <label class="inline-field">
      Currency
      <select value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {currencies.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </select>
    </label>
  );
}

function MonthlySales({ rows }: { rows: MonthlySegmentSales[] }) {
  const currencies = currenciesOf(rows);
  const [picked, setPicked] = useState("");
  const currency = currencies.includes(picked) ? picked : (currencies[0] ?? "");
  const mine = rows.filter((r) => r.revenue.currency === currency);
  const months = [...new Set(mine.map((r) => r.month))].sort();
  const segments = [...new Set(mine.map((r) => r.segment))].sort();
  const revenue = (month: string, segment: string) =>
    mine.find((r) => r.month === month && r.segment === segment)?.revenue.amount_minor ?? 0;
  return (
    <article class="card report" data-testid="report-monthly">
      <h2>Monthly sales by segment</h2>
      <CurrencyPicker currencies={currencies} value={currency} onChange={setPicked} />
      {mine.length === 0 ? (
        <Empty>No sales in this period.</Empty>
      ) : (
        <StackedColumns
          title={`Revenue per month and segment in ${currency}`}
          data={{
            categories: months,
            keys: segments,
            value: revenue,
            formatCategory: formatMonth,
            formatValue: (v) => formatMoney(v, currency),
            formatTick: (v) => formatMoneyShort(v, currency),
            keyLabel: label,
          }}
        />
      )}
    </article>
  );
}

function TopCustomers({ rows, ranking, onRanking }: {
  rows: TopCustomer[];
  ranking: "revenue" | "order_count";
  onRanking: (r: "revenue" | "order_count") => void;
}) {
  return (
    <article class="card report" data-testid="report-top-customers">
      <h2>Top customers</h2>
      <div class="segmented" role="group" aria-label="Rank by">
        <button type="button" aria-pressed={ranking === "revenue"} onClick={() => onRanking("revenue")}>
          By revenue
        </button>
        <button type="button" aria-pressed={ranking === "order_count"} onClick={() => onRanking("order_count")}>
          By orders
        </button>
      </div>
      {rows.length === 0 ? (
        <Empty>No customers with orders yet.</Empty>
      ) : (
        <>
          <HorizontalBars
            title="Top customers"
            bars={rows.map((c) => ({
              id: `${c.customer_id}-${c.revenue.currency}`,
              label: c.name || "(unknown customer)",
              value: ranking === "revenue" ? c.revenue.amount_minor : c.order_count,
              valueLabel: ranking === "revenue" ? money(c.revenue) : `${c.order_count}`,
            }))}
          />
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>#</th>
                  <th>Customer</th>
                  <th class="num">Orders</th>
                  <th class="num">Revenue</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((c) => (
                  <tr key={`${c.customer_id}-${c.revenue.currency}`}>
                    <td>{c.rank}</td>
                    <td>
                      <a href={`/customers/${c.customer_id}`}>{c.name || "(unknown customer)"}</a>
                    </td>
                    <td class="num">{c.order_count}</td>
                    <td class="num">{money(c.revenue)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </article>
  );
}

const PRICE_GROUPS = ["cheap", "affordable", "expensive"];
const PRICE_GROUP_LABELS: Record<string, string> = {
  cheap: "Cheap (under 5.00)",
  affordable: "Affordable (5.00–50.00)",
  expensive: "Expensive (over 50.00)",
};

function PriceGroups({ rows }: { rows: ReportData["priceGroups"] }) {
  return (
    <article class="card report" data-testid="report-price-groups">
      <h2>Units bought by price group</h2>
      {rows.length === 0 ? (
        <Empty>No items bought yet.</Empty>
      ) : (
        <StackedBars
          title="Units per customer and price group"
          keys={PRICE_GROUPS}
          keyLabel={(k) => PRICE_GROUP_LABELS[k] ?? k}
          bars={rows.map((c) => ({
            id: c.customer_id,
            label: c.name || "(unknown customer)",
            parts: [
              ["cheap", c.cheap_units],
              ["affordable", c.affordable_units],
              ["expensive", c.expensive_units],
            ],
          }))}
        />
      )}
    </article>
  );
}

function Regions({ rows }: { rows: ReportData["regions"] }) {
  return (
    <article class="card report">
      <h2>Sales by region</h2>
      {rows.length === 0 ? (
        <Empty>No sales in this period.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Region</th>
                <th class="num">Customers</th>
                <th class="num">Orders</th>
                <th class="num">Revenue</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.region}-${r.revenue.currency}`}>
                  <td>{label(r.region)}</td>
                  <td class="num">{r.customer_count}</td>
                  <td class="num">{r.order_count}</td>
                  <td class="num">{money(r.revenue)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}
