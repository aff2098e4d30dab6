//! Plain-text tables for `silt admin` output: a header row, then one row per item, columns
//! padded to their widest cell.

use std::fmt::Write;

/// Which side of its column a cell sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Renders `rows` under `header`; `align[i]` places column i (names left, numbers right).
pub fn render(header: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |row: &[&str]| {
        for (i, cell) in row.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let sep = if i == 0 { "" } else { "  " };
            let _ = match align.get(i).copied().unwrap_or(Align::Right) {
                Align::Left => write!(out, "{sep}{cell:<w$}"),
                Align::Right => write!(out, "{sep}{cell:>w$}"),
            };
        }
        // Left-aligned last columns would leave trailing blanks.
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    };
    line(header);
    for row in rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_columns_to_their_widest_cell() {
        let t = render(
            &["name", "n"],
            &[Align::Left, Align::Right],
            &[
                vec!["a".into(), "100".into()],
                vec!["longer".into(), "2".into()],
            ],
        );
        assert_eq!(t, "name      n\na       100\nlonger    2\n");
    }
}
