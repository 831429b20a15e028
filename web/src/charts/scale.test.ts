import { describe, expect, it } from "vitest";
import { colourFor, niceCeil, stack, ticks } from "./scale";

describe("chart scales", () => {
  it("rounds axis tops up to nice numbers", () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(1.1)).toBe(2);
    expect(niceCeil(2.2)).toBe(2.5);
    expect(niceCeil(370)).toBe(500);
    expect(niceCeil(1000)).toBe(1000);
  });

  it("spaces ticks evenly from zero to at least the maximum", () => {
    expect(ticks(370)).toEqual([0, 100, 200, 300, 400]);
    expect(ticks(0)).toEqual([0, 1, 2, 3, 4]);
    const t = ticks(1234);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(1234);
  });

  it("stacks segments bottom first and skips empty ones", () => {
    expect(stack([["a", 2], ["b", 0], ["c", 3]])).toEqual([
      { key: "a", value: 2, start: 0 },
      { key: "c", value: 3, start: 2 },
    ]);
  });

  it("gives each series its own colour", () => {
    const keys = ["x", "y"];
    expect(colourFor(keys, "x")).not.toBe(colourFor(keys, "y"));
    expect(colourFor(keys, "x")).toBe(colourFor(keys, "x"));
  });
});
