// Registering a customer, or updating one (an update replaces all details). Problems with single
// fields are shown next to those fields.

import { useEffect, useState } from "preact/hooks";
import { getCustomer, registerCustomer, updateCustomer } from "../api/customers";
import type { CustomerDetails } from "../api/types";
import { ErrorNote, Loading } from "../components/feedback";
import { fieldProblems } from "../errors";
import { label } from "../format";
import { useAction, useLoad, useSession } from "../hooks";
import { navigate } from "../router";
import { SignInFirst } from "./sign-in";

export const SEGMENTS = ["consumer", "corporate", "home_office"];
export const REGIONS = ["north", "south", "east", "west", "emea", "americas", "apac"];

const EMPTY: CustomerDetails = { name: "", email: "", phone: "", segment: "consumer", region: "" };

export function CustomerFormPage({ id }: { id?: string }) {
  const session = useSession();
  const existing = useLoad((signal) => (id ? getCustomer(id, signal) : Promise.resolve(null)), [id]);
  const action = useAction();
  const [details, setDetails] = useState<CustomerDetails>(EMPTY);

  // Fill the form once the customer has loaded (later live reloads must not wipe the user's edits).
  useEffect(() => {
    const c = existing.data;
    if (c) setDetails({ name: c.name, email: c.email, phone: c.phone ?? "", segment: c.segment, region: c.region });
  }, [existing.data?.customer_id]);

  const next = id ? `/customers/${id}/edit` : "/customers/new";
  if (!session) return <SignInFirst what={id ? "update a customer" : "register a customer"} next={next} />;
  if (id && !existing.data) {
    return existing.error ? <ErrorNote error={existing.error} /> : <Loading what="Loading the customer" />;
  }

  const set = (key: keyof CustomerDetails) => (event: Event) =>
    setDetails({ ...details, [key]: (event.currentTarget as HTMLInputElement).value });
  const problems = fieldProblems(action.error);
  const problem = (field: string) => problems.find((p) => p.field === field)?.message;

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const body = { ...details, phone: details.phone?.trim() || undefined };
      const reply = id ? await updateCustomer(id, body) : await registerCustomer(body);
      navigate(`/customers/${reply.aggregate_id}`);
    });
  };

  return (
    <section class="narrow-page">
      <p class="crumbs">
        <a href={id ? `/customers/${id}` : "/customers"}>← {id ? "Customer" : "Customers"}</a>
      </p>
      <h1>{id ? "Update customer" : "Register a customer"}</h1>
      <form class="stack card" onSubmit={submit} noValidate>
        <Field label="Name" problem={problem("name")}>
          <input name="name" value={details.name} onInput={set("name")} maxLength={200} required autocomplete="off" />
        </Field>
        <Field label="Email" problem={problem("email")}>
          <input name="email" type="email" value={details.email} onInput={set("email")} maxLength={254} required />
        </Field>
        <Field label="Phone (optional)" problem={problem("phone")}>
          <input name="phone" type="tel" value={details.phone} onInput={set("phone")} maxLength={32} />
        </Field>
        <Field label="Segment" problem={problem("segment")}>
          <select name="segment" value={details.segment} onChange={set("segment")}>
            {SEGMENTS.map((s) => (
              <option key={s} value={s}>
                {label(s)}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Region" problem={problem("region")}>
          <input name="region" value={details.region} onInput={set("region")} list="region-list" maxLength={64} required />
          <datalist id="region-list">
            {REGIONS.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </Field>
        <ErrorNote error={action.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy}>
            {id ? "Save changes" : "Register"}
          </button>
          <a class="button" href={id ? `/customers/${id}` : "/customers"}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}

export function Field({ label: text, problem, children }: {
  label: string;
  problem?: string | undefined;
  children: preact.ComponentChildren;
}) {
  return (
    <label class={problem ? "field invalid" : "field"}>
      {text}
      {children}
      {problem && <span class="field-problem">{problem}</span>}
    </label>
  );
}
