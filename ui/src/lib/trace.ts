// The SIP trace view's layout: which columns a dialog's ladder diagram
// has (our UA, then each remote address in order of appearance), one row
// per message with its arrow's ends, label and time. Pure, so it is
// tested without a window; Trace.svelte only draws it.
import type { SipTraceDialog } from "./bindings/SipTraceDialog";
import type { SipTraceMessage } from "./bindings/SipTraceMessage";

export interface LadderColumn {
  /** "local", or the remote address. */
  key: string;
  /** What the column head shows: our address(es), or the peer's. */
  address: string;
  local: boolean;
}

export type Tone = "request" | "provisional" | "success" | "redirect" | "failure";

export interface LadderRow {
  seq: number;
  /** Column index the arrow starts at. */
  from: number;
  /** Column index the arrow points to. */
  to: number;
  /** The arrow points right (towards a higher column). */
  rightward: boolean;
  /** Method of a request, status code and reason of a response. */
  label: string;
  /** For a response, the method it answers (tells the 200 of INVITE from BYE's). */
  answers: string | null;
  tone: Tone;
  /** Wall-clock time, HH:MM:SS.mmm in local time. */
  time: string;
  /** Seconds since the dialog's first message, e.g. "+1.250". */
  offset: string;
  message: SipTraceMessage;
}

export interface Ladder {
  columns: LadderColumn[];
  rows: LadderRow[];
}

/** Lays out a dialog's messages as a ladder: our UA leftmost, then each remote address. */
export function ladder(messages: readonly SipTraceMessage[]): Ladder {
  const locals = [...new Set(messages.map((m) => m.local).filter((a) => a !== ""))];
  const columns: LadderColumn[] = [{ key: "local", address: locals.join(", "), local: true }];
  const index = new Map<string, number>();
  for (const m of messages) {
    if (!index.has(m.remote)) {
      index.set(m.remote, columns.length);
      columns.push({ key: m.remote, address: m.remote, local: false });
    }
  }
  const start = messages.length ? messages[0].time_ms : 0;
  const rows = messages.map((m): LadderRow => {
    const remote = index.get(m.remote) ?? 1;
    const [from, to] = m.direction === "sent" ? [0, remote] : [remote, 0];
    return {
      seq: m.seq,
      from,
      to,
      rightward: to > from,
      label: m.summary,
      answers: m.status === null ? null : m.method,
      tone: tone(m.status),
      time: clock(m.time_ms),
      offset: `+${((m.time_ms - start) / 1000).toFixed(3)}`,
      message: m,
    };
  });
  return { columns, rows };
}

/** How a message is coloured: requests, then responses by status class. */
export function tone(status: number | null): Tone {
  if (status === null) return "request";
  if (status < 200) return "provisional";
  if (status < 300) return "success";
  if (status < 400) return "redirect";
  return "failure";
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** HH:MM:SS.mmm in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The grid placement of an arrow: the columns it spans (1-based, after the time column). */
export function arrowSpan(row: Pick<LadderRow, "from" | "to">): { start: number; span: number } {
  const lo = Math.min(row.from, row.to);
  const hi = Math.max(row.from, row.to);
  // Grid column 1 holds the times; ladder column i is grid column i + 2.
  return { start: lo + 2, span: hi - lo + 1 };
}

/** The dialog list's status text: the final status, or none yet. */
export function dialogStatus(d: Pick<SipTraceDialog, "final_status">): { text: string; tone: Tone } | null {
  if (d.final_status === null) return null;
  return { text: String(d.final_status), tone: tone(d.final_status) };
}

/** The peer without the scheme, as lists show addresses. */
export function peerShort(d: Pick<SipTraceDialog, "peer" | "remote">): string {
  const p = d.peer.replace(/^sips?:/i, "");
  return p || d.remote;
}

/** The row to move to from `current` with an arrow key, or null at the ends. */
export function stepRow(rows: readonly Pick<LadderRow, "seq">[], current: number | null, key: string): number | null {
  if (!rows.length) return null;
  const i = rows.findIndex((r) => r.seq === current);
  switch (key) {
    case "ArrowDown":
      return rows[i < 0 ? 0 : Math.min(i + 1, rows.length - 1)].seq;
    case "ArrowUp":
      return rows[i < 0 ? 0 : Math.max(i - 1, 0)].seq;
    case "Home":
      return rows[0].seq;
    case "End":
      return rows[rows.length - 1].seq;
    default:
      return null;
  }
}
