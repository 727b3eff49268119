//! Where configuration comes from: a folder on disk, or the files built into
//! the binary. Holiday years may come from a third place, the database, and
//! each year is taken from the most specific source that has it: the
//! database, then the folder, then the files built in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use sla_engine::{CalendarSet, ConfigError, DateSpan, HolidaySchedule, ServiceWindow};

use crate::LoadErrors;

/// Where a configuration folder's files were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A folder on disk (`ITSM_CONFIG_DIR`).
    Folder(PathBuf),
    /// The files built into the binary.
    BuiltIn,
}

/// A configuration folder's files by relative path (`catalog/items.toml`).
#[derive(Clone, Debug)]
pub struct ConfigFiles {
    files: BTreeMap<String, String>,
    origin: Origin,
}

fn load_error(source: &str, problem: impl Into<String>) -> LoadErrors {
    LoadErrors(vec![ConfigError {
        source_name: source.to_owned(),
        entry: String::new(),
        problem: problem.into(),
    }])
}

impl ConfigFiles {
    /// Read `catalog/*.toml` and `calendars/*.toml` under `dir`.
    pub fn read_folder(dir: &Path) -> Result<Self, LoadErrors> {
        let mut files = BTreeMap::new();
        for sub in ["catalog", "calendars"] {
            let folder = dir.join(sub);
            let entries = std::fs::read_dir(&folder).map_err(|e| {
                load_error(&folder.display().to_string(), format!("cannot read the folder: {e}"))
            })?;
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.extension().is_none_or(|x| x != "toml") {
                    continue;
                }
                let name = format!("{sub}/{}", entry.file_name().to_string_lossy());
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| load_error(&name, format!("cannot read: {e}")))?;
                files.insert(name, text);
            }
        }
        Ok(Self { files, origin: Origin::Folder(dir.to_owned()) })
    }

    /// Files given as (relative path, text): the configuration built into the binary.
    pub fn built_in(files: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { files: files.into_iter().collect(), origin: Origin::BuiltIn }
    }

    /// Where they were read from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The text of one file.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// The text of one file, or a problem naming it.
    pub(crate) fn require(&self, path: &str) -> Result<&str, LoadErrors> {
        self.get(path).ok_or_else(|| load_error(path, "cannot read: no such file"))
    }

    /// `calendars/*.toml`, by name.
    fn calendar_files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter(|(k, _)| k.starts_with("calendars/")).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Where a holiday year came from, in ascending precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidaySource {
    /// The configuration built into the binary.
    BuiltIn,
    /// The configuration folder.
    Folder,
    /// Uploaded by an administrator and stored in the database.
    Database,
}

/// One year of one region's holidays and make-up workdays, as written and as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolidayYear {
    /// The region (`cn`).
    pub region: String,
    /// The year.
    pub year: i32,
    /// Where it came from.
    pub source: HolidaySource,
    /// The file's text (TOML).
    pub text: String,
    /// What it says.
    pub schedule: HolidaySchedule,
}

/// Parse one yearly holiday file (the form of `config/calendars/cn-2026.toml`).
pub fn parse_holiday_year(name: &str, text: &str, source: HolidaySource) -> Result<HolidayYear, ConfigError> {
    let (region, schedule) = HolidaySchedule::from_toml_str(name, text)?;
    let year = schedule.coverage().first().map_or(0, |(from, _)| from.year());
    Ok(HolidayYear { region, year, source, text: text.to_owned(), schedule })
}

/// The inputs of the service windows: their definitions, and every holiday
/// year by region, each from its most specific source.
#[derive(Clone, Debug, Default)]
pub struct CalendarInputs {
    windows: Vec<ServiceWindow>,
    years: BTreeMap<(String, i32), HolidayYear>,
}

impl CalendarInputs {
    /// `calendars/windows.toml` and every yearly file beside it, from `files`.
    pub fn from_files(files: &ConfigFiles, source: HolidaySource) -> Result<Self, LoadErrors> {
        let mut problems = Vec::new();
        let mut inputs = Self::default();
        for (name, text) in files.calendar_files() {
            if name == "calendars/windows.toml" {
                match ServiceWindow::from_toml_str(name, text) {
                    Ok(w) => inputs.windows.extend(w),
                    Err(e) => problems.push(e),
                }
                continue;
            }
            match parse_holiday_year(name, text, source) {
                Ok(y) => {
                    let key = (y.region.clone(), y.year);
                    if inputs.years.contains_key(&key) {
                        problems.push(ConfigError {
                            source_name: name.to_owned(),
                            entry: String::new(),
                            problem: format!("holiday data for {} {} is loaded twice", key.0, key.1),
                        });
                    }
                    inputs.years.insert(key, y);
                }
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() { Ok(inputs) } else { Err(LoadErrors(problems)) }
    }

    /// Take these years where they are more specific than the ones held.
    pub fn add_years(&mut self, years: impl IntoIterator<Item = HolidayYear>) {
        for y in years {
            let key = (y.region.clone(), y.year);
            if self.years.get(&key).is_none_or(|held| held.source <= y.source) {
                self.years.insert(key, y);
            }
        }
    }

    /// Every holiday year held, by region and year.
    pub fn years(&self) -> impl Iterator<Item = &HolidayYear> {
        self.years.values()
    }

    /// The window definitions.
    pub fn windows(&self) -> &[ServiceWindow] {
        &self.windows
    }

    /// Each region's schedule, its years merged.
    fn schedules(&self) -> Result<BTreeMap<String, HolidaySchedule>, LoadErrors> {
        let mut out: BTreeMap<String, HolidaySchedule> = BTreeMap::new();
        for y in self.years.values() {
            match out.get_mut(&y.region) {
                Some(existing) => existing
                    .merge(y.schedule.clone())
                    .map_err(|e| load_error(&format!("{} {}", y.region, y.year), e))?,
                None => {
                    out.insert(y.region.clone(), y.schedule.clone());
                }
            }
        }
        Ok(out)
    }

    /// Build the windows over their holiday years.
    pub fn build(&self) -> Result<CalendarSet, LoadErrors> {
        CalendarSet::build(&self.windows, &self.schedules()?, DateSpan::default())
            .map_err(|e| load_error("calendars/", e))
    }

    /// The date ranges each region's holiday data covers.
    pub fn coverage(&self) -> BTreeMap<String, Vec<(NaiveDate, NaiveDate)>> {
        self.schedules()
            .unwrap_or_default()
            .into_iter()
            .map(|(region, s)| (region, s.coverage().to_vec()))
            .collect()
    }
}

/// The dates of `[from, to]` that `coverage` (sorted, merged ranges) leaves out.
pub fn uncovered(
    from: NaiveDate,
    to: NaiveDate,
    coverage: &[(NaiveDate, NaiveDate)],
) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut cursor = from;
    for &(a, b) in coverage {
        if b < cursor {
            continue;
        }
        if a > to {
            break;
        }
        if a > cursor {
            out.push((cursor, a.pred_opt().unwrap_or(a).min(to)));
        }
        match b.succ_opt() {
            Some(next) => cursor = cursor.max(next),
            None => return out,
        }
        if cursor > to {
            return out;
        }
    }
    if cursor <= to {
        out.push((cursor, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn uncovered_dates() {
        let year_2026 = [(d(2026, 1, 1), d(2026, 12, 31))];
        assert_eq!(
            uncovered(d(2026, 5, 22), d(2027, 5, 21), &year_2026),
            vec![(d(2027, 1, 1), d(2027, 5, 21))]
        );
        assert_eq!(uncovered(d(2026, 5, 22), d(2026, 12, 31), &year_2026), vec![]);
        assert_eq!(
            uncovered(d(2025, 12, 1), d(2026, 1, 5), &year_2026),
            vec![(d(2025, 12, 1), d(2025, 12, 31))]
        );
        assert_eq!(uncovered(d(2026, 5, 22), d(2027, 5, 21), &[]), vec![(d(2026, 5, 22), d(2027, 5, 21))]);
    }
}
