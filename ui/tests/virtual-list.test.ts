// The contact list at scale: windowing math, search over the whole list,
// and the Contacts screen with 2,000 contacts in jsdom (no layout there,
// so the screen assumes its fallback viewport and measures nothing).
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import type { ContactEntry } from "../src/lib/bindings/ContactEntry";
import { filterContacts } from "../src/lib/contacts";
import { searchContacts, searchIndex } from "../src/lib/contactSearch";
import { indexAt, keyTarget, offsetsOf, revealOffset, RowHeights, visibleRange } from "../src/lib/virtualList";
import { ms } from "./fixtures";

vi.mock("../src/lib/ipc", () => ({
  dial: vi.fn(async () => 7),
  pickupLine: vi.fn(async () => 8),
  addContact: vi.fn(async () => {}),
  updateContact: vi.fn(async () => {}),
  deleteContact: vi.fn(async () => {}),
  importVcards: vi.fn(async () => ({ added: 0, errors: [] })),
  decideWatcher: vi.fn(async () => {}),
  contacts: vi.fn(async () => []),
}));

import Contacts from "../src/screens/Contacts.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

const entry = (i: number, extra: Partial<ContactEntry["contact"]> = {}): ContactEntry => ({
  id: ms(i),
  contact: {
    name: `Contact ${String(i).padStart(4, "0")}`,
    sip_uri: `sip:user${i}@127.0.0.1`,
    phones: i % 3 === 0 ? [{ number: `+7 (900) 555-${String(i).padStart(4, "0")}`, kind: null }] : [],
    favourite: false,
    presence: true,
    blf: i % 2 === 0,
    ...extra,
  },
});
const many = (n: number) => Array.from({ length: n }, (_, i) => entry(i + 1));

describe("windowing math", () => {
  const fixed = offsetsOf(new Array(100).fill(50)); // 100 rows of 50 px: 5,000 px

  it("puts each row after the ones before it", () => {
    expect(Array.from(offsetsOf([10, 20, 30]))).toEqual([0, 10, 30, 60]);
    expect(Array.from(offsetsOf([]))).toEqual([0]);
    expect(fixed[100]).toBe(5000);
  });

  it("finds the row under a scroll offset", () => {
    expect(indexAt(fixed, 0)).toBe(0);
    expect(indexAt(fixed, 49.9)).toBe(0);
    expect(indexAt(fixed, 50)).toBe(1);
    expect(indexAt(fixed, 4999)).toBe(99);
    expect(indexAt(fixed, 1e9)).toBe(99);
    expect(indexAt(fixed, -300)).toBe(0);
    expect(indexAt(offsetsOf([]), 10)).toBe(-1);
    const mixed = offsetsOf([10, 100, 5, 40]);
    expect([0, 9, 10, 109, 110, 115, 154].map((y) => indexAt(mixed, y))).toEqual([0, 0, 1, 1, 2, 3, 3]);
  });

  it("renders the rows in view plus overscan, first and last index inclusive", () => {
    // 400 px viewport at 1,000: rows 20..27 are visible.
    expect(visibleRange(fixed, 1000, 400, 0)).toEqual({ first: 20, last: 27 });
    expect(visibleRange(fixed, 1000, 400, 5)).toEqual({ first: 15, last: 32 });
    // Half rows at both edges count as visible.
    expect(visibleRange(fixed, 1025, 400, 0)).toEqual({ first: 20, last: 28 });
    // Clamped at both ends.
    expect(visibleRange(fixed, 0, 400, 5)).toEqual({ first: 0, last: 12 });
    expect(visibleRange(fixed, 4800, 400, 5)).toEqual({ first: 91, last: 99 });
    // The list starts 300 px below the viewport's top (header above it).
    expect(visibleRange(fixed, -300, 400, 0)).toEqual({ first: 0, last: 1 });
  });

  it("follows a resize of the viewport", () => {
    const small = visibleRange(fixed, 1000, 200, 2);
    const tall = visibleRange(fixed, 1000, 1000, 2);
    expect(small).toEqual({ first: 18, last: 25 });
    expect(tall).toEqual({ first: 18, last: 41 });
    expect(visibleRange(fixed, 1000, 0, 2)).toEqual({ first: 18, last: 21 });
  });

  it("keeps overscan rows ready when the list is off screen, and nothing for an empty list", () => {
    expect(visibleRange(fixed, -900, 400, 3)).toEqual({ first: 0, last: 2 });
    expect(visibleRange(fixed, 6000, 400, 3)).toEqual({ first: 97, last: 99 });
    expect(visibleRange(offsetsOf([]), 0, 400, 3)).toEqual({ first: 0, last: -1 });
  });

  it("scrolls as little as possible to show a row whole", () => {
    expect(revealOffset(fixed, 22, 1000, 400)).toBe(1000); // already in view
    expect(revealOffset(fixed, 10, 1000, 400)).toBe(500); // above: align its top
    expect(revealOffset(fixed, 30, 1000, 400)).toBe(1150); // below: align its bottom
    expect(revealOffset(fixed, 27, 1000, 400)).toBe(1000); // last whole row
    expect(revealOffset(fixed, 28, 1000, 400)).toBe(1050);
    expect(revealOffset(offsetsOf([50, 900, 50]), 1, 0, 400)).toBe(50); // taller than the viewport: its top
    expect(revealOffset(fixed, 500, 1000, 400)).toBe(1000); // no such row
  });

  it("moves keyboard focus through the whole list", () => {
    expect(keyTarget("ArrowDown", 0, 2000, 10)).toBe(1);
    expect(keyTarget("ArrowDown", 1999, 2000, 10)).toBe(1999);
    expect(keyTarget("ArrowUp", 0, 2000, 10)).toBe(0);
    expect(keyTarget("ArrowUp", 5, 2000, 10)).toBe(4);
    expect(keyTarget("PageDown", 5, 2000, 10)).toBe(15);
    expect(keyTarget("PageDown", 1995, 2000, 10)).toBe(1999);
    expect(keyTarget("PageUp", 5, 2000, 10)).toBe(0);
    expect(keyTarget("PageUp", 500, 2000, 0)).toBe(499); // at least one row per page
    expect(keyTarget("Home", 700, 2000, 10)).toBe(0);
    expect(keyTarget("End", 7, 2000, 10)).toBe(1999);
    expect(keyTarget("Enter", 7, 2000, 10)).toBeNull();
    expect(keyTarget("ArrowDown", 0, 0, 10)).toBeNull();
    expect(keyTarget("ArrowDown", 50, 10, 10)).toBe(9); // a list that shrank under the focus
  });

  it("estimates unmeasured rows from the measured ones and reports changes", () => {
    const h = new RowHeights(64);
    expect(h.get(1)).toBe(64);
    expect(h.set(1, 64)).toBe(false); // same as the estimate it replaced: offsets unchanged
    expect(h.set(2, 80)).toBe(true);
    expect(h.estimate).toBe(72);
    expect(h.get(99)).toBe(72);
    expect(h.set(2, 80)).toBe(false);
    expect(h.set(2, 0)).toBe(false); // a detached row measures 0: ignored
    expect(Array.from(h.sizes([1, 2, 3]))).toEqual([64, 80, 72]);
    h.retain(new Set([2]));
    expect(h.get(1)).toBe(80);
  });
});

describe("search over all contacts", () => {
  const list = many(2000);
  const index = searchIndex(list);

  it("matches what filterContacts matches, for every query", () => {
    for (const q of ["", "contact 1999", "user2000@", "CONTACT 0042", "555-0003", "9005550009", "+7", "nobody", "contact  12", "127.0.0.1 contact 07"]) {
      expect(searchContacts(index, q).map((e) => e.id)).toEqual(filterContacts(list, q).map((e) => e.id));
    }
    expect(searchContacts(index, "contact 1999").map((e) => e.contact.name)).toEqual(["Contact 1999"]);
    expect(searchContacts(index, "")).toBe(list);
  });
});

describe("contacts screen with 2,000 contacts", () => {
  beforeEach(() => {
    vi.clearAllMocks();
    Object.assign(app, {
      accounts: [{ name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } }],
      contacts: many(2000),
      presence: { "sip:user2@127.0.0.1": { availability: "away", note: "lunch" }, "sip:user1990@127.0.0.1": { availability: "busy", note: null } },
      lines: { "sip:user1990@127.0.0.1": "ringing" },
      pendingWatchers: [],
      watchErrors: {},
    });
  });
  afterEach(() => cleanup());

  it("renders only a window of rows, with their place in the whole list", () => {
    render(Contacts);
    const rows = screen.getAllByTestId("contact");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0].getAttribute("aria-setsize")).toBe("2000");
    expect(rows[0].getAttribute("aria-posinset")).toBe("1");
    expect(rows[1].getAttribute("aria-posinset")).toBe("2");
    // The rest of the list is space, not rows: 2,000 rows at the 64 px estimate.
    const list = screen.getByRole("list", { name: "Contacts" });
    const below = parseFloat(list.style.paddingBottom);
    expect(below).toBe((2000 - rows.length) * 64);
    expect(within(rows[1]).getByTestId("contact-presence").textContent).toContain("Away — lunch");
    // One row in the tab order.
    expect(rows.filter((r) => r.tabIndex === 0)).toHaveLength(1);
  });

  it("finds a contact far below the window, with its presence, line and actions", async () => {
    render(Contacts);
    await fireEvent.input(screen.getByRole("searchbox", { name: "Search contacts" }), { target: { value: "contact 1990" } });
    const rows = screen.getAllByTestId("contact");
    expect(rows).toHaveLength(1);
    expect(rows[0].getAttribute("aria-setsize")).toBe("1");
    expect(within(rows[0]).getByTestId("contact-presence").textContent).toContain("Busy");
    expect(within(rows[0]).getByTestId("contact-line").textContent).toBe("Line ringing");
    await fireEvent.click(within(rows[0]).getByRole("button", { name: "Pick up Contact 1990's call" }));
    expect(ipc.pickupLine).toHaveBeenCalledWith("Work", "sip:user1990@127.0.0.1");
    await fireEvent.click(within(rows[0]).getByRole("button", { name: "Call Contact 1990" }));
    expect(ipc.dial).toHaveBeenCalledWith("Work", "sip:user1990@127.0.0.1");
  });

  it("moves focus with the keyboard beyond the rendered rows, keeping the focused row in the DOM", async () => {
    render(Contacts);
    await fireEvent.keyDown(screen.getByRole("searchbox", { name: "Search contacts" }), { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-posinset")).toBe("1"));
    await fireEvent.keyDown(document.activeElement!, { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-posinset")).toBe("2"));
    await fireEvent.keyDown(document.activeElement!, { key: "End" });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-posinset")).toBe("2000"));
    expect((document.activeElement as HTMLElement).dataset.contact).toBe("Contact 2000");
    expect((document.activeElement as HTMLElement).tabIndex).toBe(0);
    await fireEvent.keyDown(document.activeElement!, { key: "PageUp" });
    await waitFor(() => expect(Number(document.activeElement?.getAttribute("aria-posinset"))).toBeLessThan(2000));
    await fireEvent.keyDown(document.activeElement!, { key: "Home" });
    await waitFor(() => expect(document.activeElement?.getAttribute("aria-posinset")).toBe("1"));
  });
});
