import { describe, expect, it } from "vitest";
import { decodeToken, isAdmin, isExpired, isStaff, sessionFromToken } from "./session";

/** An unsigned JWT with `claims` (the UI reads claims; only the gateway verifies signatures). */
function jwt(claims: object): string {
  const utf8 = (o: object) => String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)));
  const part = (o: object) => btoa(utf8(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.c2ln`;
}

describe("tokens", () => {
  it("reads subject, roles and expiry", () => {
    const session = sessionFromToken(jwt({ sub: "alice", roles: ["admin"], exp: 2_000_000_000 }));
    expect(session).toMatchObject({ subject: "alice", roles: ["admin"], expiresAt: 2_000_000_000 });
    expect(isAdmin(session)).toBe(true);
    expect(isAdmin(sessionFromToken(jwt({ sub: "bob", exp: 2_000_000_000 })))).toBe(false);
    expect(isAdmin(null)).toBe(false);
  });

  it("counts admins as staff, and nobody else without the role", () => {
    const token = (roles: string[]) => sessionFromToken(jwt({ sub: "a", roles, exp: 2_000_000_000 }));
    expect(isStaff(token(["staff"]))).toBe(true);
    expect(isStaff(token(["admin"]))).toBe(true);
    expect(isStaff(token([]))).toBe(false);
    expect(isStaff(token(["user", "Staff"]))).toBe(false);
    expect(isStaff(null)).toBe(false);
  });

  it("reads base64url payloads with non-ASCII text", () => {
    const token = jwt({ sub: "zoë?>", roles: [], exp: 1 });
    expect(decodeToken(token)?.sub).toBe("zoë?>");
  });

  it("refuses what is not a JWT with a subject", () => {
    expect(decodeToken("not-a-token")).toBeNull();
    expect(decodeToken("a.b.c")).toBeNull();
    expect(decodeToken(jwt({ roles: ["admin"] }))).toBeNull();
    expect(decodeToken(jwt({ sub: "" }))).toBeNull();
  });

  it("keeps only string roles", () => {
    expect(decodeToken(jwt({ sub: "a", roles: ["admin", 3, null] }))?.roles).toEqual(["admin"]);
  });

  it("treats a session as over shortly before it expires", () => {
    const session = sessionFromToken(jwt({ sub: "a", exp: 1000 }))!;
    expect(isExpired(session, 900)).toBe(false);
    expect(isExpired(session, 996)).toBe(true);
    expect(isExpired({ ...session, expiresAt: 0 }, 1e12)).toBe(false);
  });
});
