// The account editor's logic: what it shows of an account and how an edit
// is checked before the engine (which checks again and saves it).
import type { AccountInput } from "./bindings/AccountInput";
import { t } from "./i18n.svelte";

const PICKUP = /^[0-9*#]{1,16}$/;

/** The pickup code field's error, or null when it is fine (empty clears it). */
export function pickupError(code: string): string | null {
  const c = code.trim();
  return c && !PICKUP.test(c) ? t("account.err.pickup") : null;
}

/** What the engine gets: the trimmed code, or null to clear it. */
export const pickupValue = (code: string): string | null => code.trim() || null;

/** The editor's starting values from the engine's account: the pickup code
 * (editable) and the advanced settings as text (empty: the default). */
export interface EditForm {
  pickupCode: string;
  realm: string;
  expires: string;
  optionsKeepalive: string;
}

export function editForm(a: AccountInput): EditForm {
  return {
    pickupCode: a.pickup_code ?? "",
    realm: a.realm ?? "",
    expires: a.expires == null ? "" : String(a.expires),
    optionsKeepalive: a.options_keepalive_secs ? String(a.options_keepalive_secs) : "",
  };
}
