import { describe, expect, it } from "vitest";
import { ApiError, NETWORK_ERROR } from "./api/http";
import { fieldProblems, humanField, plainMessage, withoutCodePrefix } from "./errors";

describe("errors in plain words", () => {
  it("lists invalid fields by their human names", () => {
    const error = new ApiError(400, "invalid_argument", "2 fields are invalid", {
      fields: [
        { field: "email", message: "is not an email address" },
        { field: "items[0].unit_price_minor", message: "must not be negative" },
      ],
    });
    expect(fieldProblems(error)).toHaveLength(2);
    expect(plainMessage(error)).toBe(
      "Please check: Email is not an email address; Item 1 unit price must not be negative.",
    );
  });

  it("says what a refusal means and keeps the server's reason", () => {
    const error = new ApiError(403, "permission_denied", "permission denied: only the author may edit the post");
    expect(plainMessage(error)).toBe("You are not allowed to do that. Only the author may edit the post.");
    const staffOnly = new ApiError(403, "permission_denied", "this operation needs the staff role");
    expect(plainMessage(staffOnly)).toBe(
      "You are not allowed to do that. This operation needs the staff role. Sign in again with that role, or ask an administrator for it.",
    );
  });

  it("turns rule violations into sentences", () => {
    const error = new ApiError(422, "failed_precondition", "failed precondition: post is already liked by alice");
    expect(plainMessage(error)).toBe("That cannot be done now. Post is already liked by alice.");
  });

  it("tells a slow projection of the user's own write from a service outage", () => {
    const slow = new ApiError(503, "unavailable", "not projected yet", { projected_version: 2, retry_after_ms: 200 });
    expect(plainMessage(slow)).toMatch(/^Your change is saved/);
    expect(plainMessage(new ApiError(503, "unavailable", "a backing service is unavailable"))).toMatch(/busy or starting up/);
  });

  it("never shows internals", () => {
    expect(plainMessage(new ApiError(500, "internal", "internal error"))).toBe(
      "Something went wrong on our side. Please try again.",
    );
    expect(plainMessage(new ApiError(0, NETWORK_ERROR, "x"))).toMatch(/cannot be reached/);
    expect(plainMessage(new TypeError("undefined is not a function"))).toBe(
      "Something went wrong in this page. Please reload it.",
    );
    expect(plainMessage(new DOMException("aborted", "AbortError"))).toBe("");
  });

  it("names fields as a person would", () => {
    expect(humanField("items[2].quantity")).toBe("Item 3 quantity");
    expect(humanField("Idempotency-Key")).toBe("Idempotency-Key");
    expect(withoutCodePrefix("Not found: post x", "not_found")).toBe("post x");
    expect(withoutCodePrefix("post x", "not_found")).toBe("post x");
  });
});
