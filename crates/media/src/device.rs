//! Live sound devices and the engine-facing [`AudioPort`]: 20 ms frames of
//! 48 kHz mono i16 in and out, whether the audio comes from a sound card
//! ([`DeviceAudio`], cpal), WAV files or nothing ([`FilePort`]).
//!
//! ```text
//!  cpal input cb ─(channels→mono, format→i16)─> InputEnd ══ring══> EngineEnd ─rubato─> capture()
//!  playout() ─rubato─> EngineEnd ══ring══> OutputEnd ─(i16→format, mono→channels)─> cpal output cb
//!                       ▲ swapped when streams are rebuilt
//!  control thread: owns the cpal streams; on a stream error (device gone)
//!  drops them and reopens on the default device, handing the engine a new
//!  ring pair; the call never notices more than a short gap.
//! ```
//!
//! The callbacks only convert samples into preallocated rings: no
//! allocation, lock or I/O (a unit test runs them under a counting
//! allocator). Resampling between the device's rate and 48 kHz happens on
//! the engine side of the rings.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::Resampler as _;
use tracing::{debug, info, warn};

use crate::bridge::{bridge, CallbackEnd, EngineEnd, InputEnd, OutputEnd};
use crate::devices::{AudioSink, AudioSource, NullSink, NullSource, WavSink, WavSource};
use crate::session::SESSION_RATE;

#[cfg(test)]
pub(crate) mod tests;

/// Log targets to keep quiet unless asked for by name: cpal's PulseAudio
/// client logs "Client disconnected" at error level each time a device
/// list or a stream closes, which is normal. Binaries add these to their
/// `tracing` filter (see [`quiet_log_directives`]).
const NOISY_LOG_TARGETS: &[&str] = &["pulseaudio::client::reactor"];

/// `target=off` directives for the noisy sound-system targets that the
/// user's filter (`PARLEY_LOG`) does not name itself.
pub fn quiet_log_directives(user_filter: &str) -> impl Iterator<Item = String> + '_ {
    NOISY_LOG_TARGETS
        .iter()
        .filter(move |t| !user_filter.contains(*t))
        .map(|t| format!("{t}=off"))
}

/// Samples in one 20 ms frame at [`SESSION_RATE`].
pub const FRAME: usize = (SESSION_RATE / 50) as usize;
/// Ring size in device samples: a quarter second at 192 kHz, so any
/// device rate fits without sizing rings per device.
const RING: usize = 48_000;
/// Capture kept before the first frame is handed out, absorbing the
/// device's period against the engine's 20 ms tick.
const CAPTURE_PRIME: usize = FRAME + FRAME / 2;
/// Capture backlog beyond which the oldest samples are dropped (the
/// engine's clock runs slow against the device's).
const CAPTURE_MAX: usize = 4 * FRAME;
/// Playout queued toward the device, in ms; more would only add latency.
const PLAYOUT_TARGET_MS: usize = 60;
/// How often the control thread looks for failed streams.
const WATCH: Duration = Duration::from_millis(50);
/// Pause between attempts to reopen when no device at all can be opened.
const RETRY: Duration = Duration::from_secs(1);
/// Callback period asked of the device (10 ms at 48 kHz) when it allows.
const PERIOD: u32 = 480;

/// Errors opening or running devices.
#[derive(Debug, thiserror::Error)]
pub enum AudioDeviceError {
    /// The sound system could not list or open devices.
    #[error("audio host: {0}")]
    Host(#[source] cpal::Error),
    /// No device by that name or id.
    #[error("no {direction} device named {name:?}")]
    NotFound {
        /// "input" or "output".
        direction: &'static str,
        /// What was asked for.
        name: String,
    },
    /// The platform has no default device in this direction.
    #[error("no default {0} device")]
    NoDefault(&'static str),
    /// The device refused a stream.
    #[error("{device}: {source}")]
    Stream {
        /// The device's name.
        device: String,
        /// cpal's reason.
        source: cpal::Error,
    },
    /// The device only offers a sample format we do not convert.
    #[error("{device}: unsupported sample format {format}")]
    Format {
        /// The device's name.
        device: String,
        /// What it offers.
        format: cpal::SampleFormat,
    },
    /// No resampler for this pair of rates.
    #[error("resampler {from} Hz -> {to} Hz: {source}")]
    Resampler {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// rubato's reason.
        source: rubato::ResamplerConstructionError,
    },
    /// The device control thread could not be started or died.
    #[error("audio device thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A WAV or null device failed.
    #[error(transparent)]
    File(#[from] crate::devices::DeviceError),
}

/// The engine's view of an audio device: 20 ms frames at 48 kHz mono.
pub trait AudioPort: Send {
    /// Fills `frame` ([`FRAME`] samples) with microphone audio; returns
    /// false once the source has ended for good (a WAV file played out).
    fn capture(&mut self, frame: &mut [i16]) -> Result<bool, AudioDeviceError>;
    /// Plays `frame` ([`FRAME`] samples).
    fn playout(&mut self, frame: &[i16]) -> Result<(), AudioDeviceError>;
}

/// One sound device as the platform names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id (host and backend id), for settings.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The platform's current default for this direction.
    pub is_default: bool,
}

/// Inputs and outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    /// Microphones.
    pub inputs: Vec<DeviceInfo>,
    /// Speakers.
    pub outputs: Vec<DeviceInfo>,
}

/// Which devices to use; `None` is the platform default. A name matches a
/// device's id or its name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSelection {
    /// Microphone.
    pub input: Option<String>,
    /// Speaker.
    pub output: Option<String>,
}

/// Lists the devices of the default host (on Linux cpal prefers
/// PipeWire, then PulseAudio, then ALSA).
pub fn list_devices() -> Result<DeviceList, AudioDeviceError> {
    let host = cpal::default_host();
    let default_in = host.default_input_device().and_then(|d| d.id().ok());
    let default_out = host.default_output_device().and_then(|d| d.id().ok());
    let info = |d: cpal::Device, default: &Option<cpal::DeviceId>| {
        let id = d.id().ok();
        DeviceInfo {
            is_default: id.is_some() && id == *default,
            id: id.map(|i| i.to_string()).unwrap_or_default(),
            name: d.to_string(),
        }
    };
    Ok(DeviceList {
        inputs: host
            .input_devices()
            .map_err(AudioDeviceError::Host)?
            .map(|d| info(d, &default_in))
            .collect(),
        outputs: host
            .output_devices()
            .map_err(AudioDeviceError::Host)?
            .map(|d| info(d, &default_out))
            .collect(),
    })
}

/// What the engine currently has open, and how it has gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    /// Microphone name.
    pub input: String,
    /// Speaker name.
    pub output: String,
    /// Microphone's native rate, Hz.
    pub input_rate: u32,
    /// Speaker's native rate, Hz.
    pub output_rate: u32,
    /// Times streams were rebuilt after a device failed.
    pub fallbacks: u32,
    /// Capture samples lost because the engine fell behind.
    pub capture_overruns: u64,
    /// Playout samples the device wanted but had not been given.
    pub playout_underruns: u64,
    /// Capture frames handed out (partly) as silence while waiting for
    /// the device.
    pub starved_frames: u64,
}

/// Failure flags the (non-real-time) error callbacks raise for the
/// control thread.
#[derive(Debug, Default)]
pub(crate) struct FailFlags {
    pub(crate) input: AtomicBool,
    pub(crate) output: AtomicBool,
}

/// What a backend opened.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) input_rate: u32,
    pub(crate) output_rate: u32,
}

/// Opens stream pairs. cpal in production; a scripted fake in tests.
pub(crate) trait Backend: Send + 'static {
    /// Opens input and output for `sel`, feeding `ends`; returns a value
    /// that keeps the streams running while held.
    fn open(
        &mut self,
        sel: &DeviceSelection,
        ends: CallbackEnd,
        flags: Arc<FailFlags>,
    ) -> Result<(Box<dyn std::any::Any>, Opened), AudioDeviceError>;
}

enum Control {
    Select(DeviceSelection),
}

struct Swap {
    engine: EngineEnd,
    opened: Opened,
    fallback: bool,
}

/// A sound card pair for a call: cpal streams run on their own threads;
/// this end lives on the media thread.
pub struct DeviceAudio {
    engine: EngineEnd,
    opened: Opened,
    to_session: RateConverter,
    from_session: RateConverter,
    capture_fifo: VecDeque<i16>,
    playout_fifo: VecDeque<i16>,
    scratch: Vec<i16>,
    primed: bool,
    swaps: mpsc::Receiver<Swap>,
    control: Option<mpsc::Sender<Control>>,
    thread: Option<JoinHandle<()>>,
    fallbacks: u32,
    starved: u64,
    /// Counters of earlier rings, so status survives rebuilds.
    past_overruns: u64,
    past_underruns: u64,
}

impl DeviceAudio {
    /// Opens the selected devices (defaults for `None`).
    pub fn open(sel: &DeviceSelection) -> Result<DeviceAudio, AudioDeviceError> {
        Self::with_backend(CpalBackend, sel.clone())
    }

    pub(crate) fn with_backend(
        mut backend: impl Backend,
        sel: DeviceSelection,
    ) -> Result<DeviceAudio, AudioDeviceError> {
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (swap_tx, swaps) = mpsc::channel();
        let (control, control_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("parley-audio-dev".into())
            .spawn(move || {
                let (cb, engine) = bridge(RING);
                let flags = Arc::new(FailFlags::default());
                match backend.open(&sel, cb, flags.clone()) {
                    Ok((streams, opened)) => {
                        if ready_tx.send(Ok((engine, opened))).is_ok() {
                            control_loop(backend, sel, streams, flags, control_rx, swap_tx);
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(AudioDeviceError::Thread)?;
        let (engine, opened) = ready_rx.recv().map_err(|_| {
            AudioDeviceError::Thread(std::io::Error::other("device thread ended while opening"))
        })??;
        info!(input = %opened.input, output = %opened.output, "audio devices open");
        Ok(DeviceAudio {
            to_session: RateConverter::new(opened.input_rate, SESSION_RATE)?,
            from_session: RateConverter::new(SESSION_RATE, opened.output_rate)?,
            engine,
            opened,
            capture_fifo: VecDeque::with_capacity(CAPTURE_MAX + RING),
            playout_fifo: VecDeque::with_capacity(RING),
            scratch: Vec::with_capacity(RING),
            primed: false,
            swaps,
            control: Some(control),
            thread: Some(thread),
            fallbacks: 0,
            starved: 0,
            past_overruns: 0,
            past_underruns: 0,
        })
    }

    /// Switches devices without interrupting the call.
    pub fn select(&self, sel: DeviceSelection) {
        if let Some(c) = &self.control {
            let _ = c.send(Control::Select(sel));
        }
    }

    /// What is open and how it went.
    pub fn status(&self) -> DeviceStatus {
        let c = &self.engine.counters;
        DeviceStatus {
            input: self.opened.input.clone(),
            output: self.opened.output.clone(),
            input_rate: self.opened.input_rate,
            output_rate: self.opened.output_rate,
            fallbacks: self.fallbacks,
            capture_overruns: self.past_overruns + c.capture_overruns.load(Ordering::Relaxed),
            playout_underruns: self.past_underruns + c.playout_underruns.load(Ordering::Relaxed),
            starved_frames: self.starved,
        }
    }

    /// Takes over rings of rebuilt streams.
    fn take_swaps(&mut self) -> Result<(), AudioDeviceError> {
        while let Ok(swap) = self.swaps.try_recv() {
            let c = &self.engine.counters;
            self.past_overruns += c.capture_overruns.load(Ordering::Relaxed);
            self.past_underruns += c.playout_underruns.load(Ordering::Relaxed);
            if swap.opened.input_rate != self.opened.input_rate {
                self.to_session = RateConverter::new(swap.opened.input_rate, SESSION_RATE)?;
            }
            if swap.opened.output_rate != self.opened.output_rate {
                self.from_session = RateConverter::new(SESSION_RATE, swap.opened.output_rate)?;
            }
            self.engine = swap.engine;
            self.opened = swap.opened;
            self.fallbacks += u32::from(swap.fallback);
            self.capture_fifo.clear();
            self.playout_fifo.clear();
            self.primed = false;
        }
        Ok(())
    }
}

impl AudioPort for DeviceAudio {
    fn capture(&mut self, frame: &mut [i16]) -> Result<bool, AudioDeviceError> {
        self.take_swaps()?;
        self.scratch.clear();
        self.engine.drain_capture(&mut self.scratch);
        self.to_session
            .process(&self.scratch, &mut self.capture_fifo);
        if self.capture_fifo.len() > CAPTURE_MAX {
            // The device runs fast against our tick: keep latency bounded.
            let excess = self.capture_fifo.len() - CAPTURE_PRIME;
            self.capture_fifo.drain(..excess);
        }
        if !self.primed && self.capture_fifo.len() >= CAPTURE_PRIME {
            self.primed = true;
        }
        let n = if self.primed {
            frame.len().min(self.capture_fifo.len())
        } else {
            0
        };
        for (slot, s) in frame.iter_mut().zip(self.capture_fifo.drain(..n)) {
            *slot = s;
        }
        frame[n..].fill(0);
        if n < frame.len() {
            self.starved += 1;
            self.primed = false;
        }
        Ok(true)
    }

    fn playout(&mut self, frame: &[i16]) -> Result<(), AudioDeviceError> {
        self.take_swaps()?;
        self.from_session.process(frame, &mut self.playout_fifo);
        let target = self.opened.output_rate as usize * PLAYOUT_TARGET_MS / 1000;
        let room = target.saturating_sub(self.engine.playout_queued());
        let n = room.min(self.playout_fifo.len());
        let (a, b) = self.playout_fifo.as_slices();
        let from_a = n.min(a.len());
        let mut pushed = self.engine.push_playout(&a[..from_a]);
        if pushed == from_a {
            pushed += self.engine.push_playout(&b[..n - from_a]);
        }
        self.playout_fifo.drain(..pushed);
        // A device that stopped pulling must not make us hoard audio.
        let keep = 2 * frame.len();
        if self.playout_fifo.len() > keep {
            let excess = self.playout_fifo.len() - keep;
            self.playout_fifo.drain(..excess);
        }
        Ok(())
    }
}

impl Drop for DeviceAudio {
    fn drop(&mut self) {
        // Closing the channel ends the control thread, which drops the
        // streams on the thread that made them.
        self.control.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn control_loop(
    mut backend: impl Backend,
    mut sel: DeviceSelection,
    streams: Box<dyn std::any::Any>,
    flags: Arc<FailFlags>,
    control: mpsc::Receiver<Control>,
    swaps: mpsc::Sender<Swap>,
) {
    let mut streams = Some(streams);
    let mut flags = flags;
    // Selection in force after fallbacks: a vanished device is replaced
    // by the default for the rest of the call.
    let mut want = sel.clone();
    let mut retry_at: Option<Instant> = None;
    loop {
        let mut reopen = false;
        let mut fallback = false;
        match control.recv_timeout(WATCH) {
            Ok(Control::Select(s)) => {
                sel = s;
                want = sel.clone();
                reopen = true;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let in_failed = flags.input.load(Ordering::Relaxed);
        let out_failed = flags.output.load(Ordering::Relaxed);
        if in_failed || out_failed {
            warn!(
                in_failed,
                out_failed, "audio stream failed; falling back to the default device"
            );
            if in_failed {
                want.input = None;
            }
            if out_failed {
                want.output = None;
            }
            streams = None;
            reopen = true;
            fallback = true;
            flags = Arc::new(FailFlags::default());
        }
        if streams.is_none() && retry_at.is_some_and(|t| Instant::now() >= t) {
            reopen = true;
            fallback = true;
        }
        if !reopen {
            continue;
        }
        // The old streams go first: some backends refuse a second stream
        // on the same device.
        streams = None;
        let (cb, engine) = bridge(RING);
        let fresh = Arc::new(FailFlags::default());
        match backend.open(&want, cb, fresh.clone()) {
            Ok((s, opened)) => {
                info!(input = %opened.input, output = %opened.output, fallback, "audio devices reopened");
                streams = Some(s);
                flags = fresh;
                retry_at = None;
                if swaps
                    .send(Swap {
                        engine,
                        opened,
                        fallback,
                    })
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                warn!("cannot reopen audio devices: {e}");
                retry_at = Some(Instant::now() + RETRY);
                // Anything named that fails now is replaced by the default,
                // at once rather than after the retry pause.
                if want != DeviceSelection::default() {
                    want = DeviceSelection::default();
                    let (cb, engine) = bridge(RING);
                    let fresh = Arc::new(FailFlags::default());
                    match backend.open(&want, cb, fresh.clone()) {
                        Ok((s, opened)) => {
                            info!(input = %opened.input, output = %opened.output, "audio on default devices");
                            streams = Some(s);
                            flags = fresh;
                            retry_at = None;
                            let swap = Swap {
                                engine,
                                opened,
                                fallback: true,
                            };
                            if swaps.send(swap).is_err() {
                                break;
                            }
                        }
                        Err(e) => warn!("cannot open the default audio devices: {e}"),
                    }
                }
            }
        }
    }
    drop(streams);
    debug!("audio device thread ends");
}

struct CpalBackend;

impl Backend for CpalBackend {
    fn open(
        &mut self,
        sel: &DeviceSelection,
        ends: CallbackEnd,
        flags: Arc<FailFlags>,
    ) -> Result<(Box<dyn std::any::Any>, Opened), AudioDeviceError> {
        let host = cpal::default_host();
        let input = find_device(&host, sel.input.as_deref(), true)?;
        let output = find_device(&host, sel.output.as_deref(), false)?;
        let (input_end, output_end) = ends.split();
        let (in_stream, input_rate) = open_input(&input, input_end, flags.clone())?;
        let (out_stream, output_rate) = open_output(&output, output_end, flags)?;
        for (s, d) in [(&in_stream, &input), (&out_stream, &output)] {
            s.play().map_err(|source| AudioDeviceError::Stream {
                device: d.to_string(),
                source,
            })?;
        }
        let opened = Opened {
            input: input.to_string(),
            output: output.to_string(),
            input_rate,
            output_rate,
        };
        Ok((Box::new((in_stream, out_stream)), opened))
    }
}

pub(crate) fn find_device(
    host: &cpal::Host,
    name: Option<&str>,
    input: bool,
) -> Result<cpal::Device, AudioDeviceError> {
    let direction = if input { "input" } else { "output" };
    let Some(name) = name else {
        let d = if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        };
        return d.ok_or(AudioDeviceError::NoDefault(direction));
    };
    let mut devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    }
    .map_err(AudioDeviceError::Host)?;
    devices
        .find(|d| d.to_string() == name || d.id().is_ok_and(|id| id.to_string() == name))
        .ok_or_else(|| AudioDeviceError::NotFound {
            direction,
            name: name.to_owned(),
        })
}

/// 48 kHz when the device offers it (no resampling), otherwise its
/// default; a 10 ms period when its range allows.
pub(crate) fn choose_config(
    device: &cpal::Device,
    input: bool,
) -> Result<(cpal::StreamConfig, cpal::SampleFormat), AudioDeviceError> {
    let err = |source| AudioDeviceError::Stream {
        device: device.to_string(),
        source,
    };
    let default = if input {
        device.default_input_config()
    } else {
        device.default_output_config()
    }
    .map_err(err)?;
    let format = default.sample_format();
    let ranges: Vec<cpal::SupportedStreamConfigRange> = if input {
        device.supported_input_configs().map_err(err)?.collect()
    } else {
        device.supported_output_configs().map_err(err)?.collect()
    };
    let at_48k = ranges
        .into_iter()
        .filter(|r| r.sample_format() == format && r.channels() == default.channels())
        .find_map(|r| r.try_with_sample_rate(SESSION_RATE));
    let chosen = at_48k.unwrap_or(default);
    let mut config = chosen.config();
    if let cpal::SupportedBufferSize::Range { min, max } = chosen.buffer_size() {
        let period = PERIOD * config.sample_rate / SESSION_RATE;
        if (*min..=*max).contains(&period) {
            config.buffer_size = cpal::BufferSize::Fixed(period);
        }
    }
    Ok((config, format))
}

fn open_input(
    device: &cpal::Device,
    end: InputEnd,
    flags: Arc<FailFlags>,
) -> Result<(cpal::Stream, u32), AudioDeviceError> {
    let (config, format) = choose_config(device, true)?;
    let rate = config.sample_rate;
    let channels = usize::from(config.channels).max(1);
    let on_error = move |e: cpal::Error| {
        // A route change on a default-following stream keeps running.
        if e.kind() != cpal::ErrorKind::DeviceChanged {
            flags.input.store(true, Ordering::Relaxed);
        }
    };
    macro_rules! build {
        ($t:ty) => {
            device.build_input_stream::<$t, _, _>(
                config,
                input_callback::<$t>(end, channels),
                on_error,
                None,
            )
        };
    }
    let stream = match format {
        cpal::SampleFormat::I16 => build!(i16),
        cpal::SampleFormat::I32 => build!(i32),
        cpal::SampleFormat::U16 => build!(u16),
        cpal::SampleFormat::F32 => build!(f32),
        format => {
            return Err(AudioDeviceError::Format {
                device: device.to_string(),
                format,
            })
        }
    }
    .map_err(|source| AudioDeviceError::Stream {
        device: device.to_string(),
        source,
    })?;
    Ok((stream, rate))
}

/// Builds an output stream on `$device` in whichever sample format it
/// takes: `$callback::<T>($args)` makes the real-time callback for that
/// format. Errors are `AudioDeviceError`s naming the device.
macro_rules! build_output {
    ($device:expr, $config:expr, $format:expr, $on_error:expr, $callback:ident($($arg:expr),*)) => {{
        let device: &cpal::Device = &$device;
        macro_rules! with {
            ($t:ty) => {
                device.build_output_stream::<$t, _, _>($config, $callback::<$t>($($arg),*), $on_error, None)
            };
        }
        match $format {
            cpal::SampleFormat::I16 => with!(i16),
            cpal::SampleFormat::I32 => with!(i32),
            cpal::SampleFormat::U16 => with!(u16),
            cpal::SampleFormat::F32 => with!(f32),
            format => {
                return Err($crate::device::AudioDeviceError::Format {
                    device: device.to_string(),
                    format,
                })
            }
        }
        .map_err(|source| $crate::device::AudioDeviceError::Stream {
            device: device.to_string(),
            source,
        })
    }};
}
pub(crate) use build_output;

fn open_output(
    device: &cpal::Device,
    end: OutputEnd,
    flags: Arc<FailFlags>,
) -> Result<(cpal::Stream, u32), AudioDeviceError> {
    let (config, format) = choose_config(device, false)?;
    let rate = config.sample_rate;
    let channels = usize::from(config.channels).max(1);
    let on_error = move |e: cpal::Error| {
        if e.kind() != cpal::ErrorKind::DeviceChanged {
            flags.output.store(true, Ordering::Relaxed);
        }
    };
    let stream = build_output!(
        device,
        config,
        format,
        on_error,
        output_callback(end, channels)
    )?;
    Ok((stream, rate))
}

/// The real-time input callback: interleaved device samples, averaged to
/// mono, straight into the ring.
pub(crate) fn input_callback<T>(
    mut end: InputEnd,
    channels: usize,
) -> impl FnMut(&[T], &cpal::InputCallbackInfo) + Send + 'static
where
    T: SizedSample,
    f32: FromSample<T>,
{
    move |data: &[T], _| {
        let frames = data.len() / channels;
        end.push_with(frames, |i| {
            let mut acc = 0.0f32;
            for c in 0..channels {
                if let Some(s) = data.get(i * channels + c) {
                    acc += s.to_sample::<f32>();
                }
            }
            f32_to_i16(acc / channels as f32)
        });
    }
}

/// The real-time output callback: mono from the ring to every channel.
pub(crate) fn output_callback<T>(
    mut end: OutputEnd,
    channels: usize,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    move |data: &mut [T], _| {
        let frames = data.len() / channels;
        end.pop_with(frames, |i, s| {
            let v = T::from_sample(f32::from(s) / 32768.0);
            for c in 0..channels {
                if let Some(slot) = data.get_mut(i * channels + c) {
                    *slot = v;
                }
            }
        });
        // A trailing partial frame (never seen in practice) stays silent.
        for slot in data.iter_mut().skip(frames * channels) {
            *slot = T::EQUILIBRIUM;
        }
    }
}

fn f32_to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Fixed-ratio resampling with rubato's FFT resampler, buffers sized once.
/// Equal rates pass straight through.
struct RateConverter {
    fft: Option<rubato::Fft<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
}

impl RateConverter {
    fn new(from: u32, to: u32) -> Result<RateConverter, AudioDeviceError> {
        if from == to {
            return Ok(RateConverter {
                fft: None,
                pending: Vec::new(),
                out: Vec::new(),
            });
        }
        // 10 ms chunks keep the added delay small.
        let chunk = (to / 100) as usize;
        let fft = rubato::Fft::<f32>::new(
            from as usize,
            to as usize,
            chunk,
            1,
            rubato::FixedSync::Both,
        )
        .map_err(|source| AudioDeviceError::Resampler { from, to, source })?;
        let (inp, out) = (fft.input_frames_max(), fft.output_frames_max());
        Ok(RateConverter {
            fft: Some(fft),
            pending: Vec::with_capacity(inp + RING),
            out: vec![0.0; out],
        })
    }

    /// Pushes out what the filter still holds (end of a file).
    fn flush(&mut self, fifo: &mut VecDeque<i16>) {
        let Some(fft) = self.fft.as_ref() else {
            return;
        };
        let silence = vec![0i16; fft.input_frames_max() + fft.output_delay()];
        self.process(&silence, fifo);
    }

    /// Appends `input` converted to `fifo`.
    fn process(&mut self, input: &[i16], fifo: &mut VecDeque<i16>) {
        let Some(fft) = self.fft.as_mut() else {
            fifo.extend(input);
            return;
        };
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        let mut used = 0;
        loop {
            let need = fft.input_frames_next();
            if self.pending.len() - used < need {
                break;
            }
            let produced = {
                let chunk = &self.pending[used..used + need];
                let (Ok(inb), Ok(mut outb)) = (
                    InterleavedSlice::new(chunk, 1, need),
                    InterleavedSlice::new_mut(&mut self.out, 1, fft.output_frames_next()),
                ) else {
                    break;
                };
                match fft.process_into_buffer(&inb, &mut outb, None) {
                    Ok((_, produced)) => produced,
                    Err(e) => {
                        warn!("resampler: {e}");
                        break;
                    }
                }
            };
            used += need;
            fifo.extend(self.out[..produced].iter().map(|&x| f32_to_i16(x)));
        }
        self.pending.drain(..used);
    }
}

/// WAV files or null devices behind [`AudioPort`], for `parley-cli
/// --play/--record`, headless calls and tests. Rates other than 48 kHz
/// are converted.
pub struct FilePort {
    source: Box<dyn AudioSource>,
    sink: Box<dyn AudioSink>,
    to_session: RateConverter,
    from_session: RateConverter,
    src_buf: Vec<i16>,
    capture_fifo: VecDeque<i16>,
    playout_fifo: VecDeque<i16>,
    sink_buf: Vec<i16>,
    live: bool,
}

impl FilePort {
    /// Wraps any source and sink.
    pub fn new(
        source: Box<dyn AudioSource>,
        sink: Box<dyn AudioSink>,
    ) -> Result<FilePort, AudioDeviceError> {
        let (sr, kr) = (source.sample_rate(), sink.sample_rate());
        Ok(FilePort {
            to_session: RateConverter::new(sr, SESSION_RATE)?,
            from_session: RateConverter::new(SESSION_RATE, kr)?,
            src_buf: vec![0; (sr / 100) as usize],
            sink_buf: Vec::with_capacity(2 * (kr / 50) as usize),
            capture_fifo: VecDeque::with_capacity(4 * FRAME),
            playout_fifo: VecDeque::with_capacity(4 * FRAME),
            source,
            sink,
            live: true,
        })
    }

    /// Silence in, audio discarded.
    pub fn null() -> FilePort {
        FilePort {
            source: Box::new(NullSource::new(SESSION_RATE)),
            sink: Box::new(NullSink::new(SESSION_RATE)),
            to_session: RateConverter {
                fft: None,
                pending: Vec::new(),
                out: Vec::new(),
            },
            from_session: RateConverter {
                fft: None,
                pending: Vec::new(),
                out: Vec::new(),
            },
            src_buf: vec![0; FRAME / 2],
            sink_buf: Vec::with_capacity(FRAME),
            capture_fifo: VecDeque::with_capacity(4 * FRAME),
            playout_fifo: VecDeque::with_capacity(4 * FRAME),
            live: true,
        }
    }

    /// Plays `play` as the microphone (silence if `None`) and records what
    /// the speaker gets to `record` at 48 kHz (discarded if `None`).
    pub fn wav(play: Option<&Path>, record: Option<&Path>) -> Result<FilePort, AudioDeviceError> {
        let source: Box<dyn AudioSource> = match play {
            Some(p) => Box::new(WavSource::open(p)?),
            None => Box::new(NullSource::new(SESSION_RATE)),
        };
        let sink: Box<dyn AudioSink> = match record {
            Some(p) => Box::new(WavSink::create(p, SESSION_RATE)?),
            None => Box::new(NullSink::new(SESSION_RATE)),
        };
        FilePort::new(source, sink)
    }

    /// Gives the sink back (a [`WavSink`] finalises its file when dropped).
    pub fn into_sink(self) -> Box<dyn AudioSink> {
        self.sink
    }
}

impl AudioPort for FilePort {
    fn capture(&mut self, frame: &mut [i16]) -> Result<bool, AudioDeviceError> {
        while self.live && self.capture_fifo.len() < frame.len() {
            self.live = self.source.read(&mut self.src_buf)?;
            self.to_session
                .process(&self.src_buf, &mut self.capture_fifo);
            if !self.live {
                self.to_session.flush(&mut self.capture_fifo);
            }
        }
        let n = frame.len().min(self.capture_fifo.len());
        for (slot, s) in frame.iter_mut().zip(self.capture_fifo.drain(..n)) {
            *slot = s;
        }
        frame[n..].fill(0);
        Ok(self.live || !self.capture_fifo.is_empty())
    }

    fn playout(&mut self, frame: &[i16]) -> Result<(), AudioDeviceError> {
        self.from_session.process(frame, &mut self.playout_fifo);
        self.sink_buf.clear();
        self.sink_buf.extend(self.playout_fifo.drain(..));
        self.sink.write(&self.sink_buf)?;
        Ok(())
    }
}

/// Paces 20 ms frames against a clock: real time in calls, any `Instant`
/// a test hands it.
#[derive(Debug, Clone)]
pub struct FrameClock {
    start: Instant,
    done: u64,
}

/// Frames run back to back at most after a stall; older ones are skipped
/// rather than played late.
const MAX_BURST: u64 = 5;

impl FrameClock {
    /// Frame 0 is due at `start`.
    pub fn new(start: Instant) -> FrameClock {
        FrameClock { start, done: 0 }
    }

    /// How many frames to run now (0 if none is due yet).
    pub fn due(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start);
        let target = (elapsed.as_micros() / 20_000) as u64 + 1;
        let behind = target.saturating_sub(self.done);
        if behind > MAX_BURST {
            self.done = target - MAX_BURST;
        }
        let n = target.saturating_sub(self.done);
        self.done += n;
        n
    }

    /// When the next frame is due.
    pub fn next_due(&self) -> Instant {
        self.start + Duration::from_millis(20 * self.done)
    }
}
