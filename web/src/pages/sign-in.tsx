// Signing in. The gateway's development sign-in (DEV_MODE=true) issues a token for any name,
// optionally with the admin role; a real deployment would put an identity provider here.

import { useState } from "preact/hooks";
import { devSignIn } from "../api/auth";
import { ApiError } from "../api/http";
import { ErrorNote } from "../components/feedback";
import { useAction } from "../hooks";
import { navigate } from "../router";
import { signIn } from "../session";

export function SignInPage({ next }: { next: string }) {
  const action = useAction();
  const [name, setName] = useState("");
  const [admin, setAdmin] = useState(false);
  // Only paths of this app: a crafted ?next= must not send the user elsewhere.
  const target = next.startsWith("/") && !next.startsWith("//") ? next : "/posts";

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const token = await devSignIn(name, admin);
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
        <label class="check">
          <input
            type="checkbox"
            name="admin"
            checked={admin}
            onChange={(e) => setAdmin((e.currentTarget as HTMLInputElement).checked)}
          />{" "}
          Administrator (may see dead letters and rebuild the read model)
        </label>
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
