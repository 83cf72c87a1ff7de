import { describe, expect, it } from "vitest";
import { cleanPaste, dialTarget, isDialpadKey, lastDialled, rememberDialled } from "../src/lib/dial";

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

describe("redial and paste", () => {
  it("remembers the last target", () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(lastDialled(storage)).toBeNull();
    rememberDialled("sip:bob@127.0.0.1", storage);
    expect(lastDialled(storage)).toBe("sip:bob@127.0.0.1");
  });

  it("survives storage that throws", () => {
    const broken = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); } };
    expect(lastDialled(broken)).toBeNull();
    expect(() => rememberDialled("1", broken)).not.toThrow();
  });

  it("cleans pasted text", () => {
    expect(cleanPaste("  +49 171 234-56 \n")).toBe("+49 171 234-56");
    expect(cleanPaste("\n\nsip:bob@example.org\nsecond line")).toBe("sip:bob@example.org");
    expect(cleanPaste("callto://bob@example.org")).toBe("bob@example.org");
    expect(cleanPaste("callto:+123")).toBe("+123");
    expect(cleanPaste("")).toBe("");
  });
});
