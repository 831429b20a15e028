// One order and its life cycle: placed → shipped → delivered, or placed → cancelled.

import { writes } from "./consistency";
import { readConsistent, request } from "./http";
import type { CommandReply, Order, OrderStatus } from "./types";

export function getOrder(id: string, signal?: AbortSignal, atLeast = 0) {
  const min = Math.max(writes.minVersion(id) ?? 0, atLeast);
  return readConsistent<Order>(`/orders/${id}`, { signal, query: { min_version: min || undefined } });
}

export type OrderAction = "ship" | "deliver" | "cancel";

/** The actions the status machine allows from `status`, so the UI offers only those. */
export function allowedActions(status: OrderStatus): OrderAction[] {
  switch (status) {
    case "placed":
      return ["ship", "cancel"];
    case "shipped":
      return ["deliver"];
    default:
      return [];
  }
}

export async function changeOrder(id: string, action: OrderAction, reason?: string) {
  const body = action === "cancel" ? { reason } : undefined;
  const reply = await request<CommandReply>(`/orders/${id}/${action}`, { method: "POST", body });
  writes.record("order", reply.aggregate_id, reply.version);
  return reply;
}
