// One order: its items and total, where it is in its life (placed → shipped → delivered, or
// cancelled), and only the next steps the status allows.

import { useState } from "preact/hooks";
import { ApiError } from "../api/http";
import { allowedActions, changeOrder, getOrder, type OrderAction } from "../api/orders";
import type { Order } from "../api/types";
import { ErrorNote, LiveBadge, Loading } from "../components/feedback";
import { formatTime, label, money, shortId } from "../format";
import { reloadOnNewer, useAction, useLiveEvents, useLoad, useSession } from "../hooks";

const ACTION_LABELS: Record<OrderAction, string> = { ship: "Ship", deliver: "Mark delivered", cancel: "Cancel order" };

export function OrderPage({ id }: { id: string }) {
  const session = useSession();
  const order = useLoad((signal, hint) => getOrder(id, signal, hint), [id]);
  const live = useLiveEvents({ aggregateId: id }, reloadOnNewer(order));

  if (order.error instanceof ApiError && order.error.code === "not_found") {
    return (
      <section>
        <h1>Order not found</h1>
        <p>There is no order with this id (yet).</p>
      </section>
    );
  }
  if (!order.data) return order.error ? <ErrorNote error={order.error} onRetry={() => order.reload()} /> : <Loading />;
  const o = order.data;
  return (
    <section>
      <p class="crumbs">
        <a href={`/customers/${o.customer_id}`}>← {o.customer_name || "Customer"}</a> ·{" "}
        <a href={`/history/${id}`}>History</a> <LiveBadge connected={live} />
      </p>
      <div class="title-row">
        <h1 title={o.order_id}>Order #{shortId(o.order_id)}</h1>
        <span class={`status big ${o.status}`} data-testid="order-status">
          {label(o.status)}
        </span>
      </div>
      <Timeline order={o} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Product</th>
              <th class="num">Unit price</th>
              <th class="num">Qty</th>
              <th class="num">Line total</th>
            </tr>
          </thead>
          <tbody>
            {o.items.map((item) => (
              <tr key={item.sku}>
                <td>
                  {item.name} <small class="muted">{item.sku}</small>
                </td>
                <td class="num">{money(item.unit_price)}</td>
                <td class="num">{item.quantity}</td>
                <td class="num">{money(item.line_total)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th colSpan={3}>Total</th>
              <th class="num" data-testid="order-total">
                {money(o.total)}
              </th>
            </tr>
          </tfoot>
        </table>
      </div>
      {session && <OrderActions order={o} onChanged={() => order.reload()} />}
    </section>
  );
}

function Timeline({ order }: { order: Order }) {
  const steps: Array<[string, string | undefined]> = [
    ["Placed", order.placed_at],
    ["Shipped", order.shipped_at],
    ["Delivered", order.delivered_at],
  ];
  if (order.cancelled_at) steps.splice(1, 2, ["Cancelled", order.cancelled_at]);
  return (
    <ol class="steps">
      {steps.map(([name, at]) => (
        <li key={name} class={at ? "done" : ""}>
          <strong>{name}</strong>
          <span class="muted">{at ? formatTime(at) : "—"}</span>
        </li>
      ))}
      {order.cancel_reason && <li class="reason">Reason: {order.cancel_reason}</li>}
    </ol>
  );
}

function OrderActions({ order, onChanged }: { order: Order; onChanged: () => void }) {
  const action = useAction();
  const [reason, setReason] = useState<string | null>(null);
  const actions = allowedActions(order.status);
  if (!actions.length) return null;
  const run = (a: OrderAction, why?: string) =>
    action.run(async () => {
      await changeOrder(order.order_id, a, why);
      setReason(null);
      onChanged();
    });
  return (
    <div class="stack">
      <div class="actions">
        {actions.map((a) =>
          a === "cancel" ? (
            reason === null && (
              <button key={a} type="button" class="danger" onClick={() => setReason("")} disabled={action.busy}>
                {ACTION_LABELS[a]}
              </button>
            )
          ) : (
            <button key={a} type="button" class="primary" onClick={() => run(a)} disabled={action.busy}>
              {ACTION_LABELS[a]}
            </button>
          ),
        )}
      </div>
      {reason !== null && (
        <form
          class="stack card"
          onSubmit={(e) => {
            e.preventDefault();
            void run("cancel", reason);
          }}
        >
          <label>
            Why is it cancelled?
            <input value={reason} maxLength={500} onInput={(e) => setReason((e.currentTarget as HTMLInputElement).value)} required />
          </label>
          <div class="actions">
            <button type="submit" class="danger" disabled={action.busy || !reason.trim()}>
              Cancel the order
            </button>
            <button type="button" onClick={() => setReason(null)}>
              Keep it
            </button>
          </div>
        </form>
      )}
      <ErrorNote error={action.error} />
    </div>
  );
}
