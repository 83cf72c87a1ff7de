// Settings → Accounts → Edit: the pickup code can be changed after the
// account was made; the logic, and the screen with the IPC module replaced.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import { editForm, pickupError, pickupValue } from "../src/lib/accountEdit";
import type { AccountInput } from "../src/lib/bindings/AccountInput";

const office = (): AccountInput => ({
  name: "office",
  uri: "sip:alice@127.0.0.1",
  display_name: null,
  auth_user: null,
  proxy: null,
  transport: "udp",
  register: true,
  pickup_code: "*8",
});

vi.mock("../src/lib/ipc", () => ({
  addAccount: vi.fn(async () => {}),
  removeAccount: vi.fn(async () => {}),
  accountInput: vi.fn(async () => office()),
  setPickupCode: vi.fn(async () => {}),
}));

import Settings from "../src/screens/Settings.svelte";
import { app } from "../src/lib/app.svelte";
import * as ipc from "../src/lib/ipc";

describe("pickup code edit logic", () => {
  it("checks keypad characters, trims, and clears when empty", () => {
    expect(pickupError("")).toBeNull();
    expect(pickupError(" ** ")).toBeNull();
    expect(pickupError("*8a")).toBe("Up to 16 of 0-9, * and #");
    expect(pickupError("1".repeat(17))).toBe("Up to 16 of 0-9, * and #");
    expect(pickupValue(" ** ")).toBe("**");
    expect(pickupValue("  ")).toBeNull();
    expect(editForm(office())).toEqual({ pickupCode: "*8", realm: "", expires: "", optionsKeepalive: "" });
    expect(editForm({ ...office(), pickup_code: null }).pickupCode).toBe("");
  });
});

describe("advanced settings of an existing account", () => {
  it("shows what account_get returns as text, empty for the defaults", () => {
    expect(editForm({ ...office(), realm: "pbx.example.com", expires: 120, options_keepalive_secs: 30 })).toEqual({
      pickupCode: "*8", realm: "pbx.example.com", expires: "120", optionsKeepalive: "30",
    });
    expect(editForm({ ...office(), expires: 600, options_keepalive_secs: 0 })).toMatchObject({ expires: "600", optionsKeepalive: "" });
  });
});

describe("account editor", () => {
  beforeEach(() => {
    vi.clearAllMocks();
    app.accounts = [
      {
        name: "office",
        uri: "sip:alice@127.0.0.1",
        display_name: null,
        transport: "udp",
        local: false,
        registration: { state: "unregistered" },
      },
    ];
  });
  afterEach(() => {
    cleanup();
    app.accounts = [];
  });

  it("loads the saved code, refuses a bad one, saves a changed one and clears it", async () => {
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    expect(ipc.accountInput).toHaveBeenCalledWith("office");
    const field = (await screen.findByTestId("edit-pickup-code")) as HTMLInputElement;
    expect(field.value).toBe("*8");

    await fireEvent.input(field, { target: { value: "8x" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(screen.getByText("Up to 16 of 0-9, * and #")).toBeTruthy();
    expect(field.getAttribute("aria-invalid")).toBe("true");
    expect(ipc.setPickupCode).not.toHaveBeenCalled();

    await fireEvent.input(field, { target: { value: " ** " } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(ipc.setPickupCode).toHaveBeenCalledWith("office", "**");
    await waitFor(() => expect(screen.getByTestId("edit-status").textContent).toBe("Pickup code saved."));

    await fireEvent.input(field, { target: { value: "" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(ipc.setPickupCode).toHaveBeenLastCalledWith("office", null);

    await fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByTestId("account-editor")).toBeNull();
  });

  it("shows the engine's refusal and a load failure", async () => {
    vi.mocked(ipc.setPickupCode).mockRejectedValueOnce(new Error("account office: pickup_code must be 1 to 16 of 0-9, * and #"));
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    const field = (await screen.findByTestId("edit-pickup-code")) as HTMLInputElement;
    await fireEvent.input(field, { target: { value: "*9" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    await waitFor(() =>
      expect(screen.getByTestId("edit-status").textContent).toBe("account office: pickup_code must be 1 to 16 of 0-9, * and #"),
    );
    await fireEvent.click(screen.getByRole("button", { name: "Close" }));

    vi.mocked(ipc.accountInput).mockRejectedValueOnce(new Error("no account \"office\""));
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    await waitFor(() =>
      expect(within(screen.getByTestId("account-editor")).getByRole("alert").textContent).toBe(
        'Cannot read the account: no account "office"',
      ),
    );
  });

  it("shows the account's realm, expiry and keep-alive", async () => {
    vi.mocked(ipc.accountInput).mockResolvedValueOnce({ ...office(), realm: "pbx.example.com", expires: 120, options_keepalive_secs: 30 });
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    const group = await screen.findByRole("region", { name: "Advanced" });
    expect(within(group).getByTestId("edit-realm").textContent).toBe("pbx.example.com");
    expect(within(group).getByTestId("edit-expires").textContent).toBe("120");
    expect(within(group).getByTestId("edit-keepalive").textContent).toBe("30");
    await fireEvent.click(screen.getByRole("button", { name: "Close" }));

    vi.mocked(ipc.accountInput).mockResolvedValueOnce({ ...office(), expires: 600 });
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    await screen.findByTestId("edit-advanced");
    expect(screen.getByTestId("edit-realm").textContent).toBe("Any");
    expect(screen.getByTestId("edit-keepalive").textContent).toBe("Off");
  });
});

describe("add-account form, advanced group", () => {
  beforeEach(() => {
    vi.clearAllMocks();
    app.accounts = [];
  });
  afterEach(() => cleanup());

  const fill = async (label: string, value: string) =>
    fireEvent.input(screen.getByLabelText(label, { selector: "input" }), { target: { value } });

  it("labels each field, shows errors next to them and sends the values", async () => {
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Add account" }));
    const group = screen.getByRole("group", { name: "Advanced" });
    const keepalive = within(group).getByLabelText("Keep-alive by OPTIONS (seconds)") as HTMLInputElement;
    const expires = within(group).getByLabelText("Registration expiry (seconds)") as HTMLInputElement;
    within(group).getByLabelText("Realm");
    expect(keepalive.value).toBe("");
    expect(keepalive.placeholder).toBe("off");
    // Every control is reachable with Tab: none is taken out of the order.
    for (const c of within(group).getAllByRole("textbox")) expect(c.tabIndex).toBe(0);

    await fill("Name", "office");
    await fill("SIP address", "sip:alice@127.0.0.1");
    await fill("Password", "pw");
    await fill("Registration expiry (seconds)", "5");
    await fill("Keep-alive by OPTIONS (seconds)", "2");
    await fireEvent.submit(screen.getByRole("form", { name: "Add account" }));
    expect(ipc.addAccount).not.toHaveBeenCalled();
    const expiresError = screen.getByText("A whole number of seconds from 10 to 86400");
    const keepaliveError = screen.getByText("0 (off) or a whole number of seconds from 5 to 3600");
    expect(expires.getAttribute("aria-invalid")).toBe("true");
    expect(expires.getAttribute("aria-describedby")?.split(" ")).toContain(expiresError.id);
    expect(keepalive.getAttribute("aria-describedby")?.split(" ")).toContain(keepaliveError.id);

    await fill("Realm", " pbx.example.com ");
    await fill("Registration expiry (seconds)", "120");
    await fill("Keep-alive by OPTIONS (seconds)", "30");
    await fireEvent.submit(screen.getByRole("form", { name: "Add account" }));
    expect(ipc.addAccount).toHaveBeenCalledWith(
      expect.objectContaining({ name: "office", realm: "pbx.example.com", expires: 120, options_keepalive_secs: 30 }),
      "pw",
    );
    expect(keepalive.getAttribute("aria-describedby")).toBe("add-keepalive-hint");
  });
});
