// The reporting views (orders that are not cancelled; money per currency, never mixed).

import { MAX_LIST_TOKENS, writes } from "./consistency";
import { readConsistent, request } from "./http";
import type { CustomerPriceGroups, MonthlySegmentSales, PriceGroupPage, RegionSales, TopCustomer } from "./types";

export interface Period {
  fromMonth?: string;
  toMonth?: string;
}

export async function monthlySales(period: Period, signal?: AbortSignal): Promise<MonthlySegmentSales[]> {
  const reply = await request<{ rows: MonthlySegmentSales[] }>("/reports/monthly-sales", {
    signal,
    query: { from_month: period.fromMonth, to_month: period.toMonth },
  });
  return reply.rows;
}

export async function topCustomers(
  by: "revenue" | "order_count",
  signal?: AbortSignal,
  limit = 10,
): Promise<TopCustomer[]> {
  const reply = await request<{ customers: TopCustomer[] }>("/reports/top-customers", {
    signal,
    query: { by, limit },
  });
  return reply.customers;
}

export async function itemsByPriceGroup(signal?: AbortSignal, pageSize = 20): Promise<CustomerPriceGroups[]> {
  const reply = await request<PriceGroupPage>("/reports/items-by-price-group", {
    signal,
    query: { page_size: pageSize },
  });
  return reply.customers;
}

export async function salesByRegion(period: Period, signal?: AbortSignal): Promise<RegionSales[]> {
  const reply = await request<{ regions: RegionSales[] }>("/reports/sales-by-region", {
    signal,
    query: { from_month: period.fromMonth, to_month: period.toMonth },
  });
  return reply.regions;
}

/**
 * Waits until the read model reflects this tab's recent customer and order writes (and `seen`, the
 * versions the live stream announced). Report queries take no consistency tokens of their own, but
 * they read the same tables as every other query, so one small consistent read of the customer
 * list, which waits on any aggregate's checkpoint, is a barrier for all of them.
 */
export async function reflectWrites(signal?: AbortSignal, seen: Array<[string, number]> = []): Promise<void> {
  const all = [writes.listTokens("order", seen), writes.listTokens("customer")].filter(Boolean).join(",");
  const tokens = all.split(",").filter(Boolean).slice(0, MAX_LIST_TOKENS).join(",");
  if (!tokens) return;
  await readConsistent("/customers", { signal, query: { page_size: 1, consistent_with: tokens } });
}
