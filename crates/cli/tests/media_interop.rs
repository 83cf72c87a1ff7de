//! Voice through real peers: Parley calls baresip through the test
//! Kamailio with Opus, G.722 and PCMU in turn; each side plays speech
//! (espeak-ng) and records what it hears; the recordings must be
//! non-silent and follow what was sent. DTMF 0-9*# (RFC 4733) must reach
//! baresip. `PARLEY_KEEP_MEDIA=<dir>` keeps the recordings and baresip's
//! log for listening when a correlation fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use parley_interop::{Baresip, BaresipOptions, Kamailio, KamailioOptions};

/// A few seconds of speech as 48 kHz mono 16-bit WAV.
fn speech(dir: &Path) -> PathBuf {
    let raw = dir.join("speech-raw.wav");
    let out = dir.join("speech.wav");
    let ok = Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&raw)
        .arg("Parley calls baresip. One, two, three, four, five. The quick brown fox jumps over the lazy dog.")
        .status()
        .expect("espeak-ng (installed by scripts/install-deps.sh)");
    assert!(ok.success());
    let ok = Command::new("sox")
        .arg(&raw)
        .args(["-r", "48000", "-c", "1", "-b", "16"])
        .arg(&out)
        .status()
        .expect("sox");
    assert!(ok.success());
    out
}

fn samples(path: &Path) -> (u32, Vec<f64>) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = r.spec().sample_rate;
    let ch = usize::from(r.spec().channels.max(1));
    let all: Vec<f64> = r
        .samples::<i16>()
        .map(|s| f64::from(s.unwrap_or(0)))
        .collect();
    // Mono: the mean of the channels (baresip dumps Opus as stereo).
    let s = all
        .chunks(ch)
        .map(|c| c.iter().sum::<f64>() / ch as f64)
        .collect();
    (rate, s)
}

/// 20 ms RMS envelope.
fn envelope(rate: u32, x: &[f64]) -> Vec<f64> {
    let n = (rate / 50) as usize;
    x.chunks(n)
        .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// Best normalised correlation of the two envelopes over lags of up to
/// 3 s either way: near 1 when one is a (delayed, coded) copy of the
/// other. Recordings start at different moments of the call set-up.
fn envelope_correlation(sent: &Path, heard: &Path) -> f64 {
    let (ra, a) = samples(sent);
    let (rb, b) = samples(heard);
    let ea = envelope(ra, &a);
    let eb = envelope(rb, &b);
    let mut best = f64::MIN;
    for lag in -150i64..=150 {
        let pairs: Vec<(f64, f64)> = (0..ea.len())
            .filter_map(|i| {
                let j = i as i64 + lag;
                (j >= 0 && (j as usize) < eb.len()).then(|| (ea[i], eb[j as usize]))
            })
            .collect();
        if pairs.len() < 100 {
            continue;
        }
        let n = pairs.len() as f64;
        let (mx, my) = (
            pairs.iter().map(|p| p.0).sum::<f64>() / n,
            pairs.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let dot: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let nx: f64 = pairs
            .iter()
            .map(|(x, _)| (x - mx).powi(2))
            .sum::<f64>()
            .sqrt();
        let ny: f64 = pairs
            .iter()
            .map(|(_, y)| (y - my).powi(2))
            .sum::<f64>()
            .sqrt();
        if nx > 0.0 && ny > 0.0 {
            best = best.max(dot / (nx * ny));
        }
    }
    best
}

fn rms(path: &Path) -> f64 {
    let (_, x) = samples(path);
    (x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// With `PARLEY_KEEP_MEDIA=<dir>`, copies what was sent and what each side
/// heard there (a failed correlation is judged by listening to them).
fn keep_evidence(codec: &str, dir: &Path, dump: &Path, log: &str) {
    let Some(keep) = std::env::var_os("PARLEY_KEEP_MEDIA") else {
        return;
    };
    let to = Path::new(&keep).join(codec.replace(['/', ','], "-"));
    std::fs::create_dir_all(&to).unwrap();
    for (from, name) in [
        (dir.join("speech.wav"), "sent.wav"),
        (dir.join("heard.wav"), "parley-heard.wav"),
        (dump.to_path_buf(), "baresip-heard.wav"),
    ] {
        let _ = std::fs::copy(from, to.join(name));
    }
    let _ = std::fs::write(to.join("baresip.log"), log);
}

/// A call to baresip with `codec`: speech both ways, each side's
/// recording follows what the other sent; then DTMF (skipped with
/// `processing`, the stages Parley runs on its microphone, which leave
/// the DTMF path alone).
fn call_with(codec: &str, processing: Option<&str>) {
    let kam = Kamailio::start(KamailioOptions::default()).expect("kamailio");
    let dir = tempfile::tempdir().unwrap();
    let speech = speech(dir.path());
    let bob = Baresip::start(
        &kam,
        BaresipOptions {
            codecs: codec.into(),
            audio_file: Some(speech.clone()),
            ..BaresipOptions::new("bob")
        },
    )
    .expect("baresip");
    bob.wait_registered(Duration::from_secs(10))
        .expect("registered");
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_parley-cli"))
            .arg("--config-dir")
            .arg(dir.path().join("config"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--json")
            .args(args)
            .env("PARLEY_PASSWORD", "alice123")
            .output()
            .expect("parley-cli")
    };
    let proxy = format!("sip:127.0.0.1:{}", kam.port);
    let add = cli(&[
        "account",
        "add",
        "work",
        "--uri",
        "sip:alice@127.0.0.1",
        "--proxy",
        &proxy,
    ]);
    assert!(add.status.success());
    let heard = dir.path().join("heard.wav");
    let mut args = vec![
        "call",
        "sip:bob@127.0.0.1",
        "--account",
        "work",
        "--duration",
        "6",
        "--play",
        speech.to_str().unwrap(),
        "--record",
        heard.to_str().unwrap(),
    ];
    if let Some(stages) = processing {
        args.extend(["--processing", stages]);
    }
    let out = cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{codec}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = codec.split('/').next().unwrap().to_ascii_lowercase();
    let codec_line = stdout
        .lines()
        .find(|l| l.contains("\"connected\""))
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        codec_line.contains(&format!("\"codec\":\"{want}/")),
        "{codec} negotiated: {codec_line}"
    );
    // What Parley heard from baresip.
    assert!(rms(&heard) > 100.0, "{codec}: Parley heard silence");
    let c = envelope_correlation(&speech, &heard);
    eprintln!("{codec}: Parley heard bob's speech with envelope correlation {c:.2}");
    assert!(
        c > 0.5,
        "{codec}: what Parley heard does not follow bob's speech ({c:.2})"
    );
    // What baresip heard from Parley (its decoder dump).
    std::thread::sleep(Duration::from_millis(500));
    let dump = std::fs::read_dir(bob.dir.path().join("rec"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("{codec}: baresip recorded nothing"));
    let label = match processing {
        Some(stages) => format!("{codec}+{stages}"),
        None => codec.to_owned(),
    };
    keep_evidence(&label, dir.path(), &dump, &bob.log());
    assert!(rms(&dump) > 100.0, "{codec}: baresip heard silence");
    let c = envelope_correlation(&speech, &dump);
    eprintln!("{codec}: baresip heard our speech with envelope correlation {c:.2}");
    assert!(
        c > 0.5,
        "{codec}: what baresip heard does not follow our speech ({c:.2})"
    );
    if processing.is_some() {
        return;
    }
    // RFC 4733 digits reached baresip, every one of them (a call of its
    // own: a sender's audio pauses while it sends events).
    let out = cli(&[
        "call",
        "sip:bob@127.0.0.1",
        "--account",
        "work",
        "--duration",
        "4",
        "--dtmf",
        "0123456789*#",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = bob.log();
    for d in "0123456789*#".chars() {
        // baresip logs each RFC 4733 event's start and end.
        assert!(
            log.contains(&format!("received event: '{d}' (end=1)")),
            "{codec}: digit {d} not seen by baresip:\n{log}"
        );
    }
}

#[test]
fn opus_voice_and_dtmf_both_ways_with_baresip() {
    call_with("opus/48000/2", None);
}

/// With a processing stage on (as on sound devices, by default) Parley
/// codes its 16 kHz processed microphone with libopus's SILK-only
/// encoder: baresip must decode it as well. Noise suppression alone: both
/// sides play the same speech, which an echo canceller would rightly take
/// for echo. (0.91 here, the same with the VoIP encoder capped at
/// wideband: the suppressor, not the encoder, shapes the envelope.)
#[test]
fn opus_from_the_processed_microphone_reaches_baresip() {
    call_with("opus/48000/2", Some("ns"));
}

#[test]
fn g722_voice_and_dtmf_both_ways_with_baresip() {
    call_with("G722/16000/1", None);
}

#[test]
fn pcmu_voice_and_dtmf_both_ways_with_baresip() {
    call_with("PCMU/8000/1", None);
}
