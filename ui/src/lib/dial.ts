// Turning what the user typed on the dialpad into a SIP URI.

const DIALPAD_KEYS = "0123456789*#+";

export function isDialpadKey(k: string): boolean {
  return k.length === 1 && DIALPAD_KEYS.includes(k);
}

/**
 * The URI to call for `input`, given the account's address of record:
 * full URIs are kept, `user@host` gets `sip:`, and numbers or bare user
 * names are placed in the account's domain. Null when nothing callable.
 */
export function dialTarget(input: string, accountUri: string): string | null {
  const text = input.trim();
  if (!text) return null;
  if (/^(sips?|tel):/i.test(text)) return /\s/.test(text) ? null : text;
  if (/\s/.test(text)) {
    // Numbers are often pasted with spaces or dashes: 0171 234-56
    const digits = text.replace(/[\s\-().]/g, "");
    return /^\+?[0-9*#]+$/.test(digits) ? dialTarget(digits, accountUri) : null;
  }
  if (text.includes("@")) return `sip:${text}`;
  const domain = accountUri.replace(/^sips?:/i, "").split("@")[1];
  if (!domain) return null;
  return `sip:${text}@${domain}`;
}
