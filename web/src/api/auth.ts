// Development sign-in: the gateway (with DEV_MODE=true) issues a token for any name and roles.

import { request } from "./http";
import type { Token } from "./types";

export function devSignIn(subject: string, admin: boolean) {
  return request<Token>("/dev/sign-in", {
    method: "POST",
    anonymous: true,
    body: { subject: subject.trim(), roles: admin ? ["admin"] : [] },
  });
}
