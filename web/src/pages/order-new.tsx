// Placing an order with several items for one customer. Prices are typed as amounts ("12.50")
// and sent as integer minor units; the running total is computed the same way.

import { useState } from "preact/hooks";
import { getCustomer, placeOrder } from "../api/customers";
import type { NewOrderItem } from "../api/types";
import { ErrorNote, Loading } from "../components/feedback";
import { formatMoney, parseMoney } from "../format";
import { useAction, useLoad, useSession } from "../hooks";
import { navigate } from "../router";
import { SignInFirst } from "./sign-in";

export const CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY"];

interface ItemRow {
  key: number;
  sku: string;
  name: string;
  price: string;
  quantity: string;
}

let nextKey = 1;
const emptyRow = (): ItemRow => ({ key: nextKey++, sku: "", name: "", price: "", quantity: "1" });

/** The rows as API items, or the first problem in words a person would use. */
export function toItems(rows: ItemRow[], currency: string): NewOrderItem[] | string {
  const items: NewOrderItem[] = [];
  for (const [i, row] of rows.entries()) {
    const n = i + 1;
    if (!row.sku.trim()) return `Item ${n} needs a product code.`;
    if (!row.name.trim()) return `Item ${n} needs a name.`;
    const price = parseMoney(row.price, currency);
    if (price === null) return `Item ${n}: "${row.price}" is not a price in ${currency}.`;
    const quantity = Number(row.quantity);
    if (!Number.isInteger(quantity) || quantity < 1) return `Item ${n}: the quantity must be a whole number of at least 1.`;
    items.push({ sku: row.sku.trim(), name: row.name.trim(), unit_price_minor: price, quantity });
  }
  return items.length ? items : "An order needs at least one item.";
}

export function NewOrderPage({ customerId }: { customerId: string }) {
  const session = useSession();
  const customer = useLoad((signal) => getCustomer(customerId, signal), [customerId]);
  const action = useAction();
  const [currency, setCurrency] = useState("EUR");
  const [rows, setRows] = useState<ItemRow[]>(() => [emptyRow()]);
  const [problem, setProblem] = useState<string | null>(null);

  if (!session) return <SignInFirst what="place an order" next={`/customers/${customerId}/orders/new`} />;
  if (!customer.data) return customer.error ? <ErrorNote error={customer.error} /> : <Loading />;

  const update = (key: number, field: keyof Omit<ItemRow, "key">) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement).value;
    setRows(rows.map((r) => (r.key === key ? { ...r, [field]: value } : r)));
  };
  const total = rows.reduce((sum, r) => sum + (parseMoney(r.price, currency) ?? 0) * (Number(r.quantity) || 0), 0);

  const submit = (event: Event) => {
    event.preventDefault();
    const items = toItems(rows, currency);
    if (typeof items === "string") return setProblem(items);
    setProblem(null);
    void action.run(async () => {
      const reply = await placeOrder(customerId, currency, items);
      navigate(`/orders/${reply.aggregate_id}`);
    });
  };

  return (
    <section>
      <p class="crumbs">
        <a href={`/customers/${customerId}`}>← {customer.data.name}</a>
      </p>
      <h1>New order for {customer.data.name}</h1>
      <form class="stack card" onSubmit={submit} noValidate>
        <label class="inline-field">
          Currency
          <select name="currency" value={currency} onChange={(e) => setCurrency((e.currentTarget as HTMLSelectElement).value)}>
            {CURRENCIES.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <fieldset class="items">
          <legend>Items</legend>
          {rows.map((row, i) => (
            <div class="item-row" key={row.key} data-testid="item-row">
              <label>
                Product code
                <input name="sku" value={row.sku} onInput={update(row.key, "sku")} maxLength={64} />
              </label>
              <label class="grow">
                Name
                <input name="name" value={row.name} onInput={update(row.key, "name")} maxLength={200} />
              </label>
              <label>
                Unit price
                <input name="price" inputMode="decimal" value={row.price} onInput={update(row.key, "price")} placeholder="0.00" />
              </label>
              <label>
                Quantity
                <input name="quantity" type="number" min="1" step="1" value={row.quantity} onInput={update(row.key, "quantity")} class="narrow" />
              </label>
              <button
                type="button"
                class="link danger"
                aria-label={`Remove item ${i + 1}`}
                disabled={rows.length === 1}
                onClick={() => setRows(rows.filter((r) => r.key !== row.key))}
              >
                Remove
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setRows([...rows, emptyRow()])} disabled={rows.length >= 100}>
            + Add an item
          </button>
        </fieldset>
        <p class="total">
          Total: <strong data-testid="order-total">{formatMoney(total, currency)}</strong>
        </p>
        {problem && (
          <div class="note error" role="alert">
            {problem}
          </div>
        )}
        <ErrorNote error={action.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            {action.busy ? "Placing…" : "Place order"}
          </button>
          <a class="button" href={`/customers/${customerId}`}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
