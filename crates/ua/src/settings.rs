//! Sound and codec settings as the app shows them: which devices, which
//! processing stages, which codecs in which order. They are kept in the
//! config file's `[media]` table (`store::MediaPrefs`) and apply to the
//! ringer at once and to every call that starts afterwards.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A codec the user can order or leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum CodecName {
    /// Opus, 48 kHz wideband/fullband.
    Opus,
    /// G.722, 16 kHz wideband.
    G722,
    /// G.711 µ-law, 8 kHz.
    Pcmu,
    /// G.711 A-law, 8 kHz.
    Pcma,
}

impl CodecName {
    /// The config file's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodecName::Opus => "opus",
            CodecName::G722 => "g722",
            CodecName::Pcmu => "pcmu",
            CodecName::Pcma => "pcma",
        }
    }

    const ALL: [CodecName; 4] = [
        CodecName::Opus,
        CodecName::G722,
        CodecName::Pcmu,
        CodecName::Pcma,
    ];

    fn from_config(s: &str) -> Option<CodecName> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub(crate) fn kind(self) -> media::sdp::CodecKind {
        use media::sdp::CodecKind;
        match self {
            CodecName::Opus => CodecKind::Opus,
            CodecName::G722 => CodecKind::G722,
            CodecName::Pcmu => CodecKind::Pcmu,
            CodecName::Pcma => CodecKind::Pcma,
        }
    }
}

/// Devices, processing and codecs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MediaSettings {
    /// Microphone (a device id or name); `None`: the system default.
    pub input: Option<String>,
    /// Speaker or headset for calls; `None`: the system default.
    pub output: Option<String>,
    /// Where the ringtone plays; `None`: the call output.
    pub ringer: Option<String>,
    /// Acoustic echo cancellation.
    pub echo_cancellation: bool,
    /// Noise suppression.
    pub noise_suppression: bool,
    /// Automatic gain control.
    pub auto_gain: bool,
    /// Codecs offered and accepted, most preferred first.
    pub codecs: Vec<CodecName>,
}

impl MediaSettings {
    pub(crate) fn from_prefs(p: &store::MediaPrefs) -> MediaSettings {
        MediaSettings {
            input: p.input.clone(),
            output: p.output.clone(),
            ringer: p.ringer.clone(),
            echo_cancellation: p.echo_cancellation,
            noise_suppression: p.noise_suppression,
            auto_gain: p.auto_gain,
            // The config was validated on load: every name is known.
            codecs: p
                .codecs
                .iter()
                .filter_map(|c| CodecName::from_config(c))
                .collect(),
        }
    }

    pub(crate) fn to_prefs(&self) -> store::MediaPrefs {
        let name = |d: &Option<String>| d.as_ref().map(|s| s.trim().to_owned());
        store::MediaPrefs {
            input: name(&self.input),
            output: name(&self.output),
            ringer: name(&self.ringer),
            echo_cancellation: self.echo_cancellation,
            noise_suppression: self.noise_suppression,
            auto_gain: self.auto_gain,
            codecs: self.codecs.iter().map(|c| c.as_str().to_owned()).collect(),
        }
    }

    pub(crate) fn selection(&self) -> media::device::DeviceSelection {
        media::device::DeviceSelection {
            input: self.input.clone(),
            output: self.output.clone(),
        }
    }

    pub(crate) fn processing(&self) -> media::processing::ProcessingConfig {
        media::processing::ProcessingConfig {
            echo_cancellation: self.echo_cancellation,
            noise_suppression: self.noise_suppression,
            auto_gain: self.auto_gain,
        }
    }

    pub(crate) fn codec_kinds(&self) -> Vec<media::sdp::CodecKind> {
        self.codecs.iter().map(|c| c.kind()).collect()
    }
}

/// One sound device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AudioDevice {
    /// Stable id, for settings.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The system's current default for this direction.
    pub is_default: bool,
}

/// The sound devices there are now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AudioDevices {
    /// Microphones.
    pub inputs: Vec<AudioDevice>,
    /// Speakers and headsets.
    pub outputs: Vec<AudioDevice>,
}

impl From<media::device::DeviceList> for AudioDevices {
    fn from(l: media::device::DeviceList) -> Self {
        let conv = |v: Vec<media::device::DeviceInfo>| {
            v.into_iter()
                .map(|d| AudioDevice {
                    id: d.id,
                    name: d.name,
                    is_default: d.is_default,
                })
                .collect()
        };
        AudioDevices {
            inputs: conv(l.inputs),
            outputs: conv(l.outputs),
        }
    }
}

/// What the sound test of the settings should do: the microphone's level
/// always, and with `echo` the echo test (what you say is played back
/// [`media::audio_test::ECHO_MS`] later). `None` devices are the saved
/// choice, else the platform default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AudioTestRequest {
    /// Microphone (id or name).
    pub input: Option<String>,
    /// Speaker (id or name).
    pub output: Option<String>,
    /// Record and play back.
    pub echo: bool,
}

/// Where the sound test stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
#[ts(export)]
pub enum AudioTestState {
    /// The microphone's level is measured; nothing is played.
    Metering,
    /// Echo test: say something, it is being recorded.
    Recording,
    /// Echo test: what was recorded is being played back.
    PlayingBack,
    /// Not running.
    Stopped {
        /// Why.
        reason: AudioTestStop,
    },
}

/// Why the sound test stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "why", rename_all = "snake_case")]
#[ts(export)]
pub enum AudioTestStop {
    /// Asked to.
    Requested,
    /// A call started and took the sound devices.
    CallStarted,
    /// It ran for its time limit.
    TimedOut,
    /// A device failed (unplugged, taken by another program).
    DeviceFailed {
        /// What the sound system said.
        reason: String,
    },
}

/// Errors of the sound test.
#[derive(Debug, thiserror::Error)]
pub enum AudioTestError {
    /// Calls use the sound devices; the test waits until they end.
    #[error("a call is using the sound devices")]
    CallInProgress,
    /// The device is missing, busy or refused.
    #[error(transparent)]
    Device(#[from] media::device::AudioDeviceError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_prefs_convert_both_ways() {
        let s = MediaSettings {
            input: Some(" USB Mic ".into()),
            output: None,
            ringer: Some("Speakers".into()),
            echo_cancellation: true,
            noise_suppression: false,
            auto_gain: true,
            codecs: vec![CodecName::Pcma, CodecName::Opus],
        };
        let p = s.to_prefs();
        assert_eq!(p.input.as_deref(), Some("USB Mic"), "trimmed");
        assert_eq!(p.codecs, ["pcma", "opus"]);
        p.validate().unwrap();
        let back = MediaSettings::from_prefs(&p);
        assert_eq!(back.codecs, s.codecs);
        assert_eq!(back.ringer, s.ringer);
        assert_eq!(
            back.codec_kinds(),
            [media::sdp::CodecKind::Pcma, media::sdp::CodecKind::Opus]
        );
        assert!(!back.processing().noise_suppression);
        assert_eq!(
            MediaSettings::from_prefs(&store::MediaPrefs::default()).codecs,
            [
                CodecName::Opus,
                CodecName::G722,
                CodecName::Pcmu,
                CodecName::Pcma
            ]
        );
    }
}
