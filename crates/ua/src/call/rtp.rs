//! A call's media task: one UDP socket (RTP and RTCP muxed, or RTCP on
//! port + 1), a [`media::session::AudioSession`], and the call's audio
//! source and sink paced at 20 ms.
//!
//! ```text
//!   source (WAV / silence / device) ─20 ms─> push_capture ─> AudioSession ─poll_transmit─> socket
//!   socket ─handle_packet─> AudioSession ─pull_playout─20 ms─> sink (WAV / discard / device)
//!                                       └─poll_event─> DTMF, quality ─> call task
//! ```
//! Re-INVITEs update the session in place ([`MediaCommand::Update`]), so
//! sequence numbers and timestamps continue across hold and codec change.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use media::devices::{AudioSink, AudioSource};
use media::sdp::Negotiated;
use media::session::{AudioSession, MediaEvent, SESSION_RATE};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// One 20 ms frame at the session rate.
const FRAME: usize = (SESSION_RATE / 50) as usize;
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
}

/// Where a call's audio comes from and goes to.
pub(crate) struct AudioIo {
    /// Microphone.
    pub(crate) source: Box<dyn AudioSource>,
    /// Speaker.
    pub(crate) sink: Box<dyn AudioSink>,
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

/// A running media task.
pub(crate) struct MediaHandle {
    commands: mpsc::Sender<MediaCommand>,
    task: tokio::task::JoinHandle<Box<dyn AudioSink>>,
}

impl MediaHandle {
    /// Starts media for `neg` on `socket`; reports go to `reports`.
    pub(crate) fn start(
        socket: RtpSocket,
        neg: &Negotiated,
        io: AudioIo,
        reports: mpsc::Sender<MediaReport>,
    ) -> Result<Self, RtpError> {
        let session = AudioSession::new(neg, Instant::now())?;
        let (commands, rx) = mpsc::channel(32);
        let task = tokio::spawn(run(socket.socket, session, io, rx, reports));
        Ok(Self { commands, task })
    }

    /// Hands the task a command; a full queue drops it (the task is stuck
    /// or gone, and the call goes on without that change).
    pub(crate) fn send(&self, cmd: MediaCommand) {
        if self.commands.try_send(cmd).is_err() {
            warn!("media task not taking commands");
        }
    }

    /// Stops the task and returns the sink, so a WAV recording can be
    /// finished by its owner.
    pub(crate) async fn stop(self) -> Option<Box<dyn AudioSink>> {
        drop(self.commands);
        self.task.await.ok()
    }
}

async fn run(
    socket: UdpSocket,
    mut session: AudioSession,
    mut io: AudioIo,
    mut commands: mpsc::Receiver<MediaCommand>,
    reports: mpsc::Sender<MediaReport>,
) -> Box<dyn AudioSink> {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let src_rate = io.source.sample_rate();
    let sink_rate = io.sink.sample_rate();
    let mut capture = vec![0i16; frame_len(src_rate)];
    let mut capture48 = vec![0i16; FRAME];
    let mut playout = vec![0i16; FRAME];
    let mut playout_dev = vec![0i16; frame_len(sink_rate)];
    let mut muted = false;
    let mut source_live = true;
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
                Some(MediaCommand::Mute(m)) => muted = m,
                Some(MediaCommand::Dtmf(d)) => {
                    if let Err(e) = session.send_dtmf(d) {
                        debug!("dtmf: {e}");
                    }
                }
            },
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => session.handle_packet(Instant::now(), Some(from), &buf[..n]),
                // ICMP unreachable from a peer not yet listening: keep going.
                Err(e) => debug!("rtp recv: {e}"),
            },
            _ = tick.tick() => {
                if source_live {
                    match io.source.read(&mut capture) {
                        Ok(true) => {}
                        Ok(false) => {
                            source_live = false;
                            let _ = reports.try_send(MediaReport::SourceEnded);
                        }
                        Err(e) => {
                            warn!("audio source failed: {e}");
                            source_live = false;
                            capture.fill(0);
                        }
                    }
                } else {
                    capture.fill(0);
                }
                resample_linear(&capture, &mut capture48);
                if muted {
                    capture48.fill(0);
                }
                session.push_capture(&capture48);
                session.pull_playout(Instant::now(), &mut playout);
                resample_linear(&playout, &mut playout_dev);
                if let Err(e) = io.sink.write(&playout_dev) {
                    debug!("audio sink: {e}");
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
    io.sink
}

fn frame_len(rate: u32) -> usize {
    (rate / 50).max(1) as usize
}

/// Linear-interpolation resampling of one frame to another length (the
/// same 20 ms at another rate); a copy when the rates match. Devices and
/// files at 8/16/44.1/48 kHz all meet the session's 48 kHz here.
fn resample_linear(input: &[i16], output: &mut [i16]) {
    if input.len() == output.len() {
        output.copy_from_slice(input);
        return;
    }
    if input.is_empty() {
        output.fill(0);
        return;
    }
    let last = input.len() - 1;
    let step = input.len() as f64 / output.len() as f64;
    for (i, o) in output.iter_mut().enumerate() {
        let pos = i as f64 * step;
        let k = (pos as usize).min(last);
        let frac = pos - k as f64;
        let a = f64::from(input[k]);
        let b = f64::from(input[(k + 1).min(last)]);
        *o = (a + (b - a) * frac) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_a_tone_and_copies_equal_rates() {
        let input: Vec<i16> = (0..160)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 400.0 / 8000.0).sin() * 8000.0) as i16
            })
            .collect();
        let mut out = vec![0i16; 960];
        resample_linear(&input, &mut out);
        // Same waveform at 6x the points: sample 6k of the output is sample k.
        for k in 0..150 {
            assert!((i32::from(out[6 * k]) - i32::from(input[k])).abs() < 2);
        }
        let mut same = vec![0i16; 160];
        resample_linear(&input, &mut same);
        assert_eq!(same, input);
    }
}
