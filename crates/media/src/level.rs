//! Input and output level meters, run on the media thread over the
//! 48 kHz frames. RMS rises at once and falls with a 300 ms time constant
//! (a VU-like needle that does not flicker); the peak holds and then falls
//! at 20 dB/s. [`LevelMeter::report`] hands out a reading about ten times
//! a second for the UI's level events.

/// Floor of the scale, dBFS (digital silence reads this).
pub const FLOOR_DBFS: f32 = -100.0;
/// Release time constant of the RMS reading, seconds.
const RMS_RELEASE_S: f32 = 0.3;
/// Peak fall rate, dB per second.
const PEAK_FALL_DB_S: f32 = 20.0;
/// Audio between reports, ms.
const REPORT_MS: u32 = 100;

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Smoothed RMS, dBFS (full-scale sine = -3 dBFS).
    pub rms_dbfs: f32,
    /// Smoothed peak, dBFS.
    pub peak_dbfs: f32,
}

/// A meter for one direction.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    rate: u32,
    rms_db: f32,
    peak_db: f32,
    since_report: u32,
}

fn to_db(x: f32) -> f32 {
    if x <= 0.0 {
        FLOOR_DBFS
    } else {
        (20.0 * x.log10()).max(FLOOR_DBFS)
    }
}

impl LevelMeter {
    /// A meter for audio at `rate` Hz, starting at the floor.
    pub fn new(rate: u32) -> LevelMeter {
        LevelMeter {
            rate: rate.max(1),
            rms_db: FLOOR_DBFS,
            peak_db: FLOOR_DBFS,
            since_report: 0,
        }
    }

    /// Feeds one buffer.
    pub fn process(&mut self, samples: &[i16]) {
        if samples.is_empty() {
            return;
        }
        let mut energy = 0.0f64;
        let mut peak = 0i32;
        for &s in samples {
            energy += f64::from(s) * f64::from(s);
            peak = peak.max(i32::from(s).abs());
        }
        let rms = ((energy / samples.len() as f64).sqrt() / 32768.0) as f32;
        let dt = samples.len() as f32 / self.rate as f32;
        let rms_db = to_db(rms);
        self.rms_db = if rms_db >= self.rms_db {
            rms_db
        } else {
            // Exponential release on the power, expressed in dB.
            let k = (-dt / RMS_RELEASE_S).exp();
            let p = k * 10f32.powf(self.rms_db / 10.0) + (1.0 - k) * 10f32.powf(rms_db / 10.0);
            to_db(p.sqrt())
        };
        let peak_db = to_db(peak as f32 / 32768.0);
        self.peak_db = peak_db.max(self.peak_db - PEAK_FALL_DB_S * dt);
        self.since_report += samples.len() as u32;
    }

    /// The current reading.
    pub fn level(&self) -> Level {
        Level {
            rms_dbfs: self.rms_db,
            peak_dbfs: self.peak_db,
        }
    }

    /// A reading once at least 100 ms of audio has passed since the last.
    pub fn report(&mut self) -> Option<Level> {
        if self.since_report >= self.rate * REPORT_MS / 1000 {
            self.since_report = 0;
            Some(self.level())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn sine(amp: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * 32767.0 * (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48_000.0).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn full_scale_sine_reads_minus_3_dbfs_and_silence_the_floor() {
        let mut m = LevelMeter::new(RATE);
        assert_eq!(m.level().rms_dbfs, FLOOR_DBFS);
        m.process(&sine(1.0, 960));
        let l = m.level();
        assert!((l.rms_dbfs + 3.01).abs() < 0.1, "{l:?}");
        assert!(l.peak_dbfs.abs() < 0.1, "{l:?}");
        let mut m = LevelMeter::new(RATE);
        m.process(&sine(0.1, 960));
        assert!((m.level().rms_dbfs + 23.01).abs() < 0.1);
    }

    #[test]
    fn attack_is_instant_release_is_smooth() {
        let mut m = LevelMeter::new(RATE);
        let loud = sine(0.5, 960);
        m.process(&loud);
        let on = m.level();
        let silence = [0i16; 960];
        m.process(&silence);
        let after_20ms = m.level();
        assert!(after_20ms.rms_dbfs < on.rms_dbfs && after_20ms.rms_dbfs > on.rms_dbfs - 1.0);
        assert!((after_20ms.peak_dbfs - (on.peak_dbfs - 0.4)).abs() < 0.01);
        for _ in 0..100 {
            m.process(&silence);
        }
        let later = m.level();
        assert!(later.rms_dbfs < -30.0, "{later:?} after 2 s of silence");
        assert!(later.peak_dbfs < on.peak_dbfs - 39.0, "peak falls 20 dB/s");
    }

    #[test]
    fn reports_ten_times_a_second() {
        let mut m = LevelMeter::new(RATE);
        let mut reports = 0;
        for _ in 0..50 {
            m.process(&sine(0.2, 960));
            if let Some(l) = m.report() {
                assert!((l.rms_dbfs + 17.0).abs() < 0.2, "{l:?}");
                reports += 1;
            }
        }
        assert_eq!(reports, 10, "one per 100 ms over 1 s");
    }
}
