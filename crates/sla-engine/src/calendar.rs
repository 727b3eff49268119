//! Calendars: a service window and its holidays turned into a table of open
//! intervals in UTC, answering business-time questions without walking days.
//!
//! Building walks every local date of the calendar's span once, converting
//! each day's open hours to UTC through the timezone's offset history (so DST
//! gaps and repeated hours come out exactly as a wall clock would read them),
//! then merges the pieces into sorted, disjoint intervals with a running sum
//! of the business seconds before each. A per-UTC-day index then finds the
//! interval around any instant in constant time, and a deadline gallops from
//! there, so every question costs a few memory reads and allocates nothing.

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::CalendarError;
use crate::holidays::{DayKind, HolidaySchedule};
use crate::time::{BusinessSeconds, Timestamp};
use crate::window::ServiceWindow;

const DAY: i64 = 86_400;

/// The local dates a calendar's table spans, `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateSpan {
    /// First local date in the table.
    pub from: NaiveDate,
    /// First local date after the table.
    pub to: NaiveDate,
}

impl Default for DateSpan {
    /// 2000-01-01 to 2100-01-01: every instant a ticket of this century can
    /// touch, at about 1.3 MB for an `x8` calendar.
    fn default() -> Self {
        Self::years(2000, 2100)
    }
}

impl DateSpan {
    /// From January 1st of `from` to January 1st of `to`.
    pub fn years(from: i32, to: i32) -> Self {
        let jan1 = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MIN);
        Self { from: jan1(from), to: jan1(to) }
    }
}

/// An answer together with whether the holiday data covered every date it depended on.
///
/// When `beyond_holiday_data` is true the answer follows the weekly pattern
/// for the uncovered dates, which is right unless a holiday falls there: the
/// service uses this to tell administrators to load the next year's schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Reckoning<T> {
    /// The answer.
    pub value: T,
    /// True when some date between the question and the answer has no holiday data.
    pub beyond_holiday_data: bool,
}

/// One open interval `[start, end)` in UTC seconds, with the business seconds
/// the table holds before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Open {
    start: i64,
    end: i64,
    before: i64,
}

impl Open {
    /// Business seconds from the table's origin to the end of this interval.
    #[inline]
    fn through(&self) -> i64 {
        self.before + (self.end - self.start)
    }
}

/// A service window built over a span of dates, ready for arithmetic.
#[derive(Clone, Debug)]
pub struct Calendar {
    window: ServiceWindow,
    /// First UTC second the table answers for.
    origin: i64,
    /// End of the table (exclusive for membership, inclusive as an end point).
    limit: i64,
    opens: Vec<Open>,
    /// For each UTC day counted from `origin`, the first interval that ends
    /// after that day begins: the start of a short forward scan.
    day_index: Vec<u32>,
    /// UTC ranges whose dates the holiday data covers, sorted; empty when
    /// holidays do not apply (`holidays_apply` false).
    covered: Vec<(i64, i64)>,
    holidays_apply: bool,
    coverage_dates: Vec<(NaiveDate, NaiveDate)>,
}

impl Calendar {
    /// Build over the default span (2000–2099).
    pub fn build(window: &ServiceWindow, holidays: &HolidaySchedule) -> Result<Self, CalendarError> {
        Self::build_with_span(window, holidays, DateSpan::default())
    }

    /// Build over the given local dates. `holidays` is ignored when the window
    /// does not follow holidays.
    pub fn build_with_span(
        window: &ServiceWindow,
        holidays: &HolidaySchedule,
        span: DateSpan,
    ) -> Result<Self, CalendarError> {
        let tz = window.timezone;
        let holidays_apply = window.holidays.is_some();
        // One extra day either side, so that a repeated or skipped hour at the
        // table's edge still sees its neighbouring day's intervals.
        let first = span.from.pred_opt().unwrap_or(span.from);
        let last = span.to.succ_opt().unwrap_or(span.to);
        let offsets = OffsetHistory::new(tz, local_seconds(first) - 2 * DAY, local_seconds(last) + 2 * DAY);

        let mut raw: Vec<(i64, i64)> = Vec::with_capacity(span_days(first, last) * 2);
        let mut date = first;
        while date < last {
            let hours = match (holidays_apply, holidays.day(date)) {
                (true, Some(DayKind::Holiday)) => None,
                (true, Some(DayKind::Workday)) => Some(&window.makeup_hours),
                _ => Some(window.hours_on(date.weekday())),
            };
            let base = local_seconds(date);
            for &(s, e) in hours.map(|h| h.intervals()).unwrap_or_default() {
                offsets.preimage(base + i64::from(s), base + i64::from(e), &mut raw);
            }
            date = match date.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        // Fall-back days can emit a later wall interval's piece before an
        // earlier one's; the input is nearly sorted, so this is cheap.
        raw.sort_unstable();

        let origin = offsets.first_at_or_after(local_seconds(span.from));
        let limit = offsets.first_at_or_after(local_seconds(span.to));
        let mut opens: Vec<Open> = Vec::with_capacity(raw.len());
        let mut total = 0;
        for (s, e) in raw {
            let (s, e) = (s.max(origin), e.min(limit));
            if s >= e {
                continue;
            }
            match opens.last_mut() {
                // Touching or overlapping intervals (midnight in a 7x24
                // window, a lunch break of zero length) become one.
                Some(last) if s <= last.end => {
                    if e > last.end {
                        total += e - last.end;
                        last.end = e;
                    }
                }
                _ => {
                    opens.push(Open { start: s, end: e, before: total });
                    total += e - s;
                }
            }
        }
        if opens.len() >= u32::MAX as usize {
            return Err(CalendarError::OutsideSpan {
                at: Timestamp::from_unix(limit),
                from: Timestamp::from_unix(origin),
                to: Timestamp::from_unix(limit),
            });
        }

        let days = ((limit - origin) / DAY + 2) as usize;
        let mut day_index = Vec::with_capacity(days);
        let mut j = 0usize;
        for b in 0..days as i64 {
            let bucket_start = origin + b * DAY;
            while j < opens.len() && opens[j].end <= bucket_start {
                j += 1;
            }
            day_index.push(j as u32);
        }

        let coverage_dates = if holidays_apply { holidays.coverage().to_vec() } else { Vec::new() };
        let covered = coverage_dates
            .iter()
            .map(|&(from, to)| {
                let end = to.succ_opt().unwrap_or(to);
                (
                    offsets.first_at_or_after(local_seconds(from)),
                    offsets.first_at_or_after(local_seconds(end)),
                )
            })
            .collect();

        Ok(Self {
            window: window.clone(),
            origin,
            limit,
            opens,
            day_index,
            covered,
            holidays_apply,
            coverage_dates,
        })
    }

    /// The window this calendar was built from.
    pub fn window(&self) -> &ServiceWindow {
        &self.window
    }

    /// The window's name.
    pub fn name(&self) -> &str {
        &self.window.name
    }

    /// The timezone the window is read in.
    pub fn timezone(&self) -> Tz {
        self.window.timezone
    }

    /// The instants the table answers for, `[from, to]`.
    pub fn span(&self) -> (Timestamp, Timestamp) {
        (Timestamp::from_unix(self.origin), Timestamp::from_unix(self.limit))
    }

    /// The local date ranges whose holidays are known; empty when holidays do not apply.
    pub fn holiday_coverage(&self) -> &[(NaiveDate, NaiveDate)] {
        &self.coverage_dates
    }

    /// True when holiday data is loaded for every date from `from` to `to`,
    /// or when this window does not follow holidays at all.
    pub fn holiday_data_covers(&self, from: Timestamp, to: Timestamp) -> bool {
        self.covers(from.unix(), to.unix())
    }

    /// Number of open intervals in the table (for sizing and diagnostics).
    pub fn interval_count(&self) -> usize {
        self.opens.len()
    }

    /// Is the window open at `t`?
    pub fn is_open(&self, t: Timestamp) -> Result<bool, CalendarError> {
        let t = self.check(t.unix())?;
        let j = self.locate(t);
        Ok(j < self.opens.len() && self.opens[j].start <= t)
    }

    /// The first instant at or after `t` at which the window is open (`t` itself when open).
    pub fn next_open(&self, t: Timestamp) -> Result<Reckoning<Timestamp>, CalendarError> {
        let t = self.check(t.unix())?;
        let j = self.locate(t);
        let open = self.opens.get(j).ok_or_else(|| self.never_or_outside(self.limit))?;
        let at = open.start.max(t);
        Ok(Reckoning { value: Timestamp::from_unix(at), beyond_holiday_data: !self.covers(t, at) })
    }

    /// The earliest instant `t ≥ start` at which the window has been open for
    /// `duration` since `start`. A deadline can fall exactly on a closing
    /// time; a `start` outside open hours begins counting at the next opening.
    #[inline]
    pub fn deadline(
        &self,
        start: Timestamp,
        duration: BusinessSeconds,
    ) -> Result<Reckoning<Timestamp>, CalendarError> {
        let s = self.check(start.unix())?;
        let at = self.deadline_raw(s, duration.get())?;
        Ok(Reckoning { value: Timestamp::from_unix(at), beyond_holiday_data: !self.covers(s, at) })
    }

    /// Business seconds in `[start, end)`.
    #[inline]
    pub fn elapsed(
        &self,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Reckoning<BusinessSeconds>, CalendarError> {
        let (a, b) = (self.check(start.unix())?, self.check(end.unix())?);
        if b < a {
            return Err(CalendarError::Reversed { start, end });
        }
        let secs = self.cumulative(b) - self.cumulative(a);
        Ok(Reckoning { value: BusinessSeconds::new(secs as u64), beyond_holiday_data: !self.covers(a, b) })
    }

    /// Business seconds in `[start, end)` outside the given pauses.
    ///
    /// Pauses are `[from, to)` intervals sorted by start; they may overlap
    /// each other and reach outside `[start, end)`: only the part of each that
    /// is inside and not already counted is excluded.
    pub fn elapsed_excluding(
        &self,
        start: Timestamp,
        end: Timestamp,
        pauses: &[(Timestamp, Timestamp)],
    ) -> Result<Reckoning<BusinessSeconds>, CalendarError> {
        let whole = self.elapsed(start, end)?;
        let mut paused = 0u64;
        let mut cursor = start;
        check_sorted(pauses)?;
        for &(from, to) in pauses {
            let (from, to) = (from.max(cursor), to.min(end));
            if from < to {
                paused += self.elapsed(from, to)?.value.get();
                cursor = to;
            }
        }
        Ok(Reckoning { value: whole.value.saturating_sub(BusinessSeconds::new(paused)), ..whole })
    }

    /// The deadline for `duration` of business time from `start`, not counting
    /// the given pauses (sorted by start, as for [`Calendar::elapsed_excluding`]).
    pub fn deadline_excluding(
        &self,
        start: Timestamp,
        duration: BusinessSeconds,
        pauses: &[(Timestamp, Timestamp)],
    ) -> Result<Reckoning<Timestamp>, CalendarError> {
        check_sorted(pauses)?;
        let mut cursor = start;
        let mut left = duration;
        for &(from, to) in pauses {
            if to <= cursor {
                continue;
            }
            let candidate = self.deadline(cursor, left)?;
            if candidate.value <= from.max(cursor) {
                return Ok(Reckoning {
                    beyond_holiday_data: !self.covers(start.unix(), candidate.value.unix()),
                    ..candidate
                });
            }
            if from > cursor {
                left = left.saturating_sub(self.elapsed(cursor, from)?.value);
            }
            cursor = to;
        }
        let at = self.deadline(cursor, left)?;
        Ok(Reckoning { beyond_holiday_data: !self.covers(start.unix(), at.value.unix()), ..at })
    }

    // --- the table ---

    #[inline]
    fn check(&self, t: i64) -> Result<i64, CalendarError> {
        if t < self.origin || t > self.limit { Err(self.outside(t)) } else { Ok(t) }
    }

    fn outside(&self, t: i64) -> CalendarError {
        CalendarError::OutsideSpan {
            at: Timestamp::from_unix(t),
            from: Timestamp::from_unix(self.origin),
            to: Timestamp::from_unix(self.limit),
        }
    }

    fn never_or_outside(&self, t: i64) -> CalendarError {
        if self.opens.is_empty() { CalendarError::NeverOpen } else { self.outside(t) }
    }

    /// Index of the first interval that ends after `t` (`opens.len()` if none).
    /// `t` must be inside the table.
    #[inline]
    fn locate(&self, t: i64) -> usize {
        let bucket = ((t - self.origin) / DAY) as usize;
        let mut j = self.day_index[bucket] as usize;
        // At most the intervals that end within one day: a handful of steps.
        while j < self.opens.len() && self.opens[j].end <= t {
            j += 1;
        }
        j
    }

    /// Business seconds from the table's origin to `t`.
    #[inline]
    fn cumulative(&self, t: i64) -> i64 {
        let j = self.locate(t);
        match self.opens.get(j) {
            Some(open) if open.start <= t => open.before + (t - open.start),
            Some(open) => open.before,
            None => self.opens.last().map_or(0, Open::through),
        }
    }

    #[inline]
    fn deadline_raw(&self, start: i64, duration: u64) -> Result<i64, CalendarError> {
        if duration == 0 {
            return Ok(start);
        }
        let j = self.locate(start);
        let Some(open) = self.opens.get(j) else {
            return Err(self.never_or_outside(self.limit));
        };
        let reached = if open.start <= start { open.before + (start - open.start) } else { open.before };
        let target = reached.saturating_add(i64::try_from(duration).unwrap_or(i64::MAX));
        // Smallest k ≥ j whose interval reaches `target`: gallop forward (the
        // answer is usually within a few intervals), then bisect the bracket.
        let opens = &self.opens;
        let (mut lo, mut hi, mut step) = (j, j, 1usize);
        while hi < opens.len() && opens[hi].through() < target {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let hi = hi.min(opens.len());
        let k = lo + opens[lo..hi].partition_point(|o| o.through() < target);
        match opens.get(k) {
            Some(open) => Ok(open.start + (target - open.before)),
            None => Err(self.outside(self.limit)),
        }
    }

    #[inline]
    fn covers(&self, from: i64, to: i64) -> bool {
        !self.holidays_apply || self.covered.iter().any(|&(a, b)| a <= from && to <= b)
    }
}

fn check_sorted(pauses: &[(Timestamp, Timestamp)]) -> Result<(), CalendarError> {
    if pauses.windows(2).all(|w| w[0].0 <= w[1].0) { Ok(()) } else { Err(CalendarError::UnsortedPauses) }
}

/// Seconds since the epoch of local midnight of `date`, as if local time were UTC.
fn local_seconds(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce() - 719_163) * DAY
}

fn span_days(from: NaiveDate, to: NaiveDate) -> usize {
    usize::try_from((to - from).num_days()).unwrap_or(0)
}

/// A timezone's UTC offsets over a range, as pieces `[start, next start)` with one offset each.
struct OffsetHistory {
    /// `(first UTC second, offset in seconds)`, sorted; the first piece extends to the past.
    pieces: Vec<(i64, i64)>,
}

impl OffsetHistory {
    /// Probe the offset once a day and bisect to the second wherever it
    /// changes. Transitions closer together than a day would be missed; no
    /// timezone has had those since 1970.
    fn new(tz: Tz, from: i64, to: i64) -> Self {
        let offset_at = |t: i64| -> i64 {
            let utc = DateTime::from_timestamp(t, 0).unwrap_or_default().naive_utc();
            i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
        };
        let mut pieces = vec![(i64::MIN, offset_at(from))];
        let mut t = from;
        let mut current = pieces[0].1;
        while t < to {
            let next = (t + DAY).min(to);
            let off = offset_at(next);
            if off != current {
                // The first second in (t, next] with the new offset.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(mid) == current { lo = mid } else { hi = mid }
                }
                let off_hi = offset_at(hi);
                pieces.push((hi, off_hi));
                current = off_hi;
                // Re-probe from the transition in case a second one follows within the day.
                t = hi;
                continue;
            }
            t = next;
        }
        Self { pieces }
    }

    fn end_of(&self, i: usize) -> i64 {
        self.pieces.get(i + 1).map_or(i64::MAX, |p| p.0)
    }

    /// Append to `out` the UTC intervals whose local wall time lies in `[from, to)`
    /// (local seconds): one piece per offset in force, so a skipped hour
    /// shortens the interval and a repeated hour can yield two pieces.
    fn preimage(&self, from: i64, to: i64, out: &mut Vec<(i64, i64)>) {
        // Offsets stay within ±26 h, so only pieces near [from, to) matter.
        let first = self.pieces.partition_point(|p| p.0 <= from - 2 * DAY).saturating_sub(1);
        for i in first..self.pieces.len() {
            let (start, off) = self.pieces[i];
            if start >= to + 2 * DAY {
                break;
            }
            let (s, e) = ((from - off).max(start), (to - off).min(self.end_of(i)));
            if s < e {
                out.push((s, e));
            }
        }
    }

    /// The first UTC second whose local wall time is at or after `local`.
    fn first_at_or_after(&self, local: i64) -> i64 {
        let first = self.pieces.partition_point(|p| p.0 <= local - 2 * DAY).saturating_sub(1);
        for i in first..self.pieces.len() {
            let (start, off) = self.pieces[i];
            let candidate = (local - off).max(start);
            if candidate < self.end_of(i) {
                return candidate;
            }
        }
        local
    }
}

/// Every calendar of a deployment by name: the four presets (unless
/// configuration redefines them) and the configured windows, each built with
/// its holiday region's schedule.
#[derive(Clone, Debug, Default)]
pub struct CalendarSet {
    calendars: std::collections::BTreeMap<String, Calendar>,
    /// The holiday schedules of the regions the windows follow, by region.
    schedules: std::collections::BTreeMap<String, HolidaySchedule>,
}

impl CalendarSet {
    /// Build the presets and `windows` over `span`. A window whose holiday
    /// region has no schedule in `schedules` is an error: it would silently
    /// count holidays as working days.
    pub fn build(
        windows: &[ServiceWindow],
        schedules: &std::collections::BTreeMap<String, HolidaySchedule>,
        span: DateSpan,
    ) -> Result<Self, String> {
        let mut all: std::collections::BTreeMap<String, ServiceWindow> = crate::window::Preset::ALL
            .into_iter()
            .map(|p| (p.name().to_owned(), ServiceWindow::default_preset(p)))
            .collect();
        for w in windows {
            all.insert(w.name.clone(), w.clone());
        }
        let empty = HolidaySchedule::empty();
        let mut calendars = std::collections::BTreeMap::new();
        let mut followed = std::collections::BTreeMap::new();
        for (name, window) in all {
            let holidays = match &window.holidays {
                None => &empty,
                Some(region) => schedules.get(region).ok_or_else(|| {
                    format!("window \"{name}\" follows the holidays of region \"{region}\", but no holiday file for \"{region}\" is loaded")
                })?,
            };
            let calendar = Calendar::build_with_span(&window, holidays, span)
                .map_err(|e| format!("window \"{name}\": {e}"))?;
            if let Some(region) = &window.holidays {
                followed.insert(region.clone(), holidays.clone());
            }
            calendars.insert(name, calendar);
        }
        Ok(Self { calendars, schedules: followed })
    }

    /// The holiday schedule of each region some window follows.
    pub fn schedules(&self) -> &std::collections::BTreeMap<String, HolidaySchedule> {
        &self.schedules
    }

    /// The first date on which these calendars' holidays differ from
    /// `before` (a region missing on one side has no data there): business
    /// time before it is the same under both. `None` when they agree.
    pub fn first_holiday_difference(
        &self,
        before: &std::collections::BTreeMap<String, HolidaySchedule>,
    ) -> Option<NaiveDate> {
        let empty = HolidaySchedule::empty();
        let now = |region: &str| self.schedules.get(region).unwrap_or(&empty);
        let then = |region: &str| before.get(region).unwrap_or(&empty);
        self.schedules
            .keys()
            .chain(before.keys())
            .filter_map(|region| now(region).first_difference(then(region)))
            .min()
    }

    /// The calendar named `name`.
    pub fn get(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }

    /// Every calendar, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Calendar)> {
        self.calendars.iter().map(|(n, c)| (n.as_str(), c))
    }
}

impl Calendars for CalendarSet {
    fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.get(name)
    }
}

/// Looks calendars up by name: what target rules need to be checked and applied.
pub trait Calendars {
    /// The calendar with this name, if defined.
    fn calendar(&self, name: &str) -> Option<&Calendar>;
}

impl Calendars for std::collections::BTreeMap<String, Calendar> {
    fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.get(name)
    }
}
