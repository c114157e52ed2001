//! Cells a spreadsheet would run as formulas (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`):
//! an export writes them with a leading `'`, as OWASP recommends, so a merchant who opens
//! the file in a spreadsheet sees text; an import takes the `'` off again, so a round trip
//! keeps every value.

use std::borrow::Cow;

/// What a cell may not start with in an export: spreadsheets read these as a formula
/// (tab and carriage return because some read past them).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The quote that marks a neutralised cell.
const QUOTE: char = '\'';

/// A plain number (`-5`, `12.50`) is no formula, and stays a number in the spreadsheet.
fn is_number(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The cell as an export writes it: a leading `'` before a formula start, and before a
/// leading `'` (so that one survives the import taking the mark off).
pub fn neutralize(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some(c) if (FORMULA_STARTS.contains(&c) && !is_number(value)) || c == QUOTE => {
            Cow::Owned(format!("{QUOTE}{value}"))
        }
        _ => Cow::Borrowed(value),
    }
}

/// The cell's value as an import reads it: the mark [`neutralize`] added taken off. A `'`
/// before anything else is the value's own (a file from elsewhere).
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix(QUOTE) {
        Some(rest)
            if rest
                .chars()
                .next()
                .is_some_and(|c| FORMULA_STARTS.contains(&c) || c == QUOTE) =>
        {
            rest
        }
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_read_back_as_they_were() {
        for (value, written) in [
            (
                "=HYPERLINK(\"http://evil.example\",\"Click\")",
                "'=HYPERLINK(\"http://evil.example\",\"Click\")",
            ),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("-2+3", "'-2+3"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            ("'quoted", "''quoted"),
            ("''", "'''"),
            ("'", "''"),
            ("Linen shirt", "Linen shirt"),
            ("-5", "-5"),
            ("-12.50", "-12.50"),
            ("12.50", "12.50"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(neutralize(value), written, "{value:?}");
            assert_eq!(restore(&neutralize(value)), value, "{value:?} round trip");
        }
    }

    #[test]
    fn a_quote_in_a_file_from_elsewhere_is_the_values_own() {
        assert_eq!(restore("'tis the season"), "'tis the season");
        assert_eq!(restore("Linen shirt"), "Linen shirt");
    }
}
