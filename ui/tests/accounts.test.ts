import { describe, expect, it } from "vitest";
import { applyEvent, primaryAccount, stateLabel, toInput, validateAccount, type AccountForm } from "../src/lib/accounts";
import type { AccountInfo } from "../src/lib/bindings/AccountInfo";

const acct = (name: string, state: AccountInfo["registration"]): AccountInfo => ({
  name, uri: `sip:${name}@127.0.0.1`, display_name: null, transport: "udp", local: false, registration: state,
});

const form = (over: Partial<AccountForm> = {}): AccountForm => ({
  name: "Work", uri: "sip:alice@127.0.0.1", displayName: "", authUser: "", proxy: "",
  transport: "udp", register: true, password: "pw", ...over,
});

describe("account state labels", () => {
  it("reads every state", () => {
    expect(stateLabel({ state: "local" })).toEqual({ text: "Local: direct calls", tone: "ok" });
    expect(stateLabel({ state: "registered", expires_in_s: 600 }).tone).toBe("ok");
    expect(stateLabel({ state: "registering" }).tone).toBe("busy");
    expect(stateLabel({ state: "failed", reason: "403 Forbidden" })).toEqual({ text: "Failed: 403 Forbidden", tone: "error" });
    expect(stateLabel({ state: "disabled" }).tone).toBe("off");
  });
});

describe("engine events", () => {
  it("replaces the list on accounts_changed and patches one account on registration", () => {
    const list = [acct("a", { state: "unregistered" }), acct("b", { state: "unregistered" })];
    const next = applyEvent(list, { event: "registration", account: "b", state: { state: "registering" } });
    expect(next[0]).toBe(list[0]);
    expect(next[1].registration).toEqual({ state: "registering" });
    expect(applyEvent(list, { event: "accounts_changed", accounts: [] })).toEqual([]);
  });

  it("summarises the first enabled account", () => {
    expect(primaryAccount([acct("a", { state: "disabled" }), acct("b", { state: "registering" })])?.name).toBe("b");
    expect(primaryAccount([acct("a", { state: "disabled" })])?.name).toBe("a");
    expect(primaryAccount([])).toBeUndefined();
  });
});

describe("add-account form", () => {
  it("accepts a complete form", () => {
    expect(validateAccount(form(), [])).toEqual({});
  });

  it("names each bad field", () => {
    const e = validateAccount(form({ name: " ", uri: "alice", proxy: "proxy.example.com", password: "" }), []);
    expect(Object.keys(e).sort()).toEqual(["name", "password", "proxy", "uri"]);
    expect(validateAccount(form(), ["Work"]).name).toMatch(/exists/);
    expect(validateAccount(form({ register: false, password: "" }), [])).toEqual({});
  });

  it("maps to the engine input, dropping empty optionals", () => {
    expect(toInput(form({ name: " Work ", displayName: "Alice", proxy: " " }))).toEqual({
      name: "Work", uri: "sip:alice@127.0.0.1", display_name: "Alice", auth_user: null, proxy: null,
      transport: "udp", register: true, pickup_code: null,
    });
    expect(toInput(form({ pickupCode: " *8 " })).pickup_code).toBe("*8");
  });

  it("checks the pickup code", () => {
    expect(validateAccount(form({ pickupCode: "**" }), [])).toEqual({});
    expect(validateAccount(form({ pickupCode: "*8x" }), []).pickupCode).toMatch(/0-9/);
  });
});
