import { describe, expect, it } from "vitest";
import {
  applyEvent, expiresError, keepaliveError, primaryAccount, stateLabel, toInput, validateAccount, type AccountForm,
} from "../src/lib/accounts";
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

describe("advanced account settings", () => {
  it("checks the expiry like the engine: 10-86400 s when registering, empty for the default", () => {
    for (const ok of ["", " ", "10", "600", " 120 ", "86400"]) expect(expiresError(ok, true), ok).toBeNull();
    for (const bad of ["9", "0", "86401", "1e3", "60s", "-10", "1.5", "abc"]) {
      expect(expiresError(bad, true), bad).toBe("A whole number of seconds from 10 to 86400");
    }
    // Not registering: the engine does not check the range, only numbers are asked for.
    expect(expiresError("5", false)).toBeNull();
    expect(expiresError("x", false)).not.toBeNull();
  });

  it("checks the keep-alive like the engine: empty or 0 is off, else 5-3600 s", () => {
    for (const ok of ["", "0", "5", "30", " 3600 "]) expect(keepaliveError(ok), ok).toBeNull();
    for (const bad of ["1", "4", "3601", "30s", "-5", "0.5"]) {
      expect(keepaliveError(bad), bad).toBe("0 (off) or a whole number of seconds from 5 to 3600");
    }
  });

  it("names the bad advanced fields next to the others", () => {
    const e = validateAccount(form({ expires: "5", optionsKeepalive: "2" }), []);
    expect(Object.keys(e).sort()).toEqual(["expires", "optionsKeepalive"]);
    expect(validateAccount(form({ realm: "pbx", expires: "120", optionsKeepalive: "30" }), [])).toEqual({});
  });

  it("maps to the engine input, leaving defaults out", () => {
    const input = toInput(form({ realm: " pbx.example.com ", expires: " 120 ", optionsKeepalive: "30" }));
    expect(input.realm).toBe("pbx.example.com");
    expect(input.expires).toBe(120);
    expect(input.options_keepalive_secs).toBe(30);
    // Empty fields and a keep-alive of 0 are not sent (engine defaults: any realm, 600 s, off).
    for (const f of [form(), form({ realm: " ", expires: "", optionsKeepalive: "0" })]) {
      const plain = toInput(f);
      expect("realm" in plain || "expires" in plain || "options_keepalive_secs" in plain).toBe(false);
      expect(JSON.parse(JSON.stringify(plain))).toEqual({
        name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, auth_user: null, proxy: null,
        transport: "udp", register: true, pickup_code: null,
      });
    }
    // The password is never part of what the form maps to.
    expect(JSON.stringify(toInput(form({ password: "s3cret" })))).not.toContain("s3cret");
  });
});
