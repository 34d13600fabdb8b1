//! A port of Go's `text/tabwriter` for the settings Consul's CLI uses (space padding, no
//! flags), so aligned tables come out byte for byte as Consul prints them.
//!
//! Cells are tab-terminated; the text after a line's last tab is not part of any column.
//! A column block is a run of consecutive lines that all have a cell in that column; its
//! width is the widest cell (in runes) plus `padding`, at least `minwidth`.

/// Formats `text` like `tabwriter.NewWriter(w, minwidth, _, padding, ' ', 0)` followed by
/// `Write(text)` and `Flush()`.
pub(crate) fn format(text: &[u8], minwidth: usize, padding: usize) -> Vec<u8> {
    let mut lines: Vec<Vec<&[u8]>> = text
        .split(|&b| b == b'\n')
        .map(|line| line.split(|&b| b == b'\t').collect())
        .collect();
    // Flush only terminates the last line's trailing cell if it holds text.
    if let Some(last) = lines.last_mut() {
        if last.last().is_some_and(|cell| cell.is_empty()) {
            last.pop();
        }
    }
    let mut writer = Writer {
        lines: &lines,
        minwidth,
        padding,
        widths: Vec::new(),
        out: Vec::with_capacity(text.len() + 64),
    };
    writer.format(0, lines.len());
    writer.out
}

struct Writer<'a> {
    lines: &'a [Vec<&'a [u8]>],
    minwidth: usize,
    padding: usize,
    /// Widths of the enclosing column blocks, innermost last.
    widths: Vec<usize>,
    out: Vec<u8>,
}

impl Writer<'_> {
    /// Go's `Writer.format`: finds the column blocks of column `widths.len()` in
    /// `line0..line1`, recursing into each for the columns to its right.
    fn format(&mut self, mut line0: usize, line1: usize) {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            // This line has a cell in this column: a block starts here.
            self.write_lines(line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < self.lines[this].len() {
                let w = rune_count(self.lines[this][column]) + self.padding;
                width = width.max(w);
                this += 1;
            }
            self.widths.push(width);
            self.format(line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(line0, line1);
    }

    /// Go's `Writer.writeLines` for left-aligned, space-padded cells.
    fn write_lines(&mut self, line0: usize, line1: usize) {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.extend_from_slice(cell);
                if let Some(&width) = self.widths.get(j) {
                    let pad = width.saturating_sub(rune_count(cell));
                    self.out.extend(std::iter::repeat_n(b' ', pad));
                }
            }
            if i + 1 < self.lines.len() {
                self.out.push(b'\n');
            }
        }
    }
}

/// Go's `utf8.RuneCount`: each invalid byte counts as one rune.
fn rune_count(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => return count + s.chars().count(),
            Err(e) => {
                let valid = e.valid_up_to();
                // `valid_up_to` is a char boundary, so this cannot fail.
                count += std::str::from_utf8(&bytes[..valid]).map_or(valid, |s| s.chars().count());
                let bad = e.error_len().unwrap_or(bytes.len() - valid);
                count += bad;
                bytes = &bytes[valid + bad..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> String {
        String::from_utf8(format(s.as_bytes(), 0, 6)).expect("utf8")
    }

    #[test]
    fn aligns_like_consul_kv_detailed() {
        let got = fmt("CreateIndex\t167\nFlags\t42\nKey\tk\nValue\thello");
        assert_eq!(
            got,
            "CreateIndex      167\nFlags            42\nKey              k\nValue            hello"
        );
    }

    #[test]
    fn empty_trailing_cell_on_last_line_is_not_padded() {
        // Go's Flush drops an empty unterminated last cell, so the line leaves the block.
        assert_eq!(fmt("Key\tk\nValue\t"), "Key      k\nValue");
        // On earlier lines the empty cell still belongs to the column.
        assert_eq!(fmt("Value\t\nKey\tk"), "Value      \nKey        k");
    }

    #[test]
    fn single_cell_lines_end_blocks() {
        assert_eq!(
            fmt("a\tb\nplain\nlonger\tc\n"),
            "a      b\nplain\nlonger      c\n"
        );
    }

    #[test]
    fn nested_columns_and_runes() {
        assert_eq!(
            fmt("é\tx\ty\nab\tlong\tz"),
            "é       x         y\nab      long      z"
        );
    }

    #[test]
    fn counts_invalid_bytes_as_runes() {
        assert_eq!(rune_count(b"a\xffb"), 3);
        assert_eq!(rune_count("héllo".as_bytes()), 5);
        assert_eq!(rune_count(b"\xe2\x82"), 2);
        assert_eq!(rune_count(b"\xe2\x82X"), 3);
    }
}
