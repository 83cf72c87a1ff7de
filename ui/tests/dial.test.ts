import { describe, expect, it } from "vitest";
import { dialTarget, isDialpadKey } from "../src/lib/dial";

const me = "sip:alice@pbx.example.com";

describe("dial target", () => {
  it("places numbers and user names in the account's domain", () => {
    expect(dialTarget("1234", me)).toBe("sip:1234@pbx.example.com");
    expect(dialTarget("+49 171 234-56", me)).toBe("sip:+4917123456@pbx.example.com");
    expect(dialTarget("bob", me)).toBe("sip:bob@pbx.example.com");
  });

  it("keeps full URIs and completes user@host", () => {
    expect(dialTarget("sips:bob@example.org", me)).toBe("sips:bob@example.org");
    expect(dialTarget("tel:+123", me)).toBe("tel:+123");
    expect(dialTarget("bob@192.0.2.7:5070", me)).toBe("sip:bob@192.0.2.7:5070");
  });

  it("refuses what cannot be called", () => {
    expect(dialTarget("   ", me)).toBeNull();
    expect(dialTarget("hello world", me)).toBeNull();
    expect(dialTarget("sip:a b@c", me)).toBeNull();
    expect(dialTarget("1234", "not-a-uri")).toBeNull();
  });

  it("knows the keypad keys", () => {
    expect([..."0123456789*#+"].every(isDialpadKey)).toBe(true);
    expect(isDialpadKey("a")).toBe(false);
    expect(isDialpadKey("12")).toBe(false);
  });
});
