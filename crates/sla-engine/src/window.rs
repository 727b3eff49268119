//! Service windows (服务时间): the weekly open hours, timezone and holiday rule a calendar is built from.
//!
//! A window is only a description; [`crate::Calendar`] turns it and a
//! holiday schedule into a table that answers questions quickly.

use std::collections::BTreeMap;
use std::fmt;

use chrono::Weekday;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::ConfigError;

/// The timezone a window is read in unless it names another.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Asia::Shanghai;

/// The holiday region presets that follow statutory holidays use unless told otherwise.
pub const DEFAULT_HOLIDAY_REGION: &str = "cn";

/// Seconds in a wall-clock day; `24:00` is written as this.
const DAY: u32 = 86_400;

/// The open intervals of one day, as local wall-clock seconds since midnight, half-open `[start, end)`.
///
/// Always sorted, each non-empty, none overlapping (touching is allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayHours(Vec<(u32, u32)>);

impl DayHours {
    /// Closed all day.
    pub fn closed() -> Self {
        Self(Vec::new())
    }

    /// Open from midnight to midnight.
    pub fn whole_day() -> Self {
        Self(vec![(0, DAY)])
    }

    /// The default working hours of the `x8` presets: 09:00–12:00 and 13:00–18:00.
    pub fn office() -> Self {
        Self(vec![(9 * 3600, 12 * 3600), (13 * 3600, 18 * 3600)])
    }

    /// Parse intervals written `"HH:MM-HH:MM"` (seconds optional, `24:00` allowed as an end).
    ///
    /// Rejects reversed, empty and overlapping intervals; they are sorted by start.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let item = item.as_ref();
            let (a, b) = item
                .split_once('-')
                .ok_or_else(|| format!("\"{item}\" is not an interval like \"09:00-12:00\""))?;
            let (start, end) = (parse_time_of_day(a.trim())?, parse_time_of_day(b.trim())?);
            if start >= end {
                return Err(format!("\"{item}\" is reversed or empty: it must end after it starts"));
            }
            out.push((start, end));
        }
        Self::from_seconds(out)
    }

    /// Build from `(start, end)` seconds since midnight, validating as [`DayHours::parse`] does.
    pub fn from_seconds(mut intervals: Vec<(u32, u32)>) -> Result<Self, String> {
        intervals.sort_unstable();
        for &(start, end) in &intervals {
            if start >= end || end > DAY {
                return Err(format!("{}-{} is not a valid interval", hhmm(start), hhmm(end)));
            }
        }
        for pair in intervals.windows(2) {
            if pair[1].0 < pair[0].1 {
                return Err(format!(
                    "{}-{} overlaps {}-{}",
                    hhmm(pair[0].0),
                    hhmm(pair[0].1),
                    hhmm(pair[1].0),
                    hhmm(pair[1].1)
                ));
            }
        }
        Ok(Self(intervals))
    }

    /// The intervals, as seconds since local midnight.
    pub fn intervals(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// Open seconds in the day (on a day without a DST change).
    pub fn seconds(&self) -> u32 {
        self.0.iter().map(|(s, e)| e - s).sum()
    }

    /// True when the day has no open interval.
    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("closed");
        }
        let parts: Vec<String> = self.0.iter().map(|&(s, e)| format!("{}-{}", hhmm(s), hhmm(e))).collect();
        f.write_str(&parts.join(","))
    }
}

fn parse_time_of_day(text: &str) -> Result<u32, String> {
    let bad = || format!("\"{text}\" is not a time of day (HH:MM or HH:MM:SS)");
    let mut parts = text.split(':');
    let mut field = |max: u32| -> Result<u32, String> {
        let p = parts.next().ok_or_else(bad)?;
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let v: u32 = p.parse().map_err(|_| bad())?;
        if v > max { Err(bad()) } else { Ok(v) }
    };
    let (h, m) = (field(24)?, field(59)?);
    let s = if text.len() > 5 { field(59)? } else { 0 };
    if parts.next().is_some() {
        return Err(bad());
    }
    let total = h * 3600 + m * 60 + s;
    if total > DAY { Err(bad()) } else { Ok(total) }
}

fn hhmm(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if s == 0 { format!("{h:02}:{m:02}") } else { format!("{h:02}:{m:02}:{s:02}") }
}

/// The service-window presets the contract names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    /// `7x24`: always open; holidays do not matter.
    AlwaysOpen,
    /// `7x8`: every day, working hours, holidays do not close it.
    SevenByEight,
    /// `5x8`: Chinese statutory working days (Mon–Fri, closed on holidays, open on make-up days).
    FiveByEight,
    /// `6x8`: Mon–Sat, closed on statutory holidays, open on make-up days.
    SixByEight,
}

impl Preset {
    /// Every preset, in the order the contract lists them.
    pub const ALL: [Preset; 4] =
        [Preset::AlwaysOpen, Preset::SevenByEight, Preset::FiveByEight, Preset::SixByEight];

    /// The preset's name as written in configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::AlwaysOpen => "7x24",
            Preset::SevenByEight => "7x8",
            Preset::FiveByEight => "5x8",
            Preset::SixByEight => "6x8",
        }
    }

    /// Look a preset up by its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A service window: everything needed to build a [`crate::Calendar`] except the holiday dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceWindow {
    /// The name items refer to it by, e.g. `5x8`.
    pub name: String,
    /// The timezone its hours and dates are read in.
    pub timezone: Tz,
    /// Open hours by weekday, Monday first.
    pub weekly: [DayHours; 7],
    /// Hours on a make-up workday (调休上班), which falls on a weekend.
    pub makeup_hours: DayHours,
    /// The holiday region whose schedule closes holidays and opens make-up
    /// days; `None` when holidays do not affect this window.
    pub holidays: Option<String>,
}

impl ServiceWindow {
    /// A preset window named after the preset, with the given timezone and working hours
    /// (working hours are ignored by `7x24`).
    pub fn preset(preset: Preset, timezone: Tz, hours: DayHours) -> Self {
        let closed = DayHours::closed;
        let (weekly, holidays): ([DayHours; 7], Option<String>) = match preset {
            Preset::AlwaysOpen => (std::array::from_fn(|_| DayHours::whole_day()), None),
            Preset::SevenByEight => (std::array::from_fn(|_| hours.clone()), None),
            Preset::FiveByEight => (
                std::array::from_fn(|d| if d < 5 { hours.clone() } else { closed() }),
                Some(DEFAULT_HOLIDAY_REGION.to_owned()),
            ),
            Preset::SixByEight => (
                std::array::from_fn(|d| if d < 6 { hours.clone() } else { closed() }),
                Some(DEFAULT_HOLIDAY_REGION.to_owned()),
            ),
        };
        let makeup_hours = if preset == Preset::AlwaysOpen { DayHours::whole_day() } else { hours };
        Self { name: preset.name().to_owned(), timezone, weekly, makeup_hours, holidays }
    }

    /// A preset with its defaults: `Asia/Shanghai`, 09:00–12:00 and 13:00–18:00.
    pub fn default_preset(preset: Preset) -> Self {
        Self::preset(preset, DEFAULT_TIMEZONE, DayHours::office())
    }

    /// The hours for a weekday.
    pub fn hours_on(&self, weekday: Weekday) -> &DayHours {
        &self.weekly[weekday.num_days_from_monday() as usize]
    }

    /// Parse a file of window definitions, such as `config/calendars/windows.toml`:
    ///
    /// ```toml
    /// [window."5x8"]
    /// preset = "5x8"
    /// hours = ["09:00-12:00", "13:00-17:30"]
    ///
    /// [window.berlin-office]
    /// timezone = "Europe/Berlin"
    /// weekly = { mon = ["08:00-16:00"], tue = ["08:00-16:00"] }
    /// holidays = "de"
    /// ```
    ///
    /// `source` names the file in error messages.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Vec<Self>, ConfigError> {
        let file: WindowsFile = toml::from_str(text).map_err(|e| ConfigError::syntax(source, &e))?;
        file.window.into_iter().map(|(name, def)| def.into_window(source, name)).collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsFile {
    #[serde(default)]
    window: BTreeMap<String, WindowDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowDef {
    preset: Option<String>,
    timezone: Option<String>,
    hours: Option<Vec<String>>,
    weekly: Option<BTreeMap<String, Vec<String>>>,
    makeup_hours: Option<Vec<String>>,
    /// A region name, or `false` for "holidays do not apply".
    holidays: Option<HolidayRule>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum HolidayRule {
    Region(String),
    Flag(bool),
}

impl WindowDef {
    fn into_window(self, source: &str, name: String) -> Result<ServiceWindow, ConfigError> {
        let entry = format!("window.\"{name}\"");
        let err = |problem: String| ConfigError::new(source, &entry, problem);
        let timezone = match &self.timezone {
            None => DEFAULT_TIMEZONE,
            Some(tz) => tz
                .parse::<Tz>()
                .map_err(|_| err(format!("timezone = \"{tz}\" is not a known IANA timezone")))?,
        };
        let hours = match &self.hours {
            None => None,
            Some(h) => Some(DayHours::parse(h).map_err(|e| err(format!("hours: {e}")))?),
        };
        let mut window = match (&self.preset, &self.weekly) {
            (Some(_), Some(_)) => return Err(err("give either `preset` or `weekly`, not both".into())),
            (None, None) => {
                return Err(err("give a `preset` (7x24, 7x8, 5x8, 6x8) or a `weekly` pattern".into()));
            }
            (Some(p), None) => {
                let preset = Preset::from_name(p)
                    .ok_or_else(|| err(format!("preset = \"{p}\" is not one of 7x24, 7x8, 5x8, 6x8")))?;
                if preset == Preset::AlwaysOpen && hours.is_some() {
                    return Err(err("`hours` has no meaning for the 7x24 preset".into()));
                }
                ServiceWindow::preset(preset, timezone, hours.unwrap_or_else(DayHours::office))
            }
            (None, Some(days)) => {
                if hours.is_some() {
                    return Err(err("`hours` goes with a preset; a `weekly` pattern names each day".into()));
                }
                let mut weekly: [DayHours; 7] = Default::default();
                let mut named: [Option<&str>; 7] = Default::default();
                for (day, intervals) in days {
                    let weekday = day
                        .parse::<Weekday>()
                        .map_err(|_| err(format!("weekly: \"{day}\" is not a weekday (mon..sun)")))?;
                    // `mon` and `monday` name one day: keeping either would drop the other silently.
                    let slot = &mut named[weekday.num_days_from_monday() as usize];
                    if let Some(first) = slot.replace(day.as_str()) {
                        return Err(err(format!("weekly: \"{first}\" and \"{day}\" name the same day")));
                    }
                    weekly[weekday.num_days_from_monday() as usize] =
                        DayHours::parse(intervals).map_err(|e| err(format!("weekly.{day}: {e}")))?;
                }
                let makeup_hours = weekly[0].clone();
                ServiceWindow { name: String::new(), timezone, weekly, makeup_hours, holidays: None }
            }
        };
        window.name = name;
        if let Some(m) = &self.makeup_hours {
            window.makeup_hours = DayHours::parse(m).map_err(|e| err(format!("makeup_hours: {e}")))?;
        }
        match self.holidays {
            None => {}
            Some(HolidayRule::Flag(false)) => window.holidays = None,
            Some(HolidayRule::Flag(true)) => window.holidays = Some(DEFAULT_HOLIDAY_REGION.to_owned()),
            Some(HolidayRule::Region(r)) => window.holidays = Some(r),
        }
        if window.weekly.iter().all(DayHours::is_closed) && window.makeup_hours.is_closed() {
            return Err(err("the window is never open".into()));
        }
        Ok(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hours() {
        let h = DayHours::parse(&["13:00-18:00", "09:00-12:00"]).expect("valid");
        assert_eq!(h.intervals(), &[(32400, 43200), (46800, 64800)]);
        assert_eq!(h.seconds(), 8 * 3600);
        assert_eq!(h.to_string(), "09:00-12:00,13:00-18:00");
        assert_eq!(DayHours::parse(&["00:00-24:00"]).expect("whole day"), DayHours::whole_day());
        assert_eq!(DayHours::parse(&["08:30:15-09:00"]).expect("seconds").intervals(), &[(30615, 32400)]);
    }

    #[test]
    fn rejects_bad_hours() {
        for bad in [
            &["12:00-09:00"][..],
            &["09:00-09:00"],
            &["09:00-12:00", "11:00-13:00"],
            &["9:00-12:00"],
            &["09:60-10:00"],
            &["24:01-24:30"],
            &["0900-1200"],
        ] {
            assert!(DayHours::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(DayHours::parse(&["09:00-12:00", "12:00-13:00"]).is_ok(), "touching is fine");
    }

    #[test]
    fn presets_follow_the_contract() {
        let five = ServiceWindow::default_preset(Preset::FiveByEight);
        assert_eq!(five.hours_on(Weekday::Fri).seconds(), 8 * 3600);
        assert!(five.hours_on(Weekday::Sat).is_closed());
        assert_eq!(five.holidays.as_deref(), Some("cn"));
        let six = ServiceWindow::default_preset(Preset::SixByEight);
        assert!(!six.hours_on(Weekday::Sat).is_closed() && six.hours_on(Weekday::Sun).is_closed());
        let seven = ServiceWindow::default_preset(Preset::SevenByEight);
        assert!(!seven.hours_on(Weekday::Sun).is_closed() && seven.holidays.is_none());
        let always = ServiceWindow::default_preset(Preset::AlwaysOpen);
        assert_eq!(always.hours_on(Weekday::Sun), &DayHours::whole_day());
        assert_eq!(always.timezone, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn reads_window_files_and_names_the_entry_at_fault() {
        let windows = ServiceWindow::from_toml_str(
            "windows.toml",
            r#"
[window."5x8"]
preset = "5x8"
hours = ["09:00-12:00", "14:00-17:30"]
[window.berlin]
timezone = "Europe/Berlin"
weekly = { mon = ["08:00-16:00"], sat = ["10:00-12:00"] }
holidays = "de"
"#,
        )
        .expect("valid file");
        assert_eq!(windows.len(), 2);
        let five = windows.iter().find(|w| w.name == "5x8").expect("5x8");
        assert_eq!(five.hours_on(Weekday::Mon).to_string(), "09:00-12:00,14:00-17:30");
        let berlin = windows.iter().find(|w| w.name == "berlin").expect("berlin");
        assert_eq!(berlin.timezone, chrono_tz::Europe::Berlin);
        assert!(berlin.hours_on(Weekday::Tue).is_closed());
        assert_eq!(berlin.holidays.as_deref(), Some("de"));

        let twice = ServiceWindow::from_toml_str(
            "w.toml",
            "[window.x]\nweekly = { mon = [\"08:00-12:00\"], monday = [\"13:00-17:00\"] }\n",
        )
        .expect_err("one day named twice");
        assert!(twice.to_string().contains("name the same day"), "{twice}");

        let tz = ServiceWindow::from_toml_str(
            "w.toml",
            "[window.x]\npreset = \"5x8\"\ntimezone = \"Mars/Olympus\"\n",
        )
        .expect_err("unknown timezone");
        assert_eq!(
            tz.to_string(),
            "w.toml: window.\"x\": timezone = \"Mars/Olympus\" is not a known IANA timezone"
        );
        let overlap = ServiceWindow::from_toml_str(
            "w.toml",
            "[window.x]\npreset = \"5x8\"\nhours = [\"09:00-12:00\", \"11:00-13:00\"]\n",
        )
        .expect_err("overlap");
        assert!(overlap.to_string().contains("overlaps"), "{overlap}");
        let never =
            ServiceWindow::from_toml_str("w.toml", "[window.x]\nweekly = {}\n").expect_err("never open");
        assert!(never.to_string().contains("never open"), "{never}");
    }
}
