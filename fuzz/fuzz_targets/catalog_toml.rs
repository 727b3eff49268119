//! Fuzz target: arbitrary text as the three catalog files (contract, agencies, items).
//!
//! Input is the three texts joined by NUL bytes (TOML never contains a raw
//! NUL, so the split is unambiguous); `scripts/fuzz` seeds the corpus with the
//! shipped files joined that way. The loader must answer with a catalog or
//! with a non-empty list of errors, each naming a catalog file, and never panic.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use catalog::{Catalog, CatalogText};
use libfuzzer_sys::fuzz_target;
use sla_engine::{CalendarSet, DateSpan, HolidaySchedule, ServiceWindow};

/// The shipped windows and holidays, built once: items name calendars, and
/// rebuilding them per input would dwarf the parsing under test.
fn calendars() -> &'static CalendarSet {
    static SET: OnceLock<CalendarSet> = OnceLock::new();
    SET.get_or_init(|| {
        let windows =
            ServiceWindow::from_toml_str("windows.toml", include_str!("../../config/calendars/windows.toml"))
                .expect("shipped windows parse");
        let (region, cn) = HolidaySchedule::from_toml_str(
            "cn-2026.toml",
            include_str!("../../config/calendars/cn-2026.toml"),
        )
        .expect("shipped holidays parse");
        // Two years instead of the loader's century: the catalog only asks
        // which calendars exist, and cloning a small set per input is cheap.
        CalendarSet::build(&windows, &BTreeMap::from([(region, cn)]), DateSpan::years(2026, 2028))
            .expect("shipped calendars build")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let (Some(contract), Some(agencies), Some(items)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    match Catalog::from_text(CatalogText { contract, agencies, items }, calendars().clone()) {
        Ok(catalog) => {
            // What the loader promises of a catalog it accepts.
            let seqs: Vec<u32> = catalog.items.iter().map(|i| i.seq).collect();
            assert!(seqs.iter().copied().eq(1..=seqs.len() as u32), "items numbered 1..N: {seqs:?}");
            let sum: catalog::Money = catalog.items.iter().map(|i| i.amount).sum();
            assert_eq!(sum, catalog.contract.total, "item amounts make the total");
            for item in &catalog.items {
                assert!(catalog.agency(&item.agency).is_some(), "item {} has a known agency", item.seq);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error must say what is wrong");
            for e in &errors.0 {
                assert!(e.source_name.starts_with("catalog/"), "error names its file: {e}");
            }
        }
    }
});
