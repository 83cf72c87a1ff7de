//! The engine's side of the SIP trace: the recorded dialogs and their
//! messages, read straight from the shared trace (no round trip through
//! the engine task, which may be busy with calls).

use super::Engine;
use crate::trace::{SipTraceDialog, SipTraceMessage, TraceError};

impl Engine {
    /// The dialogs in the SIP trace (calls, registrations, subscriptions,
    /// messages), most recently active first.
    pub fn sip_trace_dialogs(&self) -> Vec<SipTraceDialog> {
        self.trace.dialogs()
    }

    /// The messages of the dialog with `call_id`, secrets masked.
    pub fn sip_trace(&self, call_id: &str) -> Result<Vec<SipTraceMessage>, TraceError> {
        self.trace.messages(call_id)
    }

    /// The trace of dialog `call_id`, or of every dialog, as plain text.
    pub fn sip_trace_export(&self, call_id: Option<&str>) -> Result<String, TraceError> {
        self.trace.export(call_id)
    }

    /// Forgets every recorded message.
    pub fn sip_trace_clear(&self) {
        self.trace.clear();
    }

    /// Turns recording on or off (off forgets what was recorded). On at start.
    pub fn set_sip_trace(&self, on: bool) {
        self.trace.set_enabled(on);
    }

    /// Whether messages are being recorded.
    pub fn sip_trace_enabled(&self) -> bool {
        self.trace.is_enabled()
    }
}
