// The "Check for updates" flow in Settings: what each step says.
import type { UpdateProgress, UpdateStatus } from "./ipc";

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
      return "Checking for updates…";
    case "checked":
      return s.status.available ? `Version ${s.status.available} is available (you have ${s.status.current}).` : `Parley ${s.status.current} is up to date.`;
    case "installing":
      return `Installing the update… ${progressText(s.progress)}`.trimEnd();
    case "failed":
      return s.during === "check" ? `Cannot check for updates: ${s.error}` : `Cannot install the update: ${s.error}`;
  }
}

/** `42%`, or megabytes so far when the size is unknown. */
export function progressText(p: UpdateProgress | null): string {
  if (!p) return "";
  if (p.total && p.total > 0) return `${Math.min(100, Math.floor((p.downloaded / p.total) * 100))}%`;
  return `${(p.downloaded / 1_048_576).toFixed(1)} MB`;
}
