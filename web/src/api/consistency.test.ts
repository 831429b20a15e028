import { describe, expect, it } from "vitest";
import { MAX_LIST_TOKENS, WRITE_TTL_MS, WriteLog } from "./consistency";

function log(start = 1_000_000) {
  let now = start;
  const store = new Map<string, string>();
  const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
  return { writes: new WriteLog(() => now, storage), advance: (ms: number) => (now += ms), storage };
}

describe("the write log (read-your-writes)", () => {
  it("asks reads of a written aggregate for at least the version written", () => {
    const { writes } = log();
    expect(writes.minVersion("p1")).toBeUndefined();
    writes.record("post", "p1", 3);
    writes.record("post", "p1", 2); // a late reply never lowers the bar
    expect(writes.minVersion("p1")).toBe(3);
  });

  it("gives lists the tokens of their own kind, newest first, and announced versions too", () => {
    const { writes, advance } = log();
    writes.record("post", "p1", 1);
    advance(10);
    writes.record("customer", "c1", 1);
    advance(10);
    writes.record("post", "p2", 4);
    expect(writes.listTokens("post")).toBe("p2:4,p1:1");
    expect(writes.listTokens("order")).toBeUndefined();
    expect(writes.listTokens("order", [["o1", 2]])).toBe("o1:2");
    expect(writes.listTokens("post", [["p1", 5]])).toBe("p1:5,p2:4");
  });

  it("caps the number of tokens a list read carries", () => {
    const { writes, advance } = log();
    for (let i = 0; i < MAX_LIST_TOKENS + 5; i++) {
      writes.record("post", `p${i}`, 1);
      advance(1);
    }
    expect(writes.listTokens("post")?.split(",")).toHaveLength(MAX_LIST_TOKENS);
  });

  it("forgets writes once they are surely projected", () => {
    const { writes, advance } = log();
    writes.record("order", "o1", 2);
    advance(WRITE_TTL_MS + 1);
    expect(writes.minVersion("o1")).toBeUndefined();
    expect(writes.listTokens("order")).toBeUndefined();
  });

  it("survives a reload of the page (session storage)", () => {
    const first = log();
    first.writes.record("post", "p1", 7);
    const again = new WriteLog(() => 1_000_000, first.storage);
    expect(again.minVersion("p1")).toBe(7);
    again.clear();
    expect(new WriteLog(() => 1_000_000, first.storage).minVersion("p1")).toBeUndefined();
  });
});
