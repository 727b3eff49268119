//! Statutory holiday schedules (法定节假日) and make-up workdays (调休上班), read from configuration.
//!
//! The State Council publishes each year's schedule late in the previous
//! year, so the data is configuration, one file per region and year, and a
//! schedule remembers which dates its data covers: arithmetic past that range
//! still answers from the weekly pattern, but says so.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// What a schedule says about one date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A statutory holiday: closed whatever the weekday.
    Holiday,
    /// A make-up workday (调休上班): open with working-day hours although it is a weekend.
    Workday,
}

/// Holidays and make-up workdays of one region, merged from one or more
/// yearly files. It serializes so that a service can keep the schedules
/// its clocks were last computed on, and later ask what changed since.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidaySchedule {
    /// Every exceptional date with the name of the festival it belongs to,
    /// so that an error or a report can say "春节", not just a date.
    days: BTreeMap<NaiveDate, (DayKind, String)>,
    /// Inclusive date ranges the loaded data speaks for, sorted and merged.
    coverage: Vec<(NaiveDate, NaiveDate)>,
}

/// One yearly file, e.g. `config/calendars/cn-2026.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    region: String,
    year: i32,
    #[serde(default)]
    holiday: Vec<HolidayEntry>,
    #[serde(default)]
    workday: Vec<WorkdayEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkdayEntry {
    date: String,
    #[serde(default)]
    name: String,
}

impl HolidaySchedule {
    /// A schedule with no exceptional dates that covers nothing: every date
    /// follows the weekly pattern and is reported as beyond the holiday data.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parse one yearly file. `source` names the file in error messages.
    ///
    /// Returns the region the file is for, and the schedule it holds. Every
    /// date must lie in the file's year; a date may not be both a holiday and
    /// a workday, nor appear twice; holiday ranges may not be reversed; a
    /// make-up workday must fall on a weekend.
    pub fn from_toml_str(source: &str, text: &str) -> Result<(String, Self), ConfigError> {
        let file: ScheduleFile = toml::from_str(text).map_err(|e| ConfigError::syntax(source, &e))?;
        let year_start = NaiveDate::from_ymd_opt(file.year, 1, 1)
            .ok_or_else(|| ConfigError::new(source, "year", format!("{} is not a valid year", file.year)))?;
        let year_end = NaiveDate::from_ymd_opt(file.year, 12, 31).unwrap_or(year_start);
        let mut days = BTreeMap::new();

        for (i, h) in file.holiday.iter().enumerate() {
            let entry = format!("holiday[{i}] \"{}\"", h.name);
            let from = parse_date(source, &entry, "from", &h.from)?;
            let to = parse_date(source, &entry, "to", &h.to)?;
            if to < from {
                return Err(ConfigError::new(
                    source,
                    &entry,
                    format!("range is reversed: {from} is after {to}"),
                ));
            }
            for date in from.iter_days().take_while(|d| *d <= to) {
                check_in_year(source, &entry, date, file.year)?;
                if let Some((_, other)) = days.insert(date, (DayKind::Holiday, h.name.clone())) {
                    return Err(ConfigError::new(
                        source,
                        &entry,
                        format!("{date} is already listed under \"{other}\""),
                    ));
                }
            }
        }
        for (i, w) in file.workday.iter().enumerate() {
            let entry = format!("workday[{i}] {}", w.date);
            let date = parse_date(source, &entry, "date", &w.date)?;
            check_in_year(source, &entry, date, file.year)?;
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(ConfigError::new(
                    source,
                    &entry,
                    format!(
                        "{date} is a {:?}; a make-up workday (调休上班) must fall on a weekend",
                        date.weekday()
                    ),
                ));
            }
            match days.insert(date, (DayKind::Workday, w.name.clone())) {
                Some((DayKind::Holiday, name)) => {
                    return Err(ConfigError::new(
                        source,
                        &entry,
                        format!("{date} is also a holiday (\"{name}\")"),
                    ));
                }
                Some((DayKind::Workday, _)) => {
                    return Err(ConfigError::new(source, &entry, format!("{date} is listed twice")));
                }
                None => {}
            }
        }
        Ok((file.region, Self { days, coverage: vec![(year_start, year_end)] }))
    }

    /// Merge another schedule of the same region (usually the next year's) into this one.
    ///
    /// Fails when the two disagree about a date or claim overlapping coverage,
    /// which would mean the same year was loaded twice.
    pub fn merge(&mut self, other: Self) -> Result<(), String> {
        for &(from, to) in &other.coverage {
            if self.coverage.iter().any(|&(f, t)| from <= t && f <= to) {
                return Err(format!("holiday data for {from}..{to} is loaded twice"));
            }
        }
        self.days.extend(other.days);
        self.coverage.extend(other.coverage);
        self.coverage.sort_unstable();
        // Join ranges that touch, so that 2026 and 2027 read as one span.
        let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(self.coverage.len());
        for (from, to) in self.coverage.drain(..) {
            match merged.last_mut() {
                Some(last) if last.1.succ_opt() == Some(from) => last.1 = to,
                _ => merged.push((from, to)),
            }
        }
        self.coverage = merged;
        Ok(())
    }

    /// What the data says about `date`, if it is an exception to the weekly pattern.
    pub fn day(&self, date: NaiveDate) -> Option<DayKind> {
        self.days.get(&date).map(|(kind, _)| *kind)
    }

    /// The festival name recorded for an exceptional date.
    pub fn name_of(&self, date: NaiveDate) -> Option<&str> {
        self.days.get(&date).map(|(_, name)| name.as_str())
    }

    /// Inclusive date ranges the loaded data speaks for.
    pub fn coverage(&self) -> &[(NaiveDate, NaiveDate)] {
        &self.coverage
    }

    /// Every exceptional date, in order.
    pub fn days(&self) -> impl Iterator<Item = (NaiveDate, DayKind)> + '_ {
        self.days.iter().map(|(d, (k, _))| (*d, *k))
    }

    /// Whether the data speaks for `date`.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.coverage.iter().any(|&(from, to)| from <= date && date <= to)
    }

    /// The first date that `other` treats differently (another kind of
    /// day, or covered by one and not the other), if any: business time
    /// before it is the same under both, so that a deadline before it
    /// stands. Names alone do not count.
    pub fn first_difference(&self, other: &Self) -> Option<NaiveDate> {
        // A difference starts at an exceptional date of either, or where a
        // covered range of either starts or has just ended.
        let bounds = |s: &Self| -> Vec<NaiveDate> {
            s.coverage.iter().flat_map(|&(from, to)| [Some(from), to.succ_opt()]).flatten().collect()
        };
        let mut candidates: Vec<NaiveDate> = self.days.keys().chain(other.days.keys()).copied().collect();
        candidates.extend(bounds(self));
        candidates.extend(bounds(other));
        candidates.sort_unstable();
        candidates.into_iter().find(|&d| self.day(d) != other.day(d) || self.covers(d) != other.covers(d))
    }
}

fn parse_date(source: &str, entry: &str, field: &str, text: &str) -> Result<NaiveDate, ConfigError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| {
        ConfigError::new(source, entry, format!("{field} = \"{text}\" is not a date (YYYY-MM-DD): {e}"))
    })
}

fn check_in_year(source: &str, entry: &str, date: NaiveDate, year: i32) -> Result<(), ConfigError> {
    if date.year() == year {
        Ok(())
    } else {
        Err(ConfigError::new(source, entry, format!("{date} lies outside the file's year {year}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HolidaySchedule, String> {
        HolidaySchedule::from_toml_str("cn-test.toml", text).map(|(_, s)| s).map_err(|e| e.to_string())
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    #[test]
    fn reads_ranges_and_workdays() {
        let s = parse(
            r#"region = "cn"
year = 2026
[[holiday]]
name = "元旦"
from = "2026-01-01"
to = "2026-01-03"
[[workday]]
date = "2026-01-04"
name = "元旦"
"#,
        )
        .expect("valid schedule");
        assert_eq!(s.day(d(2026, 1, 2)), Some(DayKind::Holiday));
        assert_eq!(s.day(d(2026, 1, 4)), Some(DayKind::Workday));
        assert_eq!(s.day(d(2026, 1, 5)), None);
        assert_eq!(s.name_of(d(2026, 1, 3)), Some("元旦"));
        assert_eq!(s.coverage(), &[(d(2026, 1, 1), d(2026, 12, 31))]);
    }

    #[test]
    fn errors_name_the_file_and_the_entry() {
        let both = parse(
            "region = \"cn\"\nyear = 2026\n[[holiday]]\nname = \"国庆节\"\nfrom = \"2026-10-01\"\nto = \"2026-10-07\"\n[[workday]]\ndate = \"2026-10-03\"\n",
        )
        .expect_err("a date both holiday and workday");
        assert!(both.starts_with("cn-test.toml: workday[0] 2026-10-03:"), "{both}");
        assert!(both.contains("also a holiday"), "{both}");

        let reversed = parse("region = \"cn\"\nyear = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-05-05\"\nto = \"2026-05-01\"\n")
            .expect_err("reversed");
        assert!(reversed.contains("holiday[0] \"x\"") && reversed.contains("reversed"), "{reversed}");

        let bad = parse("region = \"cn\"\nyear = 2026\n[[holiday]]\nname = \"x\"\nfrom = \"2026-02-30\"\nto = \"2026-03-01\"\n")
            .expect_err("bad date");
        assert!(bad.contains("from = \"2026-02-30\" is not a date"), "{bad}");

        let weekday =
            parse("region = \"cn\"\nyear = 2026\n[[workday]]\ndate = \"2026-01-05\"\n").expect_err("Monday");
        assert!(weekday.contains("must fall on a weekend"), "{weekday}");

        let other_year =
            parse("region = \"cn\"\nyear = 2026\n[[workday]]\ndate = \"2027-01-02\"\n").expect_err("2027");
        assert!(other_year.contains("outside the file's year 2026"), "{other_year}");

        let syntax = parse("region = \"cn\"\nyear = ").expect_err("syntax");
        assert!(syntax.starts_with("cn-test.toml:"), "{syntax}");
    }

    #[test]
    fn merging_joins_adjacent_years_and_rejects_repeats() {
        let y26 = parse("region = \"cn\"\nyear = 2026\n").expect("2026");
        let y27 = parse("region = \"cn\"\nyear = 2027\n").expect("2027");
        let mut s = y26.clone();
        s.merge(y27).expect("adjacent years merge");
        assert_eq!(s.coverage(), &[(d(2026, 1, 1), d(2027, 12, 31))]);
        assert!(s.merge(y26).is_err());
    }

    /// The first date two schedules treat differently, by looking at every
    /// date from 2025 to 2028 one by one.
    fn first_difference_by_brute_force(a: &HolidaySchedule, b: &HolidaySchedule) -> Option<NaiveDate> {
        d(2025, 1, 1).iter_days().take_while(|&x| x < d(2029, 1, 1)).find(|&x| {
            let covered = |s: &HolidaySchedule| s.coverage().iter().any(|&(f, t)| f <= x && x <= t);
            a.day(x) != b.day(x) || covered(a) != covered(b)
        })
    }

    #[test]
    fn first_difference_is_the_first_date_treated_otherwise() {
        let base = "region = \"cn\"\nyear = 2026\n[[holiday]]\nname = \"国庆节\"\nfrom = \"2026-10-01\"\nto = \"2026-10-07\"\n[[workday]]\ndate = \"2026-10-10\"\n";
        let y26 = parse(base).expect("2026");
        let renamed = parse(&base.replace("国庆节", "国庆")).expect("renamed");
        let moved = parse(&base.replace("2026-10-10", "2026-09-27")).expect("make-up day moved");
        let added =
            parse(&format!("{base}[[holiday]]\nname = \"x\"\nfrom = \"2026-11-30\"\nto = \"2026-11-30\"\n"))
                .expect("a holiday added");
        let empty = parse("region = \"cn\"\nyear = 2026\n").expect("no exceptions");
        let mut with_2027 = y26.clone();
        with_2027.merge(parse("region = \"cn\"\nyear = 2027\n").expect("2027")).expect("merge");
        let none = HolidaySchedule::empty();

        let cases = [
            (&y26, &y26, None),
            (&y26, &renamed, None),
            (&y26, &moved, Some(d(2026, 9, 27))),
            (&y26, &added, Some(d(2026, 11, 30))),
            (&y26, &empty, Some(d(2026, 10, 1))),
            (&y26, &with_2027, Some(d(2027, 1, 1))),
            (&none, &y26, Some(d(2026, 1, 1))),
        ];
        for (a, b, expected) in cases {
            assert_eq!(a.first_difference(b), expected);
            assert_eq!(b.first_difference(a), expected, "the difference is symmetric");
            assert_eq!(a.first_difference(b), first_difference_by_brute_force(a, b));
        }
        // Kept as JSON between two recomputations, it reads back the same.
        let text = serde_json::to_string(&with_2027).expect("serializes");
        assert_eq!(serde_json::from_str::<HolidaySchedule>(&text).expect("reads back"), with_2027);
    }
}
