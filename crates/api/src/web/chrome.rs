//! What every page shares: the language, the signed-in bar, and how
//! states, actions, times and business durations read in each language.

use chrono::{FixedOffset, Offset};
use sla_engine::{ClockState, Timestamp};

use catalog::Every;

use super::session::Viewer;
use crate::domain::access::Role;
use crate::domain::inspections::InspectionStatus;
use crate::domain::ticket::{Action, TicketState};

/// The language a page is shown in: Chinese unless the `lang` cookie says English.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The language a `lang` value names (`en`, else Chinese).
    pub(crate) fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("en") { Self::En } else { Self::Zh }
    }

    /// One of the two wordings.
    pub(crate) fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }

    /// The value the `lang` cookie keeps.
    pub(crate) fn code_for_cookie(self) -> &'static str {
        self.t("zh", "en")
    }

    /// The `lang` attribute of the page.
    pub(crate) fn code(self) -> &'static str {
        self.t("zh-CN", "en")
    }

    /// The other language, as the switch offers it: its code and its name.
    pub(crate) fn other(self) -> (&'static str, &'static str) {
        (self.t("en", "zh"), self.t("English", "中文"))
    }

    /// A ticket state as people say it.
    pub(crate) fn state(self, s: TicketState) -> &'static str {
        match s {
            TicketState::Open => self.t("待响应", "open"),
            TicketState::Acknowledged => self.t("已响应", "acknowledged"),
            TicketState::InProgress => self.t("处理中", "in progress"),
            TicketState::Paused => self.t("已暂停", "paused"),
            TicketState::Resolved => self.t("已恢复", "resolved"),
            TicketState::Closed => self.t("已关闭", "closed"),
        }
    }

    /// A button's label for an action.
    pub(crate) fn action(self, a: Action) -> &'static str {
        match a {
            Action::File => self.t("报障", "file"),
            Action::Acknowledge => self.t("响应", "acknowledge"),
            Action::Assign => self.t("指派", "assign"),
            Action::Arrive => self.t("到场", "arrive"),
            Action::Contain => self.t("遏制", "contain"),
            Action::Pause => self.t("暂停", "pause"),
            Action::Resume => self.t("恢复计时", "resume"),
            Action::Resolve => self.t("故障已恢复", "resolve"),
            Action::Reopen => self.t("重新打开", "reopen"),
            Action::Close => self.t("关闭", "close"),
            Action::Comment => self.t("评论", "comment"),
            Action::Severity => self.t("改级别", "change severity"),
        }
    }

    /// A clock's state.
    pub(crate) fn clock(self, s: ClockState) -> &'static str {
        match s {
            ClockState::Running => self.t("计时中", "running"),
            ClockState::Paused => self.t("暂停", "paused"),
            ClockState::Met => self.t("已达成", "met"),
            ClockState::Breached => self.t("已超时", "breached"),
        }
    }

    /// A role.
    pub(crate) fn role(self, r: Role) -> &'static str {
        match r {
            Role::AgencyUser => self.t("采购单位用户", "agency user"),
            Role::Engineer => self.t("工程师", "engineer"),
            Role::Manager => self.t("管理人员", "manager"),
            Role::Admin => self.t("管理员", "admin"),
        }
    }

    /// A severity by its name (`general`, `major`, `critical`).
    pub(crate) fn severity(self, s: sla_engine::Severity) -> &'static str {
        match s {
            sla_engine::Severity::General => self.t("一般", "general"),
            sla_engine::Severity::Major => self.t("重大", "major"),
            sla_engine::Severity::Critical => self.t("特别重大", "critical"),
        }
    }

    /// Where an inspection stands.
    pub(crate) fn inspection(self, s: InspectionStatus) -> &'static str {
        match s {
            InspectionStatus::Open => self.t("待巡检", "due"),
            InspectionStatus::Done => self.t("已完成", "done"),
            InspectionStatus::Late => self.t("逾期完成", "done late"),
            InspectionStatus::Missed => self.t("已逾期", "overdue"),
            InspectionStatus::BeforeGoLive => self.t("上线前", "before go-live"),
        }
    }

    /// An inspection cycle: `每月`, `每年 2 次` / `monthly`, `2× a year`.
    pub(crate) fn cycle(self, every: Every, times: u32) -> String {
        let (zh, en) = match every {
            Every::Day => ("每日", ("daily", "a day")),
            Every::Week => ("每周", ("weekly", "a week")),
            Every::Month => ("每月", ("monthly", "a month")),
            Every::Quarter => ("每季度", ("quarterly", "a quarter")),
            Every::Year => ("每年", ("yearly", "a year")),
        };
        match (self, times) {
            (Self::Zh, 0 | 1) => zh.to_owned(),
            (Self::Zh, n) => format!("{zh} {n} 次"),
            (Self::En, 0 | 1) => en.0.to_owned(),
            (Self::En, n) => format!("{n}× {}", en.1),
        }
    }

    /// Business seconds as hours and minutes: `2 小时 05 分` / `2 h 05 min`.
    pub(crate) fn duration(self, seconds: u64) -> String {
        let (h, m) = (seconds / 3600, (seconds % 3600) / 60);
        match (self, h) {
            (Self::Zh, 0) => format!("{m} 分钟"),
            (Self::Zh, _) => format!("{h} 小时 {m:02} 分"),
            (Self::En, 0) => format!("{m} min"),
            (Self::En, _) => format!("{h} h {m:02} min"),
        }
    }
}

/// An instant as a page shows it: local time in `tz` with its offset,
/// `2026-06-01 10:30 (+08:00)`.
pub(crate) fn local_time(at: Timestamp, tz: sla_engine::Tz) -> String {
    let local = at.to_datetime().with_timezone(&tz);
    let offset: FixedOffset = local.offset().fix();
    format!("{} ({offset})", local.format("%Y-%m-%d %H:%M"))
}

/// A window from `from` to `to` in `tz`, the end shortened where it shares
/// the start's year: `2026-12-01 00:00 – 12-08 00:00 (+08:00)`.
pub(crate) fn local_window(from: Timestamp, to: Timestamp, tz: sla_engine::Tz) -> String {
    let (a, b) = (from.to_datetime().with_timezone(&tz), to.to_datetime().with_timezone(&tz));
    let offset: FixedOffset = a.offset().fix();
    let end = if a.format("%Y").to_string() == b.format("%Y").to_string() {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    format!("{} – {} ({offset})", a.format("%Y-%m-%d %H:%M"), b.format(end))
}

/// The bar at the top of every page: who is signed in, where they may go,
/// and the secret the sign-out form carries.
#[derive(Clone, Debug)]
pub(crate) struct Chrome {
    /// The page's language.
    pub(crate) lang: Lang,
    /// The signed-in user's name and role, if any.
    pub(crate) user: Option<(String, Role)>,
    /// The session's CSRF secret (empty when signed out).
    pub(crate) csrf: String,
    /// The page's own path, for the language switch.
    pub(crate) path: String,
    /// The hashed asset paths.
    pub(crate) style: &'static str,
    /// htmx, where a page uses it.
    pub(crate) htmx: &'static str,
}

impl Chrome {
    /// The bar for a signed-in viewer on `path`.
    pub(crate) fn of(viewer: &Viewer, path: &str) -> Self {
        let c = &viewer.session.caller;
        Self {
            lang: viewer.lang,
            user: Some((c.username.clone(), c.role)),
            csrf: viewer.session.csrf.clone(),
            ..Self::signed_out(viewer.lang, path)
        }
    }

    /// The bar for someone not signed in.
    pub(crate) fn signed_out(lang: Lang, path: &str) -> Self {
        Self {
            lang,
            user: None,
            csrf: String::new(),
            path: path.to_owned(),
            style: super::STYLE_PATH.as_str(),
            htmx: super::HTMX_PATH.as_str(),
        }
    }

    /// Whether someone is signed in.
    pub(crate) fn signed_in(&self) -> bool {
        self.user.is_some()
    }

    /// Who is signed in, as the bar shows it: `zhang.wei · 工程师`.
    pub(crate) fn who(&self) -> String {
        self.user
            .as_ref()
            .map_or_else(String::new, |(name, role)| format!("{name} · {}", self.lang.role(*role)))
    }

    /// Whether the viewer works tickets (sees the queue).
    pub(crate) fn works(&self) -> bool {
        matches!(self.user, Some((_, Role::Engineer | Role::Admin)))
    }

    /// Whether the viewer reads reports (sees the dashboard).
    pub(crate) fn reads_reports(&self) -> bool {
        matches!(self.user, Some((_, Role::Engineer | Role::Manager | Role::Admin)))
    }

    /// Whether the viewer sees inspections (those who do them and managers).
    pub(crate) fn inspects(&self) -> bool {
        matches!(self.user, Some((_, Role::Engineer | Role::Manager | Role::Admin)))
    }

    /// Whether the viewer administers accounts and mail.
    pub(crate) fn admin(&self) -> bool {
        matches!(self.user, Some((_, Role::Admin)))
    }
}
