// Who is signed in: the bearer token and what it says (subject, roles, expiry). The token lives in
// localStorage so a reload keeps the user signed in; its claims are read, never trusted for
// security — the gateway verifies every request. The UI uses them only to hide what the user may
// not do.

export interface Session {
  token: string;
  subject: string;
  roles: string[];
  /** Seconds since the Unix epoch. */
  expiresAt: number;
}

const STORAGE_KEY = "cqrsplus.session";

/** The claims of a JWT's payload, or null if it is not a readable JWT with a subject. */
export function decodeToken(token: string): { sub: string; roles: string[]; exp: number } | null {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== "object" || claims === null) return null;
    const { sub, roles, exp } = claims as Record<string, unknown>;
    if (typeof sub !== "string" || sub === "") return null;
    return {
      sub,
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [],
      exp: typeof exp === "number" ? exp : 0,
    };
  } catch {
    return null;
  }
}

export function sessionFromToken(token: string): Session | null {
  const claims = decodeToken(token);
  if (!claims) return null;
  return { token, subject: claims.sub, roles: claims.roles, expiresAt: claims.exp };
}

/** A session is over a little before its expiry, so no request leaves with a dying token. */
export function isExpired(session: Session, nowSeconds = Date.now() / 1000): boolean {
  return session.expiresAt > 0 && session.expiresAt - 5 <= nowSeconds;
}

export function isAdmin(session: Session | null): boolean {
  return session?.roles.includes("admin") ?? false;
}

/** Staff see customers, orders and reports (personal data); admins may do all that staff may. */
export function isStaff(session: Session | null): boolean {
  return isAdmin(session) || (session?.roles.includes("staff") ?? false);
}

type Listener = (session: Session | null, reason?: string) => void;
const listeners = new Set<Listener>();
let current: Session | null = load();

function load(): Session | null {
  try {
    const token = localStorage.getItem(STORAGE_KEY);
    const session = token ? sessionFromToken(token) : null;
    return session && !isExpired(session) ? session : null;
  } catch {
    return null; // storage blocked (private mode): the user signs in for this page only
  }
}

export function currentSession(): Session | null {
  if (current && isExpired(current)) signOut("Your session has expired. Please sign in again.");
  return current;
}

export function signIn(token: string): Session {
  const session = sessionFromToken(token);
  if (!session) throw new Error("the server sent a token this page cannot read");
  current = session;
  try {
    localStorage.setItem(STORAGE_KEY, token);
  } catch {
    /* see load() */
  }
  listeners.forEach((l) => l(current));
  return session;
}

/** Ends the session; `reason` is shown to the user when the server ended it (401). */
export function signOut(reason?: string): void {
  current = null;
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* see load() */
  }
  listeners.forEach((l) => l(null, reason));
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
