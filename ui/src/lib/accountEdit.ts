// The account editor's logic: what it shows of an account and how an edit
// is checked before the engine (which checks again and saves it).
import type { AccountInput } from "./bindings/AccountInput";
import { t } from "./i18n.svelte";
import { validateAccount, type AccountForm, type FormErrors } from "./accounts";

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

/** The whole editor form of an engine account; the password starts empty
 * (empty keeps the one in the keyring: it never comes back to the UI). */
export function formOf(a: AccountInput): AccountForm {
  return {
    name: a.name,
    uri: a.uri,
    displayName: a.display_name ?? "",
    authUser: a.auth_user ?? "",
    proxy: a.proxy ?? "",
    transport: a.transport,
    register: a.register,
    password: "",
    ...editForm(a),
  };
}

/** The add form's checks, but the name is the account's own and an empty
 * password keeps the current one. */
export function validateEdit(f: AccountForm): FormErrors {
  const errors = validateAccount({ ...f, password: f.password || "kept" }, []);
  delete errors.name;
  return errors;
}
