import { describe, expect, it } from "vitest";
import { codeForStatus, retryDelayMs, withQuery } from "./http";

describe("http helpers", () => {
  it("leaves unset and false filters out of the query string", () => {
    expect(withQuery("/posts")).toBe("/posts");
    expect(withQuery("/posts", { author: "", min_likes: 0, only_with_comments: false, x: undefined })).toBe(
      "/posts?min_likes=0",
    );
    expect(withQuery("/posts", { author: "a b&c", only_with_comments: true })).toBe(
      "/posts?author=a+b%26c&only_with_comments=true",
    );
  });

  it("waits as long as the server says before retrying a 503, within bounds", () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(retryDelayMs(headers({}), { retry_after_ms: 250 })).toBe(250);
    expect(retryDelayMs(headers({ "retry-after": "2" }), null)).toBe(2000);
    expect(retryDelayMs(headers({ "retry-after": "600" }), null)).toBe(5000);
    expect(retryDelayMs(headers({}), null)).toBe(500);
  });

  it("names the error of a body-less answer by its status", () => {
    expect(codeForStatus(403)).toBe("permission_denied");
    expect(codeForStatus(504)).toBe("deadline_exceeded");
    expect(codeForStatus(502)).toBe("internal");
  });
});
