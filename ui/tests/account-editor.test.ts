// Settings → Accounts → Edit: the pickup code can be changed after the
// account was made; the logic, and the screen with the IPC module replaced.
import { describe, expect, it, vi, beforeEach, afterEach } from "vitest";
import { render, screen, fireEvent, waitFor, cleanup, within } from "@testing-library/svelte";
import { editForm, formOf, pickupError, pickupValue, validateEdit } from "../src/lib/accountEdit";
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
  updateAccount: vi.fn(async () => {}),
  setAccountEnabled: vi.fn(async () => {}),
  reregisterAccount: vi.fn(async () => {}),
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

describe("whole-account edit logic", () => {
  it("fills the form from the engine without a password and keeps it optional", () => {
    const f = formOf({ ...office(), proxy: "sip:p.example.com", expires: 600 });
    expect(f).toMatchObject({ name: "office", uri: "sip:alice@127.0.0.1", proxy: "sip:p.example.com", displayName: "", password: "", register: true, expires: "600" });
    expect(validateEdit(f)).toEqual({});
    expect(Object.keys(validateEdit({ ...f, uri: "alice", expires: "5" })).sort()).toEqual(["expires", "uri"]);
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

  it("loads every field, refuses bad input next to the field, saves all of it, keeps the password when empty", async () => {
    vi.mocked(ipc.accountInput).mockResolvedValueOnce({ ...office(), realm: "pbx.example.com", expires: 120, options_keepalive_secs: 30 });
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    expect(ipc.accountInput).toHaveBeenCalledWith("office");
    const uri = (await screen.findByLabelText("SIP address")) as HTMLInputElement;
    expect(uri.value).toBe("sip:alice@127.0.0.1");
    expect((screen.getByTestId("edit-pickup-code") as HTMLInputElement).value).toBe("*8");
    const group = screen.getByRole("group", { name: "Advanced" });
    expect((within(group).getByLabelText("Realm") as HTMLInputElement).value).toBe("pbx.example.com");
    expect((within(group).getByLabelText("Registration expiry (seconds)") as HTMLInputElement).value).toBe("120");
    expect((within(group).getByLabelText("Keep-alive by OPTIONS (seconds)") as HTMLInputElement).value).toBe("30");
    const password = screen.getByTestId("edit-password") as HTMLInputElement;
    expect(password.value).toBe("");

    await fireEvent.input(uri, { target: { value: "bob" } });
    await fireEvent.input(screen.getByTestId("edit-pickup-code"), { target: { value: "8x" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(ipc.updateAccount).not.toHaveBeenCalled();
    expect(uri.getAttribute("aria-invalid")).toBe("true");
    expect(uri.getAttribute("aria-describedby")).toBe("edit-uri-error");
    expect(screen.getByText("Up to 16 of 0-9, * and #")).toBeTruthy();

    await fireEvent.input(uri, { target: { value: "sip:bob@pbx.example.com" } });
    await fireEvent.input(screen.getByTestId("edit-pickup-code"), { target: { value: " ** " } });
    await fireEvent.change(screen.getByLabelText("Transport"), { target: { value: "tls" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(ipc.updateAccount).toHaveBeenCalledWith(
      "office",
      expect.objectContaining({ name: "office", uri: "sip:bob@pbx.example.com", transport: "tls", pickup_code: "**", realm: "pbx.example.com", expires: 120, options_keepalive_secs: 30 }),
      null,
    );
    await waitFor(() => expect(screen.getByTestId("edit-status").textContent).toBe("Account saved; registering with the new settings."));

    // A new password goes to the engine once, and leaves the form.
    await fireEvent.input(password, { target: { value: "s3cret" } });
    await fireEvent.submit(screen.getByTestId("account-editor"));
    expect(ipc.updateAccount).toHaveBeenLastCalledWith("office", expect.anything(), "s3cret");
    await waitFor(() => expect(password.value).toBe(""));
    await fireEvent.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByTestId("account-editor")).toBeNull();
  });

  it("shows progress while saving, the engine's refusal and a load failure", async () => {
    let finish: (e: Error) => void = () => {};
    vi.mocked(ipc.updateAccount).mockImplementationOnce(() => new Promise((_, reject) => (finish = reject)));
    render(Settings);
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    await screen.findByTestId("edit-pickup-code");
    await fireEvent.submit(screen.getByTestId("account-editor"));
    const save = screen.getByTestId("edit-save") as HTMLButtonElement;
    await waitFor(() => expect(save.disabled).toBe(true));
    expect(save.getAttribute("aria-busy")).toBe("true");
    finish(new Error("account \"office\": invalid uri"));
    await waitFor(() => expect(screen.getByTestId("edit-status").textContent).toBe('account "office": invalid uri'));
    expect(save.disabled).toBe(false);
    await fireEvent.click(screen.getByRole("button", { name: "Close" }));
    vi.mocked(ipc.accountInput).mockRejectedValueOnce(new Error("no account \"office\""));
    await fireEvent.click(screen.getByRole("button", { name: "Edit account office" }));
    await waitFor(() =>
      expect(within(screen.getByTestId("account-editor")).getByRole("alert").textContent).toBe(
        'Cannot read the account: no account "office"',
      ),
    );
  });

  it("enables, disables and re-registers from the account list, with progress and errors", async () => {
    render(Settings);
    const enabled = screen.getByRole("switch", { name: "Account office enabled" }) as HTMLInputElement;
    expect(enabled.checked).toBe(true);
    await fireEvent.click(enabled);
    expect(ipc.setAccountEnabled).toHaveBeenCalledWith("office", false);

    let finish: () => void = () => {};
    vi.mocked(ipc.reregisterAccount).mockImplementationOnce(() => new Promise<void>((resolve) => (finish = resolve)));
    const again = screen.getByRole("button", { name: "Register account office again" }) as HTMLButtonElement;
    await fireEvent.click(again);
    expect(ipc.reregisterAccount).toHaveBeenCalledWith("office");
    await waitFor(() => expect(again.disabled).toBe(true));
    expect(again.getAttribute("aria-busy")).toBe("true");
    expect(again.textContent).toBe("Registering…");
    finish();
    await waitFor(() => expect(again.disabled).toBe(false));

    vi.mocked(ipc.reregisterAccount).mockRejectedValueOnce(new Error("account \"office\" has no password"));
    await fireEvent.click(again);
    const error = await screen.findByTestId("account-row-error");
    expect(error.textContent).toBe('account "office" has no password');
    expect(again.getAttribute("aria-describedby")).toBe(error.id);

    // A disabled account shows the switch off and cannot re-register.
    app.accounts = [{ ...app.accounts[0], registration: { state: "disabled" } }];
    await waitFor(() => expect((screen.getByRole("switch", { name: "Account office enabled" }) as HTMLInputElement).checked).toBe(false));
    expect((screen.getByRole("button", { name: "Register account office again" }) as HTMLButtonElement).disabled).toBe(true);
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
