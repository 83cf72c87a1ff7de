//! A call's media task: one UDP socket (RTP and RTCP muxed, or RTCP on
//! port + 1), a [`media::session::AudioSession`], and the call's local
//! audio ([`media::call_audio::CallAudio`]: sound devices or files, echo
//! cancellation, noise suppression, gain, meters) ticked every 20 ms.
//!
//! ```text
//!   mic (device / WAV / silence) ─> processing ─20 ms─> AudioSession ─poll_transmit─> socket
//!   socket ─handle_packet─> AudioSession ─20 ms─> processing reference ─> speaker (device / WAV)
//!                                       └─poll_event─> DTMF, quality ─> call task
//! ```
//! Re-INVITEs update the session in place ([`MediaCommand::Update`]), so
//! sequence numbers and timestamps continue across hold and codec change.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use media::call_audio::CallAudio;
use media::sdp::Negotiated;
use media::session::{AudioSession, MediaEvent};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{AudioChoice, CallError};

/// Largest RTP/RTCP datagram read.
const MAX_PACKET: usize = 2048;

/// Errors of the media task.
#[derive(Debug, thiserror::Error)]
pub enum RtpError {
    /// No UDP port for RTP could be opened.
    #[error("cannot open an RTP port on {ip}: {source}")]
    Bind {
        /// The address asked for.
        ip: IpAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The negotiated media cannot be carried.
    #[error(transparent)]
    Session(#[from] media::session::SessionError),
}

/// What the call task tells its media.
#[derive(Debug)]
pub(crate) enum MediaCommand {
    /// New negotiation (re-INVITE, UPDATE, hold, resume).
    Update(Box<Negotiated>),
    /// Mute or unmute the microphone.
    Mute(bool),
    /// Send an RFC 4733 digit.
    Dtmf(char),
    /// Play (or stop) the call-waiting tone to our speaker: another call
    /// rings while this one talks.
    CallWaiting(bool),
    /// Take a part in a local conference (host: one more leg to mix).
    Conference(media::conference::Role),
    /// Leave the local conference: a plain call again.
    LeaveConference,
    /// Feed a recording (heard plus sent audio).
    Record(media::recorder::RecorderTap),
    /// Stop feeding the recording; its writer then finishes the file.
    StopRecording,
}

/// What media tells the call task.
#[derive(Debug)]
pub(crate) enum MediaReport {
    /// The peer sent a digit.
    Dtmf(char),
    /// Quality numbers.
    Stats(media::session::CallStats),
    /// The audio source ended (a WAV file played to its end).
    SourceEnded,
    /// Microphone and speaker levels (dBFS), about 10 times a second.
    Levels {
        /// Microphone RMS.
        input_db: f32,
        /// Speaker RMS.
        output_db: f32,
    },
    /// The sound device failed and the call goes on without it.
    AudioFailed(String),
    /// A recording is over (from its writer thread): complete, or failed.
    RecordingDone(Result<media::recorder::Recording, media::recorder::RecorderError>),
}

/// A bound RTP socket, before negotiation.
pub(crate) struct RtpSocket {
    socket: UdpSocket,
    /// Where we receive (the port goes into our SDP).
    pub(crate) local: SocketAddr,
}

impl RtpSocket {
    /// Binds an even port on `ip` (RFC 3550 §11 likes even RTP ports).
    pub(crate) async fn bind(ip: IpAddr) -> Result<Self, RtpError> {
        let mut last = None;
        for _ in 0..16 {
            let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
                .await
                .map_err(|source| RtpError::Bind { ip, source })?;
            let local = socket
                .local_addr()
                .map_err(|source| RtpError::Bind { ip, source })?;
            if local.port() % 2 == 0 {
                return Ok(Self { socket, local });
            }
            last = Some(Self { socket, local });
        }
        last.ok_or_else(|| RtpError::Bind {
            ip,
            source: std::io::Error::other("no port"),
        })
    }
}

/// A running media thread.
pub(crate) struct MediaHandle {
    commands: mpsc::Sender<MediaCommand>,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl MediaHandle {
    /// Starts media for `neg` on `socket` in a thread of its own (the
    /// audio processing state is not `Send`, and a 20 ms clock should not
    /// share a worker with signalling); reports go to `reports`.
    pub(crate) fn start(
        socket: RtpSocket,
        neg: &Negotiated,
        audio: AudioChoice,
        call_id: u32,
        reports: mpsc::Sender<MediaReport>,
    ) -> Result<Self, RtpError> {
        let session = AudioSession::new(neg, Instant::now())?;
        let (commands, rx) = mpsc::channel(32);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let std_socket = socket.socket.into_std().map_err(|source| RtpError::Bind {
            ip: socket.local.ip(),
            source,
        })?;
        std::thread::Builder::new()
            .name(format!("parley-media-{call_id}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = reports.try_send(MediaReport::AudioFailed(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let socket = match UdpSocket::from_std(std_socket) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = reports.try_send(MediaReport::AudioFailed(e.to_string()));
                            return;
                        }
                    };
                    let audio = match open_audio(&audio, call_id) {
                        Ok(a) => a,
                        Err(e) => {
                            warn!("call audio: {e}; going on with silence");
                            let _ = reports.try_send(MediaReport::AudioFailed(e.to_string()));
                            match open_audio(&AudioChoice::Null, call_id) {
                                Ok(a) => a,
                                Err(_) => return,
                            }
                        }
                    };
                    // Dropping the audio at the end finalises a WAV recording.
                    drop(run(socket, session, audio, rx, reports).await);
                });
                let _ = done_tx.send(());
            })
            .map_err(|source| RtpError::Bind {
                ip: socket.local.ip(),
                source,
            })?;
        Ok(Self { commands, done })
    }

    /// Hands the task a command; a full queue drops it (the task is stuck
    /// or gone, and the call goes on without that change).
    pub(crate) fn send(&self, cmd: MediaCommand) {
        if self.commands.try_send(cmd).is_err() {
            warn!("media task not taking commands");
        }
    }

    /// Stops the media thread and waits until its audio is closed (a WAV
    /// recording complete on disk).
    pub(crate) async fn stop(self) {
        drop(self.commands);
        let _ = self.done.await;
    }
}

async fn run(
    socket: UdpSocket,
    mut session: AudioSession,
    mut audio: CallAudio,
    mut commands: mpsc::Receiver<MediaCommand>,
    reports: mpsc::Sender<MediaReport>,
) -> CallAudio {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut source_live = true;
    let mut audio_ok = true;
    loop {
        let wake = session.poll_timeout();
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(MediaCommand::Update(neg)) => {
                    if let Err(e) = session.update(&neg) {
                        warn!("media update refused: {e}");
                    }
                }
                Some(MediaCommand::Mute(m)) => audio.set_muted(m),
                Some(MediaCommand::CallWaiting(on)) => audio.set_tone(on.then(|| {
                    media::tones::ToneGenerator::call_waiting(
                        media::tones::ToneRegion::default(),
                        media::session::SESSION_RATE,
                    )
                })),
                Some(MediaCommand::Dtmf(d)) => {
                    if let Err(e) = session.send_dtmf(d) {
                        debug!("dtmf: {e}");
                    }
                }
                Some(MediaCommand::Conference(role)) => audio.join_conference(role),
                Some(MediaCommand::LeaveConference) => audio.leave_conference(),
                Some(MediaCommand::Record(tap)) => audio.set_recorder(Some(tap)),
                Some(MediaCommand::StopRecording) => audio.set_recorder(None),
            },
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => session.handle_packet(Instant::now(), Some(from), &buf[..n]),
                // ICMP unreachable from a peer not yet listening: keep going.
                Err(e) => debug!("rtp recv: {e}"),
            },
            _ = tick.tick() => {
                if audio_ok {
                    if let Err(e) = audio.tick(Some(&mut session), Instant::now()) {
                        // The call goes on (the peer still hears silence
                        // and RTCP) rather than dropping on a device error.
                        warn!("call audio failed: {e}");
                        audio_ok = false;
                        let _ = reports.try_send(MediaReport::AudioFailed(e.to_string()));
                    }
                } else {
                    // Keep the RTP clock running with silence.
                    session.push_capture(&SILENCE);
                    let mut sink = [0i16; 960];
                    session.pull_playout(Instant::now(), &mut sink);
                }
                if source_live && !audio.source_live() {
                    source_live = false;
                    let _ = reports.try_send(MediaReport::SourceEnded);
                }
                if let Some(l) = audio.levels() {
                    let _ = reports.try_send(MediaReport::Levels {
                        input_db: l.input.rms_dbfs,
                        output_db: l.output.rms_dbfs,
                    });
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
        let now = Instant::now();
        while let Some((packet, to)) = session.poll_transmit(now) {
            if let Err(e) = socket.send_to(&packet, to).await {
                debug!("rtp send: {e}");
            }
        }
        while let Some(ev) = session.poll_event() {
            let report = match ev {
                MediaEvent::DtmfReceived(d) => Some(MediaReport::Dtmf(d)),
                MediaEvent::Stats(s) => Some(MediaReport::Stats(s)),
                _ => None,
            };
            if let Some(r) = report {
                let _ = reports.try_send(r);
            }
        }
    }
    audio
}

/// Opens a call's local audio (in the media thread: it is not `Send`).
pub(crate) fn open_audio(choice: &AudioChoice, id: u32) -> Result<CallAudio, CallError> {
    use media::device::{DeviceAudio, FilePort};
    use media::processing::ProcessingConfig;
    // Files and silence are not acoustic: no echo to cancel, no room noise.
    let off = ProcessingConfig {
        echo_cancellation: false,
        noise_suppression: false,
        auto_gain: false,
    };
    let (port, config): (Box<dyn media::device::AudioPort>, ProcessingConfig) = match choice {
        AudioChoice::Null => (Box::new(FilePort::null()), off),
        AudioChoice::Files {
            play,
            record,
            processing,
        } => {
            let record = record.as_ref().map(|p| {
                // A directory gets one file per call.
                if p.is_dir() {
                    p.join(format!("call-{id}.wav"))
                } else {
                    p.clone()
                }
            });
            (
                Box::new(FilePort::wav(play.as_deref(), record.as_deref())?),
                *processing,
            )
        }
        AudioChoice::Device {
            selection,
            processing,
        } => match DeviceAudio::open(selection) {
            Ok(d) => (Box::new(d), *processing),
            Err(e) => {
                // A call without sound beats no call: say so and go on.
                warn!("cannot open the sound devices: {e}");
                (Box::new(FilePort::null()), off)
            }
        },
    };
    CallAudio::new(port, config).map_err(CallError::from)
}

/// One 20 ms frame of silence at the session rate.
static SILENCE: [i16; 960] = [0; 960];
