// Contact search over the whole list, not only the rendered rows: the
// lower-cased text and digits of each contact are prepared once per
// contact list, so each keystroke is a plain substring scan (the same
// matching as `filterContacts`, without rebuilding strings per query).
import type { ContactEntry } from "./bindings/ContactEntry";

export interface SearchIndex {
  entries: ContactEntry[];
  hay: string[];
  digits: string[];
}

export function searchIndex(entries: ContactEntry[]): SearchIndex {
  const hay: string[] = new Array(entries.length);
  const digits: string[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const c = entries[i].contact;
    hay[i] = [c.name, c.sip_uri ?? "", ...c.phones.map((p) => p.number)].join(" ").toLowerCase();
    digits[i] = c.phones.map((p) => p.number.replace(/[^0-9+*#]/g, "")).join(" ");
  }
  return { entries, hay, digits };
}

/** Contacts whose name, SIP address or a number contains every word of `query`, in list order. */
export function searchContacts(index: SearchIndex, query: string): ContactEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return index.entries;
  const dialable = words.map((w) => /^[0-9+*#]+$/.test(w));
  const out: ContactEntry[] = [];
  for (let i = 0; i < index.entries.length; i++) {
    const hay = index.hay[i];
    let all = true;
    for (let j = 0; j < words.length && all; j++) {
      all = hay.includes(words[j]) || (dialable[j] && index.digits[i].includes(words[j]));
    }
    if (all) out.push(index.entries[i]);
  }
  return out;
}
