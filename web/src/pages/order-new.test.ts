import { describe, expect, it } from "vitest";
import { toItems } from "./order-new";

const row = (over: Partial<{ sku: string; name: string; price: string; quantity: string }> = {}) => ({
  key: 1,
  sku: "SKU-1",
  name: "Pencil",
  price: "1.25",
  quantity: "4",
  ...over,
});

describe("order form rows", () => {
  it("become API items in minor units", () => {
    expect(toItems([row(), row({ sku: " SKU-2 ", price: "10", quantity: "1" })], "EUR")).toEqual([
      { sku: "SKU-1", name: "Pencil", unit_price_minor: 125, quantity: 4 },
      { sku: "SKU-2", name: "Pencil", unit_price_minor: 1000, quantity: 1 },
    ]);
  });

  it("explain the first problem in words", () => {
    expect(toItems([], "EUR")).toBe("An order needs at least one item.");
    expect(toItems([row(), row({ sku: "" })], "EUR")).toBe("Item 2 needs a product code.");
    expect(toItems([row({ price: "1.5" })], "JPY")).toBe('Item 1: "1.5" is not a price in JPY.');
    expect(toItems([row({ quantity: "0" })], "EUR")).toMatch(/^Item 1: the quantity/);
    expect(toItems([row({ quantity: "1.5" })], "EUR")).toMatch(/^Item 1: the quantity/);
  });
});
