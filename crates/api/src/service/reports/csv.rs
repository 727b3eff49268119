//! The report as CSV: one table per file, UTF-8 with a byte-order mark (so
//! that Excel on a Chinese Windows reads it as UTF-8 rather than GBK),
//! fields quoted as RFC 4180 says (the `csv` crate), lines ending in CRLF.

use super::SlaReport;
use super::export::{Cell, Lang, View, table};

/// The UTF-8 byte-order mark.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// One view of the report as a CSV file.
pub fn to_csv_view(report: &SlaReport, view: View, lang: Lang) -> std::io::Result<Vec<u8>> {
    let t = table(report, view, lang);
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(BOM.to_vec());
    w.write_record(&t.headers)?;
    for row in &t.rows {
        w.write_record(row.iter().map(text))?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

/// The line items' view as CSV text (with its byte-order mark).
pub fn to_csv(report: &SlaReport, lang: Lang) -> String {
    // Writing into memory cannot fail, and every cell is text.
    to_csv_view(report, View::Items, lang)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A cell as CSV text: numbers plain (percentages and minutes to one
/// decimal), absent values empty.
fn text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Written(s) => defused(s),
        Cell::Count(n) => n.to_string(),
        Cell::Percent(p) => p.map_or_else(String::new, |x| format!("{x:.1}")),
        Cell::Minutes(m) => m.map_or_else(String::new, |x| format!("{x:.1}")),
        Cell::Link(l) => l.clone().unwrap_or_default(),
    }
}

/// Text a person wrote, so that a spreadsheet shows it rather than runs it:
/// a leading `=`, `+`, `-`, `@`, tab or carriage return would start a
/// formula (CSV injection), so such a cell starts with an apostrophe.
fn defused(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_written_by_people_stay_text() {
        assert_eq!(defused("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(defused("-1"), "'-1");
        assert_eq!(defused("平台无法登录"), "平台无法登录");
    }
}
