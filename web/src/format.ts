// Turning API values into text and back: money in minor units, times, months. Money never goes
// through a float on the way in (12.3 EUR is parsed to 1230 from its digits).

import type { Money } from "./api/types";

/** How many minor units a currency has (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits ?? 2;
  } catch {
    return 2; // not an ISO code this browser knows: the common case
  }
}

/** `1250, "EUR"` → `€12.50`; an unknown code is written after the amount. */
export function formatMoney(amountMinor: number, currency: string, locale?: string): string {
  const digits = minorDigits(currency);
  const major = amountMinor / 10 ** digits;
  try {
    return new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${currency}`;
  }
}

/** A short amount for chart axes: `€18M`, `€2.5K`. */
export function formatMoneyShort(amountMinor: number, currency: string, locale?: string): string {
  const major = amountMinor / 10 ** minorDigits(currency);
  try {
    return new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      notation: "compact",
      minimumFractionDigits: 0,
      maximumFractionDigits: 1,
    }).format(major);
  } catch {
    return `${major} ${currency}`;
  }
}

export const money = (m: Money, locale?: string) => formatMoney(m.amount_minor, m.currency, locale);

/**
 * `"12.5"` in EUR → 1250 minor units; null if it is not a non-negative amount with at most the
 * currency's number of decimals. Accepts a comma as the decimal mark.
 */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(text.trim());
  if (!match) return null;
  const [, whole = "", fraction = ""] = match;
  if (fraction.length > digits) return null;
  const minor = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
  return Number.isSafeInteger(minor) ? minor : null;
}

/** A time as the reader's local date and time, e.g. `3 Mar 2025, 14:05`. */
export function formatTime(iso: string | undefined, locale?: string): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "short" });
}

/** `"2025-03"` or `"2025-03-01"` → `Mar 2025` (months are UTC; read them as UTC). */
export function formatMonth(month: string, locale?: string): string {
  const date = new Date(`${month.slice(0, 7)}-01T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return month;
  return date.toLocaleDateString(locale, { month: "short", year: "numeric", timeZone: "UTC" });
}

/** A short form of a UUID for tight places; the whole id stays in the title/link. */
export const shortId = (id: string) => id.slice(0, 8);

/** `n post(s)` with the right plural. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** `home_office` → `Home office`. */
export function label(value: string): string {
  if (!value) return "(unknown)";
  const words = value.replace(/[_-]+/g, " ").trim();
  return words[0]!.toUpperCase() + words.slice(1);
}
