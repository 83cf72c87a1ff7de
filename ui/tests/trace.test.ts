// The SIP trace view: the ladder layout (pure) and the screen rendered in
// jsdom with the IPC module replaced. The real engine and window are
// exercised by tests/e2e (a call's INVITE/200/ACK/BYE ladder).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import type { SipTraceDialog } from "../src/lib/bindings/SipTraceDialog";
import type { SipTraceMessage } from "../src/lib/bindings/SipTraceMessage";
import { arrowSpan, clock, dialogStatus, ladder, peerShort, stepRow, tone } from "../src/lib/trace";
import { setLocale } from "../src/lib/i18n.svelte";

const US = "127.0.0.1:5070";
const PROXY = "127.0.0.1:5060";
const BOB = "127.0.0.1:6000";
const T0 = new Date(2026, 10, 24, 9, 30, 0, 0).getTime();

let seq = 0;
function msg(direction: "sent" | "received", summary: string, remote = PROXY, at = 0, method?: string): SipTraceMessage {
  const status = /^\d{3}/.test(summary) ? Number(summary.slice(0, 3)) : null;
  return {
    seq: ++seq,
    time_ms: T0 + at,
    direction,
    transport: "udp",
    local: US,
    remote,
    summary,
    method: method ?? (status === null ? summary : "INVITE"),
    status,
    text: `${summary} raw text\r\nAuthorization: Digest username="alice", response="********"\r\n\r\n`,
  };
}

const call = (): SipTraceMessage[] => [
  msg("sent", "INVITE", PROXY, 0),
  msg("received", "100 Trying", PROXY, 5),
  msg("received", "180 Ringing", PROXY, 40),
  msg("received", "200 OK", PROXY, 1250),
  msg("sent", "ACK", PROXY, 1251),
  msg("received", "BYE", BOB, 5000),
  msg("sent", "200 OK", BOB, 5001, "BYE"),
];

describe("ladder layout", () => {
  it("puts our UA first and each remote address in order of appearance", () => {
    const l = ladder(call());
    expect(l.columns.map((c) => [c.key, c.address, c.local])).toEqual([
      ["local", US, true],
      [PROXY, PROXY, false],
      [BOB, BOB, false],
    ]);
  });

  it("draws sent messages rightwards and received leftwards, labelled with time and offset", () => {
    const rows = ladder(call()).rows;
    expect(rows.map((r) => [r.label, r.from, r.to, r.rightward])).toEqual([
      ["INVITE", 0, 1, true],
      ["100 Trying", 1, 0, false],
      ["180 Ringing", 1, 0, false],
      ["200 OK", 1, 0, false],
      ["ACK", 0, 1, true],
      ["BYE", 2, 0, false],
      ["200 OK", 0, 2, true],
    ]);
    expect(rows[0].time).toBe("09:30:00.000");
    expect(rows[3].offset).toBe("+1.250");
    expect(rows[6].answers).toBe("BYE");
    expect(rows[0].answers).toBeNull();
    expect(rows.map((r) => r.tone)).toEqual(["request", "provisional", "provisional", "success", "request", "request", "success"]);
  });

  it("is empty for no messages", () => {
    expect(ladder([])).toEqual({ columns: [{ key: "local", address: "", local: true }], rows: [] });
  });

  it("spans an arrow's columns after the time column", () => {
    expect(arrowSpan({ from: 0, to: 1 })).toEqual({ start: 2, span: 2 });
    expect(arrowSpan({ from: 2, to: 0 })).toEqual({ start: 2, span: 3 });
  });

  it("colours statuses by class and formats clocks", () => {
    expect([null, 100, 183, 200, 302, 401, 503, 603].map(tone)).toEqual([
      "request", "provisional", "provisional", "success", "redirect", "failure", "failure", "failure",
    ]);
    expect(clock(T0 + 61_007)).toBe("09:31:01.007");
  });

  it("summarises dialogs", () => {
    expect(dialogStatus({ final_status: null })).toBeNull();
    expect(dialogStatus({ final_status: 401 })).toEqual({ text: "401", tone: "failure" });
    expect(peerShort({ peer: "sips:bob@example.com", remote: BOB })).toBe("bob@example.com");
    expect(peerShort({ peer: "", remote: BOB })).toBe(BOB);
  });

  it("steps through rows with arrow keys, Home and End", () => {
    const rows = [{ seq: 4 }, { seq: 7 }, { seq: 9 }];
    expect(stepRow(rows, null, "ArrowDown")).toBe(4);
    expect(stepRow(rows, 4, "ArrowDown")).toBe(7);
    expect(stepRow(rows, 9, "ArrowDown")).toBe(9);
    expect(stepRow(rows, 7, "ArrowUp")).toBe(4);
    expect(stepRow(rows, 4, "ArrowUp")).toBe(4);
    expect(stepRow(rows, 4, "End")).toBe(9);
    expect(stepRow(rows, 9, "Home")).toBe(4);
    expect(stepRow(rows, 4, "Enter")).toBeNull();
    expect(stepRow([], null, "ArrowDown")).toBeNull();
  });
});

// The screen, with IPC replaced.
let dialogs: SipTraceDialog[] = [];
let messages: Record<string, SipTraceMessage[]> = {};
let enabled = true;
const ipc = vi.hoisted(() => ({
  sipTraceDialogs: vi.fn(),
  sipTrace: vi.fn(),
  exportSipTrace: vi.fn(),
  clearSipTrace: vi.fn(),
  sipTraceEnabled: vi.fn(),
  setSipTraceEnabled: vi.fn(),
}));
vi.mock("../src/lib/ipc", () => ipc);

import Trace from "../src/screens/Trace.svelte";

const dialog = (call_id: string, method: string, final_status: number | null, n: number): SipTraceDialog => ({
  call_id,
  method,
  peer: "sip:bob@127.0.0.1",
  remote: PROXY,
  outgoing: true,
  started_ms: T0,
  last_ms: T0 + 5001,
  final_status,
  messages: n,
  dropped: 0,
});

beforeEach(() => {
  setLocale("en");
  seq = 0;
  dialogs = [dialog("call-1", "INVITE", 200, 7), dialog("reg-1", "REGISTER", 200, 4)];
  messages = { "call-1": call() };
  enabled = true;
  ipc.sipTraceDialogs.mockImplementation(async () => dialogs);
  ipc.sipTrace.mockImplementation(async (id: string) => {
    if (!messages[id]) throw new Error("no SIP trace for that Call-ID");
    return messages[id];
  });
  ipc.sipTraceEnabled.mockImplementation(async () => enabled);
  ipc.setSipTraceEnabled.mockImplementation(async (on: boolean) => {
    enabled = on;
    if (!on) dialogs = [];
  });
  ipc.clearSipTrace.mockImplementation(async () => {
    dialogs = [];
  });
  ipc.exportSipTrace.mockImplementation(async (id: string | null) => `/home/u/Downloads/parley-sip-trace-${id ?? "all"}.txt`);
});
afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("SIP trace screen", () => {
  it("lists dialogs, draws the ladder of the chosen one and shows a raw message", async () => {
    render(Trace);
    const list = await screen.findByTestId("trace-dialogs");
    const items = within(list).getAllByTestId("trace-dialog");
    expect(items.map((b) => b.dataset.method)).toEqual(["INVITE", "REGISTER"]);
    expect(items[0].textContent).toContain("bob@127.0.0.1");
    expect(items[0].textContent).toContain("7 messages");
    await fireEvent.click(items[0]);
    const ladderEl = await screen.findByTestId("trace-ladder");
    expect(ladderEl.getAttribute("aria-label")).toBe("Ladder diagram of INVITE with bob@127.0.0.1");
    expect(within(ladderEl).getAllByTestId("trace-column").map((c) => c.textContent)).toEqual([
      `Parley${US}`,
      `Peer${PROXY}`,
      `Peer${BOB}`,
    ]);
    const arrows = within(ladderEl).getAllByTestId("trace-arrow");
    expect(arrows.map((a) => a.dataset.label)).toEqual(["INVITE", "100 Trying", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK"]);
    expect(arrows[0].getAttribute("aria-label")).toBe(`Sent INVITE from ${US} to ${PROXY} at 09:30:00.000`);
    expect(arrows[5].getAttribute("aria-label")).toBe(`Received BYE from ${BOB} to ${US} at 09:30:05.000`);
    // One tab stop: the first arrow, until one is chosen.
    expect(arrows.map((a) => a.tabIndex)).toEqual([0, -1, -1, -1, -1, -1, -1]);
    expect(screen.queryByTestId("trace-raw")).toBeNull();
    await fireEvent.click(arrows[3]);
    const raw = await screen.findByTestId("trace-raw-text");
    expect(raw.textContent).toContain("200 OK raw text");
    expect(raw.textContent).toContain('response="********"');
    expect(arrows[3].getAttribute("aria-pressed")).toBe("true");
  });

  it("moves between arrows with the keyboard", async () => {
    render(Trace);
    await fireEvent.click((await screen.findAllByTestId("trace-dialog"))[0]);
    const arrows = await screen.findAllByTestId("trace-arrow");
    arrows[0].focus();
    await fireEvent.keyDown(arrows[0], { key: "ArrowDown" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getAllByTestId("trace-arrow")[1]));
    expect(screen.getByTestId("trace-raw-text").textContent).toContain("100 Trying raw text");
    await fireEvent.keyDown(document.activeElement!, { key: "End" });
    await waitFor(() => expect(document.activeElement).toBe(screen.getAllByTestId("trace-arrow")[6]));
  });

  it("exports one dialog or all and shows where the file went", async () => {
    render(Trace);
    await fireEvent.click((await screen.findAllByTestId("trace-dialog"))[0]);
    await fireEvent.click(await screen.findByTestId("trace-export"));
    expect(ipc.exportSipTrace).toHaveBeenCalledWith("call-1");
    expect((await screen.findByTestId("trace-exported")).textContent).toBe("Saved to /home/u/Downloads/parley-sip-trace-call-1.txt");
    await fireEvent.click(screen.getByTestId("trace-export-all"));
    expect(ipc.exportSipTrace).toHaveBeenCalledWith(null);
    await waitFor(() => expect(screen.getByTestId("trace-exported").textContent).toContain("parley-sip-trace-all.txt"));
  });

  it("shows an export failure", async () => {
    ipc.exportSipTrace.mockImplementation(async () => {
      throw new Error("cannot write /x: Permission denied");
    });
    render(Trace);
    await fireEvent.click((await screen.findAllByTestId("trace-dialog"))[0]);
    await fireEvent.click(await screen.findByTestId("trace-export"));
    expect((await screen.findByRole("alert")).textContent).toBe("Cannot export: cannot write /x: Permission denied");
  });

  it("clears, refreshes and turns recording off", async () => {
    render(Trace);
    await screen.findByTestId("trace-dialogs");
    await fireEvent.click(screen.getByTestId("trace-clear"));
    expect(await screen.findByTestId("trace-empty")).toHaveProperty("textContent", expect.stringContaining("No SIP messages recorded yet."));
    dialogs = [dialog("sub-1", "SUBSCRIBE", null, 1)];
    await fireEvent.click(screen.getByTestId("trace-refresh"));
    const item = await screen.findByTestId("trace-dialog");
    expect(item.textContent).toContain("no final response");
    await fireEvent.click(screen.getByTestId("trace-enabled"));
    expect(ipc.setSipTraceEnabled).toHaveBeenCalledWith(false);
    expect((await screen.findByTestId("trace-empty")).textContent).toContain("Recording is off.");
  });

  it("picks up new dialogs and messages while open", async () => {
    render(Trace);
    await fireEvent.click((await screen.findAllByTestId("trace-dialog"))[0]);
    expect(await screen.findAllByTestId("trace-arrow")).toHaveLength(7);
    messages["call-1"] = [...call(), msg("sent", "INVITE", PROXY, 9000)];
    dialogs = [{ ...dialog("call-1", "INVITE", 200, 8), last_ms: T0 + 9000 }, dialog("msg-1", "MESSAGE", 202, 2), ...dialogs.slice(1)];
    await waitFor(() => expect(screen.getAllByTestId("trace-dialog").map((b) => b.dataset.method)).toEqual(["INVITE", "MESSAGE", "REGISTER"]), {
      timeout: 4000,
    });
    await waitFor(() => expect(screen.getAllByTestId("trace-arrow")).toHaveLength(8), { timeout: 4000 });
    expect(screen.getByTestId("trace-ladder")).toBeTruthy();
  });

  it("shows a dialog that is gone as an error, and speaks Russian", async () => {
    setLocale("ru");
    render(Trace);
    const items = await screen.findAllByTestId("trace-dialog");
    expect(items[0].textContent).toContain("7 сообщений");
    await fireEvent.click(items[1]);
    expect((await screen.findByTestId("trace-error")).textContent).toBe("no SIP trace for that Call-ID");
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("SIP-трассировка");
  });
});
