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

const LAST_DIALLED = "parley.lastDialled";

/** The last target the user called from the dialpad, for redial. */
export function lastDialled(storage: Pick<Storage, "getItem"> = localStorage): string | null {
  try {
    return storage.getItem(LAST_DIALLED);
  } catch {
    return null;
  }
}

export function rememberDialled(target: string, storage: Pick<Storage, "setItem"> = localStorage): void {
  try {
    storage.setItem(LAST_DIALLED, target);
  } catch {
    // Storage may be unavailable (private mode); redial simply has nothing.
  }
}

/** Text pasted into the dialpad: its first non-empty line, trimmed, without a `callto:` prefix. */
export function cleanPaste(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim()) ?? "";
  return line.trim().replace(/^callto:(\/\/)?/i, "");
}
