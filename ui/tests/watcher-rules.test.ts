// Settings → Who may see your status, with the IPC module replaced.
import { describe, expect, it, vi, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup } from "@testing-library/svelte";

vi.mock("../src/lib/ipc", () => ({
  watcherDecisions: vi.fn(async (account: string) =>
    account === "Work"
      ? [
          { account: "Work", watcher: "sip:dave@127.0.0.1", allowed: true },
          { account: "Work", watcher: "sip:eve@127.0.0.1", allowed: false },
        ]
      : [],
  ),
  forgetWatcher: vi.fn(async () => {}),
}));

import WatcherRules from "../src/components/WatcherRules.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

describe("watcher decisions in settings", () => {
  afterEach(cleanup);

  it("lists each account's decisions and unblocks one", async () => {
    app.accounts = [
      { name: "Local" } as never,
      { name: "Work" } as never,
    ];
    render(WatcherRules);
    await waitFor(() => expect(screen.getAllByTestId("watcher-rule")).toHaveLength(2));
    expect(ipc.watcherDecisions).toHaveBeenCalledWith("Local");
    expect(ipc.watcherDecisions).toHaveBeenCalledWith("Work");
    expect(screen.getByLabelText("Forget the decision about sip:dave@127.0.0.1")).toBeTruthy();
    await fireEvent.click(screen.getByLabelText("Unblock sip:eve@127.0.0.1"));
    await waitFor(() => expect(screen.getAllByTestId("watcher-rule")).toHaveLength(1));
    expect(ipc.forgetWatcher).toHaveBeenCalledWith("Work", "sip:eve@127.0.0.1");
  });

  it("says when the engine refuses", async () => {
    app.accounts = [{ name: "Work" } as never];
    vi.mocked(ipc.forgetWatcher).mockRejectedValueOnce(new Error("the engine has stopped"));
    render(WatcherRules);
    await waitFor(() => expect(screen.getAllByTestId("watcher-rule")).toHaveLength(2));
    await fireEvent.click(screen.getByLabelText("Forget the decision about sip:dave@127.0.0.1"));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("Cannot change it: the engine has stopped"));
    expect(screen.getAllByTestId("watcher-rule")).toHaveLength(2);
  });
});
