//! Date (RFC 3261 §20.17): an RFC 1123 date, always in GMT.

use std::fmt;

use super::{HeaderError, HeaderName, TypedHeader};

const NAME: &str = "Date";
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar time in GMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day of month, 1-31.
    pub day: u8,
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-60 (leap second allowed).
    pub second: u8,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Date {
    /// Seconds since the Unix epoch.
    pub fn unix_time(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        ) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The date for a Unix time (the caller owns the clock). `None` outside
    /// years 0-9999.
    pub fn from_unix_time(t: i64) -> Option<Date> {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Some(Date {
            year: u16::try_from(y).ok().filter(|y| *y <= 9999)?,
            month: m as u8,
            day: d as u8,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        })
    }

    fn weekday(&self) -> &'static str {
        // 1970-01-01 was a Thursday (index 3).
        let days = self.unix_time().div_euclid(86_400);
        WEEKDAYS[((days + 3).rem_euclid(7)) as usize]
    }
}

fn num(s: &str, digits: usize, max: u16, offset: usize) -> Result<u16, HeaderError> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::syntax(NAME, offset, "fixed-width number"));
    }
    let v: u16 = s.parse().map_err(|_| HeaderError::OutOfRange {
        header: NAME,
        offset,
    })?;
    if v > max {
        return Err(HeaderError::OutOfRange {
            header: NAME,
            offset,
        });
    }
    Ok(v)
}

impl TypedHeader for Date {
    const NAME: HeaderName = HeaderName::Date;

    fn parse(value: &str) -> Result<Self, HeaderError> {
        let v = value.trim();
        let lead = value.len() - value.trim_start().len();
        // "Sat, 15 Oct 2005 04:44:56 GMT"
        let parts: Vec<&str> = v.split(' ').collect();
        let [wk, day, mon, year, time, zone] = parts.as_slice() else {
            return Err(HeaderError::syntax(
                NAME,
                lead,
                "wkday, DD Mon YYYY HH:MM:SS GMT",
            ));
        };
        if !wk.strip_suffix(',').is_some_and(|w| WEEKDAYS.contains(&w)) {
            return Err(HeaderError::syntax(NAME, lead, "weekday followed by ','"));
        }
        let off = |p: &str| lead + (p.as_ptr() as usize).saturating_sub(v.as_ptr() as usize);
        let day = num(day, 2, 31, off(day))?;
        let month = MONTHS
            .iter()
            .position(|m| m == mon)
            .ok_or(HeaderError::syntax(NAME, off(mon), "month name"))?;
        let year = num(year, 4, 9999, off(year))?;
        let t: Vec<&str> = time.split(':').collect();
        let [h, m, s] = t.as_slice() else {
            return Err(HeaderError::syntax(NAME, off(time), "HH:MM:SS"));
        };
        let hour = num(h, 2, 23, off(time))?;
        let minute = num(m, 2, 59, off(time))?;
        let second = num(s, 2, 60, off(time))?;
        if *zone != "GMT" {
            return Err(HeaderError::syntax(NAME, off(zone), "time zone GMT"));
        }
        if day == 0 {
            return Err(HeaderError::OutOfRange {
                header: NAME,
                offset: lead,
            });
        }
        Ok(Date {
            year,
            month: month as u8 + 1,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mon = MONTHS
            .get(usize::from(self.month.saturating_sub(1)))
            .copied()
            .unwrap_or("Jan");
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            self.weekday(),
            self.day,
            mon,
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_and_epoch() {
        let d = Date::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute),
            (2010, 11, 13, 23, 29)
        );
        assert_eq!(d.to_string(), "Sat, 13 Nov 2010 23:29:00 GMT");
        assert_eq!(d.unix_time(), 1_289_690_940);
        assert_eq!(Date::from_unix_time(d.unix_time()), Some(d));
        assert_eq!(
            Date::from_unix_time(0).unwrap().to_string(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn rejects_non_gmt_and_junk() {
        assert!(matches!(
            Date::parse("Fri, 01 Jan 2010 16:00:00 EST"),
            Err(HeaderError::Syntax {
                expected: "time zone GMT",
                offset: 26,
                ..
            })
        ));
        assert!(Date::parse("Fri, 1 Jan 2010 16:00:00 GMT").is_err());
        assert!(Date::parse("Fri, 01 Foo 2010 16:00:00 GMT").is_err());
        assert!(Date::parse("Fri, 01 Jan 2010 24:00:00 GMT").is_err());
        assert!(Date::parse("").is_err());
    }
}
