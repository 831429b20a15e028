// The frame of every page (header, navigation, who is signed in) and the table of routes.

import { useEffect, useState } from "preact/hooks";
import type { JSX } from "preact";
import { writes } from "./api/consistency";
import { useSession } from "./hooks";
import { matchPath, navigate, useLocation, type Params } from "./router";
import { isAdmin, onSessionChange, signOut } from "./session";
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
import { SignInPage } from "./pages/sign-in";

type Route = [pattern: string, render: (params: Params, query: URLSearchParams) => JSX.Element];

const ROUTES: Route[] = [
  ["/posts", (_, q) => <PostsPage query={q} />],
  ["/posts/new", () => <NewPostPage />],
  ["/posts/:id", (p) => <PostPage id={p.id!} />],
  ["/customers", (_, q) => <CustomersPage query={q} />],
  ["/customers/new", () => <CustomerFormPage />],
  ["/customers/:id", (p) => <CustomerPage id={p.id!} />],
  ["/customers/:id/edit", (p) => <CustomerFormPage id={p.id!} />],
  ["/customers/:id/orders/new", (p) => <NewOrderPage customerId={p.id!} />],
  ["/orders/:id", (p) => <OrderPage id={p.id!} />],
  ["/reports", () => <ReportsPage />],
  ["/history", (_, q) => <HistoryPage query={q} />],
  ["/history/:id", (p, q) => <HistoryPage id={p.id!} query={q} />],
  ["/admin", () => <AdminPage />],
  ["/sign-in", (_, q) => <SignInPage next={q.get("next") ?? "/posts"} />],
];

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

const NAV: Array<[href: string, label: string, adminOnly?: boolean]> = [
  ["/posts", "Posts"],
  ["/customers", "Customers"],
  ["/reports", "Reports"],
  ["/history", "History"],
  ["/admin", "Admin", true],
];

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
          {NAV.filter(([, , adminOnly]) => !adminOnly || isAdmin(session)).map(([href, label]) => (
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
                {isAdmin(session) && <small class="badge">admin</small>}
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
