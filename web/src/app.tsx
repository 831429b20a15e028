// The frame of every page (header, navigation, who is signed in) and the table of routes.

import { useEffect, useState } from "preact/hooks";
import type { JSX } from "preact";
import { writes } from "./api/consistency";
import { useSession } from "./hooks";
import { matchPath, navigate, useLocation, type Params } from "./router";
import { isAdmin, isStaff, onSessionChange, signOut, type Session } from "./session";
import { AdminPage } from "./pages/admin";
import { CustomerFormPage } from "./pages/customer-form";
import { CustomerPage } from "./pages/customer";
import { CustomersPage } from "./pages/customers";
import { HistoryPage } from "./pages/history";
import { NewOrderPage } from "./pages/order-new";
import { OrderPage } from "./pages/order";
import { NewPostPage } from "./pages/post-new";
import { PostPage } from "./pages/post";
import { PostsPage } from "./pages/posts";
import { ReportsPage } from "./pages/reports";
import { SignInPage, StaffOnly } from "./pages/sign-in";

type Route = [pattern: string, render: (params: Params, query: URLSearchParams) => JSX.Element];

const ROUTES: Route[] = [
  ["/posts", (_, q) => <PostsPage query={q} />],
  ["/posts/new", () => <NewPostPage />],
  ["/posts/:id", (p) => <PostPage id={p.id!} />],
  ["/customers", (_, q) => staff("see customers", "/customers", <CustomersPage query={q} />)],
  ["/customers/new", () => staff("register customers", "/customers/new", <CustomerFormPage />)],
  ["/customers/:id", (p) => staff("see customers", `/customers/${p.id}`, <CustomerPage id={p.id!} />)],
  [
    "/customers/:id/edit",
    (p) => staff("change customers", `/customers/${p.id}/edit`, <CustomerFormPage id={p.id!} />),
  ],
  [
    "/customers/:id/orders/new",
    (p) => staff("place orders", `/customers/${p.id}/orders/new`, <NewOrderPage customerId={p.id!} />),
  ],
  ["/orders/:id", (p) => staff("see orders", `/orders/${p.id}`, <OrderPage id={p.id!} />)],
  ["/reports", () => staff("read reports", "/reports", <ReportsPage />)],
  ["/history", (_, q) => <HistoryPage query={q} />],
  ["/history/:id", (p, q) => <HistoryPage id={p.id!} query={q} />],
  ["/admin", () => <AdminPage />],
  ["/sign-in", (_, q) => <SignInPage next={q.get("next") ?? "/posts"} />],
];

/** A page of customer data, shown to staff only (the gateway enforces the same rule). */
function staff(what: string, next: string, page: JSX.Element): JSX.Element {
  return (
    <StaffOnly what={what} next={next}>
      {page}
    </StaffOnly>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function resolve(path: string, query: URLSearchParams): JSX.Element {
  if (path === "/" || path === "") return <Redirect to="/posts" />;
  for (const [pattern, render] of ROUTES) {
    const params = matchPath(pattern, path);
    if (params) return render(params, query);
  }
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page at this address. <a href="/posts">Go to the posts</a>.
      </p>
    </section>
  );
}

/** Who may see a link: anyone, staff (and admins), or admins. */
type Audience = "anyone" | "staff" | "admin";

const NAV: Array<[href: string, label: string, audience: Audience]> = [
  ["/posts", "Posts", "anyone"],
  ["/customers", "Customers", "staff"],
  ["/reports", "Reports", "staff"],
  ["/history", "History", "anyone"],
  ["/admin", "Admin", "admin"],
];

function maySee(audience: Audience, session: Session | null): boolean {
  return audience === "anyone" || (audience === "staff" ? isStaff(session) : isAdmin(session));
}

export function App() {
  const location = useLocation();
  const session = useSession();
  const [notice, setNotice] = useState<string | undefined>();

  // When the server ends the session (401), say why instead of silently signing out.
  useEffect(
    () =>
      onSessionChange((s, reason) => {
        if (!s) writes.clear();
        setNotice(s ? undefined : reason);
      }),
    [],
  );

  const section = location.path.split("/")[1] ?? "";
  return (
    <>
      <header class="top">
        <a class="brand" href="/posts">
          CQRS Plus
        </a>
        <nav class="main-nav" aria-label="Main">
          {NAV.filter(([, , audience]) => maySee(audience, session)).map(([href, label]) => (
            <a key={href} href={href} aria-current={`/${section}` === href ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          {session ? (
            <>
              <span data-testid="signed-in-as" title={session.roles.join(", ")}>
                {session.subject}
                {isAdmin(session) ? (
                  <small class="badge">admin</small>
                ) : (
                  isStaff(session) && <small class="badge">staff</small>
                )}
              </span>
              <button type="button" class="link" onClick={() => signOut()}>
                Sign out
              </button>
            </>
          ) : (
            <a href={`/sign-in?next=${encodeURIComponent(location.path + window.location.search)}`}>Sign in</a>
          )}
        </div>
      </header>
      {notice && (
        <div class="note warn banner" role="status">
          {notice} <a href="/sign-in">Sign in</a>
        </div>
      )}
      <main>{resolve(location.path, location.query)}</main>
    </>
  );
}
