// "Check for updates" in Settings, with the IPC module replaced.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";
import { progressText, updateText } from "../src/lib/updates";

let progress: (p: { downloaded: number; total: number | null }) => void = () => {};
vi.mock("../src/lib/ipc", () => ({
  addAccount: vi.fn(async () => {}),
  removeAccount: vi.fn(async () => {}),
  checkUpdate: vi.fn(async () => ({ current: "0.1.0", available: null, notes: null })),
  installUpdate: vi.fn(async () => {}),
  onUpdateProgress: vi.fn(async (h: typeof progress) => {
    progress = h;
    return () => {};
  }),
}));

import Settings from "../src/screens/Settings.svelte";
import * as ipc from "../src/lib/ipc";

describe("update texts", () => {
  it("says what each step found", () => {
    expect(updateText({ step: "idle" })).toBe("");
    expect(updateText({ step: "checking" })).toBe("Checking for updates…");
    expect(updateText({ step: "checked", status: { current: "0.1.0", available: null, notes: null } })).toBe("Parley 0.1.0 is up to date.");
    expect(updateText({ step: "checked", status: { current: "0.1.0", available: "0.2.0", notes: null } })).toBe(
      "Version 0.2.0 is available (you have 0.1.0).",
    );
    expect(updateText({ step: "failed", during: "check", error: "offline" })).toBe("Cannot check for updates: offline");
    expect(updateText({ step: "failed", during: "install", error: "bad signature" })).toBe("Cannot install the update: bad signature");
    expect(updateText({ step: "installing", progress: null })).toBe("Installing the update…");
  });

  it("shows progress in percent, or megabytes without a total", () => {
    expect(progressText(null)).toBe("");
    expect(progressText({ downloaded: 512, total: 1024 })).toBe("50%");
    expect(progressText({ downloaded: 2048, total: 1024 })).toBe("100%");
    expect(progressText({ downloaded: 3 * 1_048_576, total: null })).toBe("3.0 MB");
  });
});

describe("settings: check for updates", () => {
  beforeEach(() => vi.clearAllMocks());
  afterEach(() => cleanup());

  it("reports up to date, and the error when the server cannot be reached", async () => {
    render(Settings);
    await fireEvent.click(screen.getByTestId("update-check"));
    await waitFor(() => expect(screen.getByTestId("update-status").textContent).toBe("Parley 0.1.0 is up to date."));
    vi.mocked(ipc.checkUpdate).mockRejectedValueOnce(new Error("the update server did not answer within 20 seconds"));
    await fireEvent.click(screen.getByTestId("update-check"));
    await waitFor(() =>
      expect(screen.getByTestId("update-status").textContent).toBe("Cannot check for updates: the update server did not answer within 20 seconds"),
    );
    expect(screen.queryByTestId("update-install")).toBeNull();
  });

  it("shows progress while checking and installs only after confirming", async () => {
    let answer: (s: { current: string; available: string | null; notes: string | null }) => void = () => {};
    vi.mocked(ipc.checkUpdate).mockImplementationOnce(() => new Promise((r) => (answer = r)));
    let finish: () => void = () => {};
    vi.mocked(ipc.installUpdate).mockImplementationOnce(() => new Promise((r) => (finish = r)));
    render(Settings);
    await fireEvent.click(screen.getByTestId("update-check"));
    await waitFor(() => expect(screen.getByTestId("update-check").textContent).toBe("Checking…"));
    expect((screen.getByTestId("update-check") as HTMLButtonElement).disabled).toBe(true);
    answer({ current: "0.1.0", available: "0.2.0", notes: "Call history" });
    await waitFor(() => expect(screen.getByTestId("update-status").textContent).toBe("Version 0.2.0 is available (you have 0.1.0)."));
    expect(screen.getByText("Call history")).toBeTruthy();

    await fireEvent.click(screen.getByTestId("update-install"));
    expect(ipc.installUpdate).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId("update-install-confirm"));
    await waitFor(() => expect(ipc.installUpdate).toHaveBeenCalledTimes(1));
    progress({ downloaded: 25, total: 100 });
    await waitFor(() => expect(screen.getByTestId("update-status").textContent).toBe("Installing the update… 25%"));
    finish();
  });
});
