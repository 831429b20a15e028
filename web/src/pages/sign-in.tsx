// Signing in. The gateway's development sign-in (DEV_MODE=true) issues a token for any name and
// a role (user, staff or admin); a real deployment would put an identity provider here.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { devSignIn, type Role } from "../api/auth";
import { ApiError } from "../api/http";
import { ErrorNote } from "../components/feedback";
import { useAction } from "../hooks";
import { navigate } from "../router";
import { useSession } from "../hooks";
import { isStaff, signIn } from "../session";

const ROLES: Array<[Role, string, string]> = [
  ["user", "User", "writes posts, comments and likes"],
  ["staff", "Staff", "also sees and changes customers and orders, and reads reports"],
  ["admin", "Administrator", "everything, plus dead letters and rebuilding the read model"],
];

export function SignInPage({ next }: { next: string }) {
  const action = useAction();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("user");
  // Only paths of this app: a crafted ?next= must not send the user elsewhere.
  const target = next.startsWith("/") && !next.startsWith("//") ? next : "/posts";

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const token = await devSignIn(name, role);
      signIn(token.token);
      navigate(target, { replace: true });
    });
  };
  const devModeOff = action.error instanceof ApiError && action.error.code === "not_found";
  return (
    <section class="narrow-page">
      <h1>Sign in</h1>
      <form class="stack card" onSubmit={submit}>
        <label>
          Your name
          <input
            name="subject"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
            autocomplete="username"
            maxLength={100}
            required
          />
        </label>
        <fieldset class="items">
          <legend>Role</legend>
          {ROLES.map(([value, title, explanation]) => (
            <label class="check" key={value}>
              <input
                type="radio"
                name="role"
                value={value}
                checked={role === value}
                onChange={() => setRole(value)}
              />
              <span>
                {title} <span class="muted small">— {explanation}</span>
              </span>
            </label>
          ))}
        </fieldset>
        {devModeOff ? (
          <div class="note error" role="alert">
            Sign-in is not available on this server: it is offered only in development mode (DEV_MODE=true).
          </div>
        ) : (
          <ErrorNote error={action.error} />
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy || !name.trim()}>
            Sign in
          </button>
        </div>
        <p class="muted small">Development sign-in: no password, any name. Never enabled where real users are.</p>
      </form>
    </section>
  );
}

/**
 * Renders `children` only for staff (or admins). Customer names, emails and phones are personal
 * data: the gateway refuses them to anyone else, and this says so in plain words instead of
 * showing a page of errors.
 */
export function StaffOnly({ what, next, children }: { what: string; next: string; children: ComponentChildren }) {
  const session = useSession();
  if (!session) return <SignInFirst what={what} next={next} />;
  if (isStaff(session)) return <>{children}</>;
  return (
    <section class="narrow-page" data-testid="staff-only">
      <h1>For staff only</h1>
      <p>
        Customers, orders and reports hold personal data (names, emails and phone numbers), so only staff may{" "}
        {what}. You are signed in as <strong>{session.subject}</strong> without the staff role.
      </p>
      <p>
        <a href={`/sign-in?next=${encodeURIComponent(next)}`}>Sign in again as staff</a> or go back to the{" "}
        <a href="/posts">posts</a>.
      </p>
    </section>
  );
}

/** What a page that needs a signed-in user shows instead. */
export function SignInFirst({ what, next }: { what: string; next: string }) {
  return (
    <section class="narrow-page">
      <h1>Please sign in</h1>
      <p>
        You need to <a href={`/sign-in?next=${encodeURIComponent(next)}`}>sign in</a> to {what}.
      </p>
    </section>
  );
}
