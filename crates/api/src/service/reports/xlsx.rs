//! The report as an XLSX workbook (rust_xlsxwriter): one sheet per view,
//! each under a title row (contract, scope, period, as-of time) and a header
//! row; numbers stored as numbers with their formats; columns as wide as
//! their text, a CJK character counted as two; ticket links as hyperlinks;
//! a native bar chart of attainment per line item on a sheet of its own;
//! and each sheet printing on A4 landscape, one page wide, the header row
//! repeated on every page.

use rust_xlsxwriter::{
    Chart, ChartDataLabel, ChartDataLabelPosition, ChartLegendPosition, ChartType, Color, Format,
    FormatAlign, FormatBorder, Url, Workbook, Worksheet, XlsxError,
};
use unicode_width::UnicodeWidthStr;

use super::SlaReport;
use super::export::{self, Cell, Lang, Table, View};

/// Excel's paper size code for A4.
const A4: u8 = 9;
/// The rows above the data: the title, then the header.
const TITLE_ROW: u32 = 0;
const HEADER_ROW: u32 = 1;
const FIRST_DATA_ROW: u32 = 2;
/// Column widths, in characters of the default font: at least, and at most
/// (longer text wraps within the column).
const MIN_WIDTH: f64 = 6.0;
const MAX_WIDTH: f64 = 48.0;

/// The cell formats of a sheet.
struct Formats {
    title: Format,
    header: Format,
    text: Format,
    wrapped: Format,
    count: Format,
    percent: Format,
    minutes: Format,
    link: Format,
}

impl Formats {
    fn new() -> Self {
        let cell = Format::new().set_border(FormatBorder::Thin).set_align(FormatAlign::VerticalCenter);
        Self {
            title: Format::new()
                .set_bold()
                .set_font_size(13)
                .set_text_wrap()
                .set_align(FormatAlign::Left)
                .set_align(FormatAlign::VerticalCenter),
            header: cell.clone().set_bold().set_background_color(Color::RGB(0x00D9_E1F2)).set_text_wrap(),
            text: cell.clone(),
            wrapped: cell.clone().set_text_wrap(),
            count: cell.clone().set_num_format("0"),
            percent: cell.clone().set_num_format("0.0%"),
            minutes: cell.clone().set_num_format("0.0"),
            link: cell.set_font_color(Color::Blue).set_underline(rust_xlsxwriter::FormatUnderline::Single),
        }
    }
}

/// How wide text shows, in characters of the default font: a CJK (wide or
/// fullwidth) character takes two.
fn display_width(text: &str) -> usize {
    text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// A cell's text as Excel shows it, for measuring.
fn shown(cell: &Cell, link_text: &str) -> String {
    match cell {
        Cell::Text(s) | Cell::Written(s) => s.clone(),
        Cell::Count(n) => n.to_string(),
        Cell::Percent(p) => p.map_or_else(String::new, |x| format!("{x:.1}%")),
        Cell::Minutes(m) => m.map_or_else(String::new, |x| format!("{x:.1}")),
        Cell::Link(l) => l.as_ref().map_or_else(String::new, |_| link_text.to_owned()),
    }
}

/// Each column's width: its widest cell or header, plus a margin, within bounds.
fn widths(t: &Table) -> Vec<f64> {
    (0..t.headers.len())
        .map(|c| {
            let header = display_width(&t.headers[c]);
            let cells =
                t.rows.iter().filter_map(|r| r.get(c)).map(|cell| display_width(&shown(cell, t.link_text)));
            let widest = cells.chain([header]).max().unwrap_or(0);
            (widest as f64 + 2.0).clamp(MIN_WIDTH, MAX_WIDTH)
        })
        .collect()
}

/// The title row's height in points: enough lines for the title at its size
/// across the table's width.
fn title_height(title: &str, widths: &[f64]) -> f64 {
    let across: f64 = widths.iter().sum::<f64>().max(1.0);
    // The title's font is 13 pt against the default 11.
    let needed = display_width(title) as f64 * 13.0 / 11.0;
    let lines = (needed / across).ceil().max(1.0);
    lines * 18.0 + 4.0
}

/// Write one cell at (`r`, `c`); `wide` text wraps; a link shows `link_text`.
fn write_cell(
    sheet: &mut Worksheet,
    (r, c): (u32, u16),
    cell: &Cell,
    (wide, link_text): (bool, &str),
    f: &Formats,
) -> Result<(), XlsxError> {
    let text_format = if wide { &f.wrapped } else { &f.text };
    match cell {
        // An empty cell stays empty rather than an empty string.
        Cell::Text(s) | Cell::Written(s) if s.is_empty() => sheet.write_blank(r, c, &f.text)?,
        Cell::Text(s) | Cell::Written(s) => sheet.write_string_with_format(r, c, s, text_format)?,
        Cell::Count(n) => sheet.write_number_with_format(r, c, f64::from(*n), &f.count)?,
        // Attainment is kept as a fraction and shown as a percentage.
        Cell::Percent(Some(p)) => sheet.write_number_with_format(r, c, p / 100.0, &f.percent)?,
        Cell::Minutes(Some(m)) => sheet.write_number_with_format(r, c, *m, &f.minutes)?,
        Cell::Link(Some(l)) => sheet.write_url_with_format(r, c, Url::new(l).set_text(link_text), &f.link)?,
        Cell::Percent(None) | Cell::Minutes(None) | Cell::Link(None) => sheet.write_blank(r, c, &f.text)?,
    };
    Ok(())
}

/// Write one table on `sheet`, under the title, with its print setup.
fn write_table(
    sheet: &mut Worksheet,
    t: &Table,
    title: &str,
    page: &(String, String),
    f: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(t.sheet)?;
    let widths = widths(t);
    let last_col = u16::try_from(t.headers.len().saturating_sub(1)).unwrap_or(u16::MAX);
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w)?;
    }
    if last_col > 0 {
        sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, title, &f.title)?;
    } else {
        sheet.write_string_with_format(TITLE_ROW, 0, title, &f.title)?;
    }
    sheet.set_row_height(TITLE_ROW, title_height(title, &widths))?;
    for (c, h) in t.headers.iter().enumerate() {
        sheet.write_string_with_format(HEADER_ROW, c as u16, h, &f.header)?;
    }
    for (i, row) in t.rows.iter().enumerate() {
        let r = FIRST_DATA_ROW + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let wide = display_width(&shown(cell, t.link_text)) as f64 + 2.0 > MAX_WIDTH;
            write_cell(sheet, (r, c as u16), cell, (wide, t.link_text), f)?;
        }
    }
    let last_row = FIRST_DATA_ROW + (t.rows.len() as u32).saturating_sub(1);
    sheet.set_freeze_panes(FIRST_DATA_ROW, 0)?;
    if !t.rows.is_empty() {
        sheet.autofilter(HEADER_ROW, 0, last_row, last_col)?;
    }
    sheet
        .set_paper_size(A4)
        .set_landscape()
        .set_print_fit_to_pages(1, 0)
        .set_header(&page.0)
        .set_footer(&page.1);
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    Ok(())
}

/// The report as an XLSX workbook: the contract's summary, the attainment
/// chart, then line items, agencies, inspections, breached tickets, and the
/// chart's data (attainment per line item and metric), in `lang`.
pub fn to_xlsx(report: &SlaReport, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let title = export::title(report, lang);
    let page = export::page_header_footer(report, lang);
    let matrix = export::attainment_table(report, lang);
    let mut book = Workbook::new();
    for view in View::ALL {
        write_table(book.add_worksheet(), &export::table(report, view, lang), &title, &page, &f)?;
        if view == View::Contract && !matrix.rows.is_empty() {
            chart_sheet(book.add_chartsheet(), &matrix, lang)?;
        }
    }
    write_table(book.add_worksheet(), &matrix, &title, &page, &f)?;
    book.save_to_buffer()
}

/// A chart sheet: attainment per line item, one bar per metric, from the
/// data of `matrix` (item names in its second column, a metric per column after).
fn chart_sheet(sheet: &mut Worksheet, matrix: &Table, lang: Lang) -> Result<(), XlsxError> {
    let (name, chart_title) = export::chart_names(lang);
    sheet.set_name(name)?;
    let data = matrix.sheet;
    let last = FIRST_DATA_ROW + matrix.rows.len() as u32 - 1;
    let mut chart = Chart::new(ChartType::Bar);
    // Each bar says its figure, so that 0 % shows too.
    let mut label = ChartDataLabel::new();
    label.show_value().set_num_format("0%").set_position(ChartDataLabelPosition::OutsideEnd);
    for c in 2..matrix.headers.len() as u16 {
        chart
            .add_series()
            .set_name((data, HEADER_ROW, c))
            .set_categories((data, FIRST_DATA_ROW, 1, last, 1))
            .set_values((data, FIRST_DATA_ROW, c, last, c))
            .set_data_label(&label)
            .set_gap(60);
    }
    chart.title().set_name(chart_title);
    // In a bar chart the value axis is the x axis: 0 to 100 %.
    chart.x_axis().set_min(0.0).set_max(1.0).set_num_format("0%").set_major_gridlines(true);
    // The first item at the top, as in the tables.
    chart.y_axis().set_reverse();
    chart.legend().set_position(ChartLegendPosition::Top);
    sheet.insert_chart(0, 0, &chart)?;
    sheet.set_paper_size(A4).set_landscape();
    Ok(())
}
