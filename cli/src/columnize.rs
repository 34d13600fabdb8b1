//! A port of `github.com/ryanuber/columnize`, which Consul's `members` and `catalog nodes`
//! use for their tables: cells are split on a delimiter and trimmed, every column but the
//! last is left-aligned to its widest cell (in runes) and followed by two spaces.

/// `columnize.Format(lines, &Config{Delim: delim})` with the default glue (two spaces),
/// no prefix and trimming on; the result has no trailing newline.
pub(crate) fn format(lines: &[String], delim: &str) -> String {
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .map(|line| line.split(delim).map(str::trim).collect())
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn aligns_all_but_the_last_column() {
        assert_eq!(
            format(
                &lines(&["Node|Address|Status", "golden-dev|127.0.0.240:8301|alive"]),
                "|"
            ),
            "Node        Address           Status\ngolden-dev  127.0.0.240:8301  alive"
        );
    }

    #[test]
    fn trims_cells_and_pads_empty_last_cells() {
        assert_eq!(format(&lines(&[" a |b", "ccc|"]), "|"), "a    b\nccc  ");
        assert_eq!(format(&lines(&["é|x", "ab|y"]), "|"), "é   x\nab  y");
        assert_eq!(format(&[], "|"), "");
    }
}
