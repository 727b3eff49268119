//! Every inspection cycle of the shipped catalog, over its item's real
//! service period, has the count the contract means: a year of service is
//! 365 days, 52 weeks, 12 months, 4 quarters; "n a month" is 12n; filing-period
//! dailies are the days of the filing periods inside the service.

use std::path::Path;

use api::domain::inspections::windows;
use catalog::{Catalog, Every};

#[test]
fn every_cycle_of_the_catalog_has_the_contracts_count() {
    let c = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")).expect("catalog");
    let tz = c.settings.timezone;
    let mut checked = 0;
    for item in &c.items {
        let p = item.service_period;
        // Every item, items 35 and 40 with their own start included, serves one year.
        let days = (p.to - p.from).num_days() + 1;
        assert_eq!(days, 365, "item {} serves {}..{}", item.seq, p.from, p.to);
        for (i, cycle) in item.inspections.iter().enumerate() {
            let got = windows(item.seq, i, cycle, p, &c.filing_periods, tz).len() as u32;
            let per_year = match (cycle.every, &cycle.during) {
                (Every::Day, Some(set)) => c
                    .filing_periods
                    .iter()
                    .filter(|f| &f.set == set)
                    .map(|f| {
                        let (from, to) = (f.period.from.max(p.from), f.period.to.min(p.to));
                        u32::try_from((to - from).num_days() + 1).unwrap_or(0)
                    })
                    .sum(),
                (Every::Day, None) => 365,
                (Every::Week, _) => 52,
                (Every::Month, _) => 12,
                (Every::Quarter, _) => 4,
                (Every::Year, _) => 1,
            };
            assert_eq!(
                got,
                per_year * cycle.times,
                "item {} cycle {i} ({:?} x{})",
                item.seq,
                cycle.every,
                cycle.times
            );
            checked += 1;
        }
    }
    assert!(checked >= 45, "{checked} cycles checked");
    // The shapes the contract names, by item: 7's "每半年一次" per device class is 2 each.
    let item7 = c.item(7).expect("item 7");
    let half_yearly: Vec<usize> = item7
        .inspections
        .iter()
        .enumerate()
        .filter(|(_, x)| x.every == Every::Year)
        .map(|(i, x)| windows(7, i, x, item7.service_period, &c.filing_periods, tz).len())
        .collect();
    assert_eq!(half_yearly, [2, 2]);
}
