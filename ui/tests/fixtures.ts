// Builders for engine types shared by the tests.
import type { CallInfo } from "../src/lib/bindings/CallInfo";
import type { ChatMessage } from "../src/lib/bindings/ChatMessage";

// ts-rs types the i64 times as bigint; over JSON they are numbers.
// (`as never` fits either while the bindings move from bigint to number.)
export const ms = (n: number) => n as never;

export function info(over: Partial<CallInfo> = {}): CallInfo {
  return {
    id: 1,
    account: "Work",
    direction: "outgoing",
    peer_uri: "sip:bob@127.0.0.1",
    peer_name: null,
    state: "dialing",
    held_by_us: false,
    held_by_peer: false,
    muted: false,
    codec: null,
    started_ms: ms(1_000_000),
    answered_ms: null,
    conference: null,
    recording: null,
    ...over,
  };
}


export const msg = (over: Partial<ChatMessage> = {}): ChatMessage => ({
  id: ms(1),
  conversation: ms(10),
  account: "Work",
  peer: "sip:bob@127.0.0.1",
  outgoing: false,
  text: "hi",
  at_ms: ms(1000),
  state: { state: "received" },
  unread: true,
  ...over,
});

