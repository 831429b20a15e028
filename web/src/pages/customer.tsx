// One customer: details, orders (newest first, paged), and links to update, order and history.

import { useRef } from "preact/hooks";
import { ApiError } from "../api/http";
import { getCustomer, listCustomerOrders } from "../api/customers";
import type { Order } from "../api/types";
import { ErrorNote, Empty, LiveBadge, Loading } from "../components/feedback";
import { PagerControls, usePager } from "../components/pager";
import { formatTime, label, money, shortId } from "../format";
import { reloadOnNewer, useLiveEvents, useLoad, useSession } from "../hooks";

export function CustomerPage({ id }: { id: string }) {
  const session = useSession();
  const customer = useLoad((signal, hint) => getCustomer(id, signal, hint), [id]);
  const live = useLiveEvents({ aggregateId: id }, reloadOnNewer(customer));

  if (customer.error instanceof ApiError && customer.error.code === "not_found") {
    return (
      <section>
        <h1>Customer not found</h1>
        <p>
          There is no customer with this id (yet). <a href="/customers">Back to the customers</a>
        </p>
      </section>
    );
  }
  if (!customer.data) {
    return customer.error ? <ErrorNote error={customer.error} onRetry={() => customer.reload()} /> : <Loading />;
  }
  const c = customer.data;
  return (
    <section>
      <p class="crumbs">
        <a href="/customers">← Customers</a> · <a href={`/history/${id}`}>History</a> <LiveBadge connected={live} />
      </p>
      <div class="title-row">
        <h1 data-testid="customer-name">{c.name}</h1>
        {session && (
          <div class="actions">
            <a class="button primary" href={`/customers/${id}/orders/new`}>
              Place an order
            </a>
            <a class="button" href={`/customers/${id}/edit`}>
              Update
            </a>
          </div>
        )}
      </div>
      <dl class="facts card">
        <dt>Email</dt>
        <dd>{c.email}</dd>
        <dt>Phone</dt>
        <dd>{c.phone || "—"}</dd>
        <dt>Segment</dt>
        <dd>{label(c.segment)}</dd>
        <dt>Region</dt>
        <dd>{label(c.region)}</dd>
        <dt>Registered</dt>
        <dd>{formatTime(c.registered_at)}</dd>
        {c.updated_at && (
          <>
            <dt>Updated</dt>
            <dd>{formatTime(c.updated_at)}</dd>
          </>
        )}
      </dl>
      <CustomerOrders customerId={id} />
    </section>
  );
}

function CustomerOrders({ customerId }: { customerId: string }) {
  const pager = usePager(customerId);
  // An order the live stream announced, for the next load only: the list must already show it.
  const seen = useRef<[string, number] | undefined>(undefined);
  const orders = useLoad(
    (signal) => {
      const announced = seen.current;
      seen.current = undefined;
      return listCustomerOrders(customerId, signal, pager.token || undefined, announced);
    },
    [customerId, pager.token],
  );
  // Orders are aggregates of their own: follow order events for the orders shown, and new ones
  // placed for this customer.
  useLiveEvents({ aggregateType: "order" }, (events) => {
    if (events === null) return orders.reload();
    const shown = new Set(orders.data?.orders.map((o) => o.order_id));
    const ours = events.filter(
      (e) => shown.has(e.aggregate_id) || (e.data as { customer_id?: string } | null)?.customer_id === customerId,
    );
    const last = ours[ours.length - 1];
    if (last) {
      seen.current = [last.aggregate_id, last.version];
      orders.reload();
    }
  });
  return (
    <section>
      <h2>Orders</h2>
      <ErrorNote error={orders.error} onRetry={() => orders.reload()} />
      {!orders.data && !orders.error && <Loading what="Loading orders" />}
      {orders.data &&
        (orders.data.orders.length === 0 ? (
          <Empty>No orders yet.</Empty>
        ) : (
          <div class="table-wrap">
            <table data-testid="order-table">
              <thead>
                <tr>
                  <th>Order</th>
                  <th>Placed</th>
                  <th>Status</th>
                  <th class="num">Total</th>
                </tr>
              </thead>
              <tbody>
                {orders.data.orders.map((o) => (
                  <OrderRow key={o.order_id} order={o} />
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {orders.data && <PagerControls pager={pager} nextToken={orders.data.next_page_token} />}
    </section>
  );
}

function OrderRow({ order }: { order: Order }) {
  return (
    <tr>
      <td>
        <a href={`/orders/${order.order_id}`} title={order.order_id}>
          #{shortId(order.order_id)}
        </a>
      </td>
      <td>{formatTime(order.placed_at)}</td>
      <td>
        <span class={`status ${order.status}`}>{label(order.status)}</span>
      </td>
      <td class="num">{money(order.total)}</td>
    </tr>
  );
}
