// Errors in plain words. Users see a sentence about what happened and what to do, built from the
// API's stable code; the server's own message (written to be safe to show) adds the specifics.
// Raw JSON, status numbers and stack traces never reach the page.

import { ApiError, NETWORK_ERROR } from "./api/http";

export interface FieldProblem {
  field: string;
  message: string;
}

/** The invalid fields a 400 names, in the API's `details.fields`. */
export function fieldProblems(error: unknown): FieldProblem[] {
  if (!(error instanceof ApiError) || error.code !== "invalid_argument") return [];
  const fields = (error.details as { fields?: unknown } | null)?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.filter(
    (f): f is FieldProblem => typeof f?.field === "string" && typeof f?.message === "string",
  );
}

/** `items[0].unit_price_minor` → `Item 1 unit price`: a field name as a person would say it. */
export function humanField(field: string): string {
  const words = field
    .replace(/\[(\d+)\]/g, (_, i: string) => ` ${Number(i) + 1} `)
    .replace(/_minor\b/g, "")
    .replace(/[._]/g, " ")
    .replace(/\bitems\b/g, "item")
    .replace(/\s+/g, " ")
    .trim();
  return sentenceCase(words);
}

function sentenceCase(text: string): string {
  const trimmed = text.trim();
  return trimmed ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : trimmed;
}

function sentence(text: string): string {
  const s = sentenceCase(text);
  return s && !/[.!?]$/.test(s) ? `${s}.` : s;
}

/** `failed precondition: post is already liked` → `post is already liked`: the code is said already. */
export function withoutCodePrefix(message: string, code: string): string {
  const prefix = `${code.replace(/_/g, " ")}: `;
  return message.toLowerCase().startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** One or two sentences for any error a page can meet. */
export function plainMessage(error: unknown): string {
  if (!(error instanceof ApiError)) {
    if (error instanceof DOMException && error.name === "AbortError") return "";
    return "Something went wrong in this page. Please reload it.";
  }
  const detail = error.message ? sentence(withoutCodePrefix(error.message, error.code)) : "";
  switch (error.code) {
    case NETWORK_ERROR:
      return "The server cannot be reached. Check your connection and try again.";
    case "invalid_argument": {
      const problems = fieldProblems(error);
      if (problems.length) {
        return "Please check: " + problems.map((p) => `${humanField(p.field)} ${p.message}`).join("; ") + ".";
      }
      return `Please check what you entered. ${detail}`.trim();
    }
    case "unauthenticated":
      return "Please sign in to do that.";
    case "permission_denied":
      // A 403 is about who the user is, not what they typed: when a role would help, say how to get it.
      return /\brole\b/.test(detail)
        ? `You are not allowed to do that. ${detail} Sign in again with that role, or ask an administrator for it.`
        : `You are not allowed to do that. ${detail}`.trim();
    case "not_found":
      return "This could not be found. It may have been deleted.";
    case "already_exists":
      return `That already exists. ${detail}`.trim();
    case "conflict":
      return "Someone else changed this at the same moment. The page now shows the latest version; please try again.";
    case "failed_precondition":
      return `That cannot be done now. ${detail}`.trim();
    case "unavailable":
      if ((error.details as { projected_version?: unknown } | null)?.projected_version !== undefined) {
        return "Your change is saved but is taking longer than usual to show here. This page will update by itself.";
      }
      return "The service is busy or starting up. Please try again in a moment.";
    case "deadline_exceeded":
      return "That took too long to answer. Please try again.";
    default:
      return "Something went wrong on our side. Please try again.";
  }
}
