//! Template problems as an author wants to see them: the file, line and column, the offending
//! source line, and a caret under the column; then where it was found and, when the CLI can
//! tell, what would fix it.
//!
//! ```text
//! error[syntax]: orders/confirmation.html:3:12: unexpected end of input
//!     3 | <p>{{ name }</p>
//!       |            ^
//! error[lookup]: lookup "student" found nothing in enrollments for PK=STUDENT#9, SK=PROFILE
//!   = sample welcome.json, route welcome
//!   = help: add {"key": {"PK": "STUDENT#9", "SK": "PROFILE"}, "item": {}} to "enrollments" in ...
//! ```

use std::io::{self, Write};

use mailroom_core::TemplateFault;

/// Writes one problem, with `context` (sample, route) on its own line when given.
pub fn write_fault(
    out: &mut impl Write,
    fault: &TemplateFault,
    context: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "error[{}]: {fault}", fault.kind)?;
    if let Some(source_line) = &fault.source_line {
        let number = fault.line.map(|line| line.to_string()).unwrap_or_default();
        let gutter = " ".repeat(number.len());
        writeln!(out, "  {number} | {}", source_line.trim_end())?;
        if let Some(column) = fault.column.filter(|c| *c > 0) {
            // Columns count characters; keep tabs so the caret lines up under them.
            let pad: String = source_line
                .chars()
                .take(column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(out, "  {gutter} | {pad}^")?;
        }
    }
    if let Some(context) = context {
        writeln!(out, "  = {context}")?;
    }
    Ok(())
}

/// Writes what would fix a problem, one `= help:` line each, under it.
pub fn write_help(out: &mut impl Write, help: &[String]) -> io::Result<()> {
    for line in help {
        writeln!(out, "  = help: {line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::FaultKind;

    #[test]
    fn the_caret_points_at_the_column() {
        let mut fault = TemplateFault::new(FaultKind::Syntax, "unexpected end of input");
        fault.template = Some("a.html".into());
        fault.line = Some(3);
        fault.column = Some(5);
        fault.source_line = Some("<p>{{ x }</p>".into());
        let mut out = Vec::new();
        write_fault(&mut out, &fault, Some("sample order.json")).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "error[syntax]: a.html:3:5: unexpected end of input\n  3 | <p>{{ x }</p>\n    |     ^\n  = sample order.json\n"
        );
    }

    #[test]
    fn each_help_is_a_line_under_the_problem() {
        let mut out = Vec::new();
        write_help(&mut out, &["add a".to_owned(), "or b".to_owned()]).unwrap();
        write_help(&mut out, &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  = help: add a\n  = help: or b\n"
        );
    }
}
