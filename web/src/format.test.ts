import { describe, expect, it } from "vitest";
import { count, formatMoney, formatMoneyShort, formatMonth, label, minorDigits, parseMoney } from "./format";

describe("money", () => {
  it("formats minor units with the currency's own number of decimals", () => {
    expect(formatMoney(1250, "EUR", "en-GB")).toBe("€12.50");
    expect(formatMoney(5, "USD", "en-US")).toBe("$0.05");
    expect(formatMoney(1250, "JPY", "en-GB")).toBe("JP¥1,250");
    expect(formatMoney(123456789, "EUR", "de-DE")).toBe("1.234.567,89\u00a0€");
    expect(formatMoney(-250, "GBP", "en-GB")).toBe("-£2.50");
  });

  it("knows how many minor units a currency has", () => {
    expect(minorDigits("EUR")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("KWD")).toBe(3);
    expect(minorDigits("not a code")).toBe(2);
  });

  it("parses typed amounts into minor units without floating-point error", () => {
    expect(parseMoney("12.50", "EUR")).toBe(1250);
    expect(parseMoney("12.5", "EUR")).toBe(1250);
    expect(parseMoney("0.29", "EUR")).toBe(29); // 0.29 * 100 is 28.999999999999996 as a float
    expect(parseMoney(" 7 ", "EUR")).toBe(700);
    expect(parseMoney("3,99", "EUR")).toBe(399);
    expect(parseMoney("1250", "JPY")).toBe(1250);
    expect(parseMoney("12.", "EUR")).toBe(1200);
  });

  it("refuses what is not an amount", () => {
    for (const text of ["", "abc", "-1", "1.234", "1e3", "1.2.3", "12.5", "99999999999999999999"]) {
      const currency = text === "12.5" ? "JPY" : "EUR";
      expect(parseMoney(text, currency), text).toBeNull();
    }
  });

  it("shortens amounts for chart axes", () => {
    expect(formatMoneyShort(1_800_000_000, "EUR", "en-GB")).toMatch(/^€18[mM]$/);
    expect(formatMoneyShort(250_000, "EUR", "en-GB")).toMatch(/^€2\.5[kK]$/);
    expect(formatMoneyShort(0, "EUR", "en-GB")).toBe("€0");
  });
});

describe("words", () => {
  it("writes months in UTC whatever the reader's zone", () => {
    expect(formatMonth("2025-03", "en-GB")).toBe("Mar 2025");
    expect(formatMonth("2025-12-01", "en-GB")).toBe("Dec 2025");
    expect(formatMonth("garbage", "en-GB")).toBe("garbage");
  });

  it("counts with plurals and labels codes", () => {
    expect(count(1, "like")).toBe("1 like");
    expect(count(0, "like")).toBe("0 likes");
    expect(label("home_office")).toBe("Home office");
    expect(label("")).toBe("(unknown)");
  });
});
