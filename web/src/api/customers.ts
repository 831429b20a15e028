// Customers and the orders placed for them. Writes are recorded in the write log (see
// consistency.ts) so the pages that follow show them.

import { writes } from "./consistency";
import { readConsistent, request } from "./http";
import type { CommandReply, Customer, CustomerDetails, CustomerPage, NewOrderItem, OrderPage } from "./types";

export interface CustomerFilter {
  segment?: string;
  region?: string;
  pageSize?: number;
  pageToken?: string;
}

export function listCustomers(filter: CustomerFilter, signal?: AbortSignal, seen: Array<[string, number]> = []) {
  return readConsistent<CustomerPage>("/customers", {
    signal,
    query: {
      segment: filter.segment?.trim(),
      region: filter.region?.trim(),
      page_size: filter.pageSize,
      page_token: filter.pageToken,
      consistent_with: writes.listTokens("customer", seen),
    },
  });
}

export function getCustomer(id: string, signal?: AbortSignal, atLeast = 0) {
  const min = Math.max(writes.minVersion(id) ?? 0, atLeast);
  return readConsistent<Customer>(`/customers/${id}`, { signal, query: { min_version: min || undefined } });
}

/** A customer's orders; `order` names one order the list must already show (just placed). */
export function listCustomerOrders(
  customerId: string,
  signal?: AbortSignal,
  pageToken?: string,
  order?: [string, number],
) {
  return readConsistent<OrderPage>(`/customers/${customerId}/orders`, {
    signal,
    query: {
      page_token: pageToken,
      page_size: 10,
      // This list takes one token: the given order, else this tab's latest order write.
      consistent_with: order ? `${order[0]}:${order[1]}` : writes.listTokens("order")?.split(",")[0],
    },
  });
}

export async function registerCustomer(details: CustomerDetails) {
  const reply = await request<CommandReply>("/customers", { method: "POST", body: details });
  writes.record("customer", reply.aggregate_id, reply.version);
  return reply;
}

export async function updateCustomer(id: string, details: CustomerDetails) {
  const reply = await request<CommandReply>(`/customers/${id}`, { method: "PUT", body: details });
  writes.record("customer", reply.aggregate_id, reply.version);
  return reply;
}

export async function placeOrder(customerId: string, currency: string, items: NewOrderItem[]) {
  const reply = await request<CommandReply>(`/customers/${customerId}/orders`, {
    method: "POST",
    body: { currency, items },
  });
  writes.record("order", reply.aggregate_id, reply.version);
  return reply;
}
