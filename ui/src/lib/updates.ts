// The "Check for updates" flow in Settings: what each step says.
import type { UpdateProgress, UpdateStatus } from "./ipc";
import { t } from "./i18n.svelte";

export type UpdateState =
  | { step: "idle" }
  | { step: "checking" }
  | { step: "checked"; status: UpdateStatus }
  | { step: "installing"; progress: UpdateProgress | null }
  | { step: "failed"; during: "check" | "install"; error: string };

/** The line shown under the button. */
export function updateText(s: UpdateState): string {
  switch (s.step) {
    case "idle":
      return "";
    case "checking":
      return t("update.checking");
    case "checked":
      return s.status.available
        ? t("update.available", { version: s.status.available, current: s.status.current })
        : t("update.upToDate", { current: s.status.current });
    case "installing":
      return t("update.installing", { progress: progressText(s.progress) }).trimEnd();
    case "failed":
      return s.during === "check" ? t("update.checkFailed", { error: s.error }) : t("update.installFailed", { error: s.error });
  }
}

/** `42%`, or megabytes so far when the size is unknown. */
export function progressText(p: UpdateProgress | null): string {
  if (!p) return "";
  if (p.total && p.total > 0) return `${Math.min(100, Math.floor((p.downloaded / p.total) * 100))}%`;
  return t("update.mb", { mb: (p.downloaded / 1_048_576).toFixed(1) });
}
