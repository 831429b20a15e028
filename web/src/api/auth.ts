// Development sign-in: the gateway (with DEV_MODE=true) issues a token for any name and roles.

import { request } from "./http";
import type { Token } from "./types";

/** Who a user signs in as: a plain user (posts), staff (also customers, orders, reports) or an admin. */
export type Role = "user" | "staff" | "admin";

/** The token's roles for a choice of role; a plain user has none. */
export function rolesFor(role: Role): string[] {
  return role === "user" ? [] : [role];
}

export function devSignIn(subject: string, role: Role) {
  return request<Token>("/dev/sign-in", {
    method: "POST",
    anonymous: true,
    body: { subject: subject.trim(), roles: rolesFor(role) },
  });
}
