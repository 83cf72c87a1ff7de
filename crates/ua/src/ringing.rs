//! Which tone the phone plays outside call audio: the ringtone while a
//! call rings here, ringback while our call rings at the peer without
//! early media, nothing once any call has audio of its own. A call that
//! rings while another is connected gets no ringtone over the speaker:
//! the connected call plays the call-waiting tone in its own audio
//! (`CallCommand::CallWaiting`) instead.
//!
//! The engine only decides ([`wanted`], pure); a thread of its own opens
//! and closes the output device ([`Ringing`]), so the engine task never
//! waits on the sound system.

use std::collections::HashMap;
use std::sync::mpsc;

use media::ringer::{Ringer, RingerTone};
use media::tones::ToneRegion;
use tracing::warn;

use crate::api::{CallDirection, CallInfo, CallState};

/// What the calls ask of the ringer, and whether a connected call should
/// play the call-waiting tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Wanted {
    /// The ringer's tone, if any.
    pub(crate) tone: Option<RingerTone>,
    /// A call rings here while another has audio.
    pub(crate) call_waiting: bool,
}

/// Decides from the live calls' states.
pub(crate) fn wanted<'a>(
    calls: impl IntoIterator<Item = &'a CallInfo>,
    region: ToneRegion,
) -> Wanted {
    let (mut audio, mut incoming, mut ringing_out) = (false, false, false);
    for c in calls {
        match c.state {
            CallState::Connected
            | CallState::OnHold
            | CallState::Transferring
            | CallState::EarlyMedia => audio = true,
            CallState::Incoming => incoming = true,
            CallState::Ringing if c.direction == CallDirection::Outgoing => ringing_out = true,
            _ => {}
        }
    }
    let tone = if audio {
        None
    } else if incoming {
        Some(RingerTone::Ringtone)
    } else if ringing_out {
        Some(RingerTone::Ringback(region))
    } else {
        None
    };
    Wanted {
        tone,
        call_waiting: audio && incoming,
    }
}

/// The ringer thread's handle.
pub(crate) struct Ringing {
    tx: mpsc::Sender<Option<RingerTone>>,
    current: Option<RingerTone>,
}

impl Ringing {
    /// A ringer on `output` (the default output for `None`).
    pub(crate) fn new(output: Option<String>) -> Option<Ringing> {
        let (tx, rx) = mpsc::channel::<Option<RingerTone>>();
        let spawned = std::thread::Builder::new()
            .name("parley-ringing".into())
            .spawn(move || {
                let mut playing: Option<Ringer> = None;
                let mut warned = false;
                while let Ok(want) = rx.recv() {
                    // Only the latest wish counts.
                    let want = rx.try_iter().last().unwrap_or(want);
                    if playing.as_ref().map(Ringer::tone) == want {
                        continue;
                    }
                    playing = None;
                    if let Some(tone) = want {
                        match Ringer::start(output.as_deref(), tone) {
                            Ok(r) => playing = Some(r),
                            Err(e) if !warned => {
                                warned = true;
                                warn!("cannot ring: {e}");
                            }
                            Err(_) => {}
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => Some(Ringing { tx, current: None }),
            Err(e) => {
                warn!("cannot start the ringer thread: {e}");
                None
            }
        }
    }

    /// Plays `tone` (or stops) unless it already does.
    pub(crate) fn set(&mut self, tone: Option<RingerTone>) {
        if tone != self.current {
            self.current = tone;
            let _ = self.tx.send(tone);
        }
    }
}

/// Keeps the last call-waiting wish per call, so the engine tells a call
/// only when it changes.
#[derive(Default)]
pub(crate) struct Waiting {
    on: HashMap<u32, bool>,
}

impl Waiting {
    /// The calls whose call-waiting tone must change, with the new value:
    /// connected calls get `on`, every other call off.
    pub(crate) fn changes<'a>(
        &mut self,
        calls: impl IntoIterator<Item = &'a CallInfo>,
        on: bool,
    ) -> Vec<(u32, bool)> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for c in calls {
            seen.push(c.id);
            let want = on && c.state == CallState::Connected;
            let was = self.on.get(&c.id).copied().unwrap_or(false);
            if want != was {
                out.push((c.id, want));
            }
            self.on.insert(c.id, want);
        }
        self.on.retain(|id, _| seen.contains(id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: u32, direction: CallDirection, state: CallState) -> CallInfo {
        CallInfo {
            id,
            account: "Local".into(),
            direction,
            peer_uri: "sip:bob@127.0.0.1".into(),
            peer_name: None,
            state,
            held_by_us: false,
            held_by_peer: false,
            muted: false,
            codec: None,
            started_ms: 0,
            answered_ms: None,
            conference: None,
            recording: None,
        }
    }

    const EU: ToneRegion = ToneRegion::Europe;

    #[test]
    fn ringtone_ringback_and_silence_follow_the_calls() {
        use CallDirection::{Incoming as In, Outgoing as Out};
        assert_eq!(wanted([], EU), Wanted::default());
        let ring_in = call(1, In, CallState::Incoming);
        assert_eq!(wanted([&ring_in], EU).tone, Some(RingerTone::Ringtone));
        let ring_out = call(2, Out, CallState::Ringing);
        assert_eq!(wanted([&ring_out], EU).tone, Some(RingerTone::Ringback(EU)));
        // An incoming call outranks our own ringback.
        assert_eq!(
            wanted([&ring_out, &ring_in], EU).tone,
            Some(RingerTone::Ringtone)
        );
        // Early media and answered calls bring their own audio.
        for s in [
            CallState::EarlyMedia,
            CallState::Connected,
            CallState::OnHold,
        ] {
            assert_eq!(wanted([&call(3, Out, s)], EU), Wanted::default(), "{s:?}");
        }
        let dialing = call(4, Out, CallState::Dialing);
        assert_eq!(wanted([&dialing], EU).tone, None, "no ringback before 180");
        // Call waiting: the second call rings inside the first's audio.
        let talking = call(5, Out, CallState::Connected);
        let w = wanted([&talking, &ring_in], EU);
        assert_eq!(
            w,
            Wanted {
                tone: None,
                call_waiting: true
            }
        );
    }

    #[test]
    fn call_waiting_changes_are_told_once() {
        use CallDirection::{Incoming as In, Outgoing as Out};
        let mut w = Waiting::default();
        let a = call(1, Out, CallState::Connected);
        let b = call(2, In, CallState::Incoming);
        assert_eq!(w.changes([&a, &b], true), vec![(1, true)]);
        assert_eq!(w.changes([&a, &b], true), vec![], "told once");
        // b answered (a on hold): a's tone stops.
        let a_held = call(1, Out, CallState::OnHold);
        let b_up = call(2, In, CallState::Connected);
        assert_eq!(w.changes([&a_held, &b_up], false), vec![(1, false)]);
        // Gone calls are forgotten.
        assert_eq!(w.changes([], false), vec![]);
        assert!(w.on.is_empty());
    }
}
