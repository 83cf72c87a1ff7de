// The App shell rendered in jsdom with the IPC module replaced: checks that
// navigation, the status bar and the event stream are wired together. The
// real IPC is exercised by the end-to-end tests in tests/e2e.
import { describe, expect, it, vi, beforeEach } from "vitest";
import { render, screen, fireEvent, waitFor } from "@testing-library/svelte";
import type { Event } from "../src/lib/bindings/Event";

let emit: (e: Event) => void = () => {};
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({
    version: "9.9.9",
    accounts: [{ name: "Local", uri: "sip:parley@127.0.0.1", display_name: null, transport: "udp", local: true, registration: { state: "local" } }],
  })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  addAccount: vi.fn(async () => {}),
  removeAccount: vi.fn(async () => {}),
  contacts: vi.fn(async () => []),
  conversations: vi.fn(async () => []),
  onLinkError: vi.fn(async () => () => {}),
  unseenMissedCalls: vi.fn(async () => 0),
}));

import App from "../src/App.svelte";

describe("App shell", () => {
  beforeEach(() => {
    location.hash = "";
  });

  it("shows the engine snapshot and switches screens", async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Local: direct calls"));
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Contacts");

    await fireEvent.click(screen.getByRole("tab", { name: "Settings" }));
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Settings");
    expect(screen.getByTestId("engine-version").textContent).toBe("9.9.9");
    expect(location.hash).toBe("#/settings");

    await fireEvent.keyDown(window, { key: "2", altKey: true });
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Dialpad");
  });

  it("applies engine events to the status bar", async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state")).toBeTruthy());
    emit({
      event: "accounts_changed",
      accounts: [{ name: "Work", uri: "sip:alice@127.0.0.1", display_name: "Alice", transport: "tls", local: false, registration: { state: "failed", reason: "408 Request Timeout" } }],
    });
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Failed: 408 Request Timeout"));
    expect(screen.getByTestId("status-account").textContent).toBe("Alice");
  });

  it("validates the add-account form before calling the engine", async () => {
    const ipc = await import("../src/lib/ipc");
    location.hash = "#/settings";
    render(App);
    await fireEvent.click(screen.getByRole("button", { name: "Add account" }));
    await fireEvent.click(screen.getByRole("button", { name: "Save account" }));
    expect(screen.getByText("Use the form sip:user@domain")).toBeTruthy();
    expect(ipc.addAccount).not.toHaveBeenCalled();
  });
});
