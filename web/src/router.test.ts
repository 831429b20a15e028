import { describe, expect, it } from "vitest";
import { matchPath } from "./router";

describe("routes", () => {
  it("matches literal segments and captures parameters", () => {
    expect(matchPath("/posts", "/posts")).toEqual({});
    expect(matchPath("/posts", "/posts/")).toEqual({});
    expect(matchPath("/posts/:id", "/posts/abc")).toEqual({ id: "abc" });
    expect(matchPath("/customers/:id/orders/new", "/customers/c1/orders/new")).toEqual({ id: "c1" });
    expect(matchPath("/posts/:id", "/posts/a%20b")).toEqual({ id: "a b" });
  });

  it("does not match other shapes", () => {
    expect(matchPath("/posts/:id", "/posts")).toBeNull();
    expect(matchPath("/posts/:id", "/customers/1")).toBeNull();
    expect(matchPath("/posts/new", "/posts/1")).toBeNull();
  });
});
