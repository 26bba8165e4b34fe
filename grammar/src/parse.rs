//! Text → parse tree → [`ast::File`], with error recovery.
//!
//! pest stops at the first syntax error. To report more than one per run,
//! the parser restarts after an error at the next line that begins (in
//! column 1) with a declaration keyword, and parses the rest of the file from
//! there. Only whole declarations are lost, and the other files of a bundle
//! are parsed regardless.

use pest::Parser;
use pest::error::{ErrorVariant, InputLocation};

use crate::ast;
use crate::diag::Diagnostic;
use crate::lower::Lowerer;
use crate::source::{FileId, Span};

mod generated {
    // The rule enum is generated; its rules are documented in `whistle.pest`.
    #![allow(missing_docs)]

    /// The pest parser generated from `whistle.pest`.
    #[derive(pest_derive::Parser)]
    #[grammar = "whistle.pest"]
    pub struct WhistleParser;
}

pub use generated::{Rule, WhistleParser};

/// Deepest nesting of `( [ {` accepted. Deeper input is refused before pest
/// sees it, so that no input can exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// Keywords that start a declaration: where recovery may restart.
const DECL_KEYWORDS: &[&str] = &[
    "policy",
    "levels",
    "department",
    "grades",
    "grade",
    "category",
    "fallback",
    "empower",
    "relieve",
    "escalate",
    "threshold",
    "assess",
    "target",
    "test",
    "calendar",
];

/// Parses one file. Always returns a tree (possibly partial) and every
/// diagnostic found.
pub fn parse_file(file: FileId, text: &str) -> (ast::File, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    if let Some(d) = check_nesting(file, text) {
        return (ast::File::default(), vec![d]);
    }
    let mut decls = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = &text[offset..];
        match WhistleParser::parse(Rule::file, rest) {
            Ok(mut pairs) => {
                let mut low = Lowerer::new(file, offset, &mut diags);
                if let Some(f) = pairs.next() {
                    decls.extend(low.file(f).decls);
                }
                break;
            }
            Err(e) => {
                let pos = match e.location {
                    InputLocation::Pos(p) => p,
                    InputLocation::Span((s, _)) => s,
                };
                let at = offset + pos;
                diags.push(syntax_error(file, text, at, &e.variant));
                // Keep the declarations that parsed before the error.
                decls.extend(parse_prefix(file, text, offset, at, &mut diags));
                match next_restart(text, at, offset) {
                    Some(next) => offset = next,
                    None => break,
                }
            }
        }
    }
    (ast::File { decls }, diags)
}

/// Parses the declarations that lie wholly before the error at `err_at`, by
/// cutting the text at the start of a declaration line before it. The last
/// such line usually starts the broken declaration, so the one before it is
/// tried too.
fn parse_prefix(
    file: FileId,
    text: &str,
    from: usize,
    err_at: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ast::Decl> {
    let cuts: Vec<usize> = line_starts_after(text, from)
        .take_while(|&s| s <= err_at)
        .filter(|&s| s > from && is_decl_line(text, s))
        .collect();
    for &cut in cuts.iter().rev().take(2) {
        if let Ok(mut pairs) = WhistleParser::parse(Rule::file, &text[from..cut]) {
            let mut low = Lowerer::new(file, from, diags);
            return pairs.next().map(|p| low.file(p).decls).unwrap_or_default();
        }
    }
    Vec::new()
}

fn is_decl_line(text: &str, at: usize) -> bool {
    let rest = &text[at..];
    DECL_KEYWORDS.iter().any(|k| {
        rest.starts_with(k)
            && rest[k.len()..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t' || c == '{' || c == '"')
    })
}

fn line_starts_after(text: &str, from: usize) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(from)
        .filter(move |&f| f == 0 || text.as_bytes().get(f - 1) == Some(&b'\n'))
        .chain(
            text[from..]
                .match_indices('\n')
                .map(move |(i, _)| from + i + 1),
        )
}

/// The next declaration line starting at or after the line of `err_at`,
/// strictly after `offset` so that recovery always makes progress.
fn next_restart(text: &str, err_at: usize, offset: usize) -> Option<usize> {
    let line_start = text[..err_at].rfind('\n').map_or(0, |i| i + 1);
    line_starts_after(text, line_start)
        .filter(|&s| s > offset && s < text.len())
        .find(|&s| is_decl_line(text, s))
}

/// Refuses input nested deeper than [`MAX_NESTING`] (strings and comments
/// do not count).
fn check_nesting(file: FileId, text: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut in_comment = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' | '\n' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_str = true,
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            "E0002",
                            Span::new(file, i, i + 1),
                            format!("brackets nested deeper than {MAX_NESTING} levels"),
                        )
                        .with_help("a policy never needs this much nesting; split the condition"),
                    );
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn syntax_error(file: FileId, text: &str, at: usize, variant: &ErrorVariant<Rule>) -> Diagnostic {
    if let Some(d) = json_error(file, text, at, variant) {
        return d;
    }
    // The string rule fails at its opening quote when the string runs into
    // a line break: "found `\"`" would blame the quote, not the break.
    if let Some(rest) = text[at..].strip_prefix('"')
        && !closes_on_its_line(rest)
    {
        return Diagnostic::error(
            "E0001",
            Span::new(file, at, at + 1),
            "this string does not end on its line",
        )
        .with_help("a string is written on one line: close it with `\"`, and write a line break in it as `\\n`");
    }
    let end = at + token_len(&text[at..]);
    let found = describe_found(&text[at..]);
    let message = match variant {
        ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
            let mut names: Vec<&str> = positives.iter().map(|r| rule_name(*r)).collect();
            // A rule without a name for people says nothing beside named ones.
            if names.iter().any(|n| *n != SOMETHING_ELSE) {
                names.retain(|n| *n != SOMETHING_ELSE);
            }
            // Every kind of operand is expected at the start of a comparison;
            // one phrase says it better than eight.
            let operand = ["a field or value", "a number", "a string", "`attr.<field>`"];
            if operand.iter().all(|o| names.contains(o)) {
                names.retain(|n| !OPERAND_NAMES.contains(n));
                names.push("a field or a value (`attr.x`, `source`, `3`, `\"text\"`, `30m`)");
            }
            names.sort_unstable();
            names.dedup();
            format!("expected {}, found {found}", join_or(&names))
        }
        ErrorVariant::ParsingError { negatives, .. } if !negatives.is_empty() => {
            format!("unexpected {found}")
        }
        ErrorVariant::CustomError { message } => message.clone(),
        _ => format!("unexpected {found}"),
    };
    let mut d = Diagnostic::error("E0001", Span::new(file, at, end), message);
    if let Some(h) = hint(variant, &text[at..]) {
        d = d.with_help(h);
    } else if text[at..].trim().is_empty()
        && let Some(open) = unclosed_brace(&text[..at])
    {
        let line = text[..open].matches('\n').count() + 1;
        d = d.with_help(format!(
            "the file ends inside a block: the `{{` on line {line} has no `}}`"
        ));
    }
    d
}

/// The last `{` of `text` left open (outside strings and comments).
fn unclosed_brace(text: &str) -> Option<usize> {
    let mut open = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                // A comment runs to the end of its line.
                for (_, c) in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => break,
                        _ => {}
                    }
                }
            }
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}

/// Bytes of the token at the start of `rest` that an error points at: a
/// whole word or number (`leed`, `15min`), else one character.
fn token_len(rest: &str) -> usize {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    match rest.chars().next() {
        Some(c) if word(c) => rest.find(|c: char| !word(c)).unwrap_or(rest.len()),
        Some(c) => c.len_utf8(),
        None => 0,
    }
}

/// A test's `event { ... }` that is not JSON: the JSON rule is atomic, so
/// pest stops at its `{`. The JSON parser says where it really went wrong
/// and what it found there.
fn json_error(
    file: FileId,
    text: &str,
    at: usize,
    variant: &ErrorVariant<Rule>,
) -> Option<Diagnostic> {
    let ErrorVariant::ParsingError { positives, .. } = variant else {
        return None;
    };
    let rest = &text[at..];
    if !positives.contains(&Rule::json_object) || !rest.starts_with('{') {
        return None;
    }
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
    let e = values.next()?.err()?;
    // Line and column of the JSON parser, counted from the `{`.
    let line_start = rest
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let line = &rest[line_start..];
    let col = line
        .char_indices()
        .nth(e.column().saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let pos = (at + line_start + col).min(text.len());
    let end = text[pos..]
        .chars()
        .next()
        .map_or(pos, |c| pos + c.len_utf8());
    let said = e.to_string();
    let what = said
        .rfind(" at line ")
        .map_or(said.as_str(), |i| &said[..i]);
    let mut d = Diagnostic::error(
        "E0001",
        Span::new(file, pos, end),
        format!("the test event is not valid JSON: {what}"),
    );
    if text[pos..].starts_with('#') || text[..pos].trim_end().ends_with('#') {
        d = d.with_help("comments are not allowed inside the event's JSON; put them above `event`");
    }
    Some(d)
}

fn hint(variant: &ErrorVariant<Rule>, rest: &str) -> Option<String> {
    let ErrorVariant::ParsingError { positives, .. } = variant else {
        return None;
    };
    if positives.contains(&Rule::rbrace) && is_decl_line(rest, 0) {
        return Some("a `}` is probably missing before this declaration".into());
    }
    if positives.contains(&Rule::ident)
        && rest
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .next()
            .is_some_and(is_keyword)
    {
        return Some("this word is a reserved keyword and cannot be used as a name".into());
    }
    None
}

/// Whether a string whose text starts `rest` (after its opening quote) is
/// closed before the end of its line.
fn closes_on_its_line(rest: &str) -> bool {
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return true,
            '\n' | '\r' => return false,
            '\\' => {
                if matches!(chars.next(), None | Some('\n' | '\r')) {
                    return false;
                }
            }
            _ => {}
        }
    }
    false
}

fn is_keyword(word: &str) -> bool {
    WhistleParser::parse(Rule::keyword, word).is_ok_and(|p| p.as_str().len() == word.len())
}

fn describe_found(rest: &str) -> String {
    let Some(c) = rest.chars().next() else {
        return "end of file".into();
    };
    if c == '\n' || c == '\r' {
        return "end of line".into();
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if crate::lower::invisible(c) {
        // Shown as itself it would be an empty pair of backticks.
        format!("the invisible character U+{:04X}", c as u32)
    } else if word.is_empty() {
        format!("`{c}`")
    } else {
        format!("`{word}`")
    }
}

fn join_or(names: &[&str]) -> String {
    match names {
        [] => SOMETHING_ELSE.into(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The names of the rules that can start an operand.
const OPERAND_NAMES: &[&str] = &[
    "a field or value",
    "a number",
    "a string",
    "`attr.<field>`",
    "a percentage",
    "a duration (`30m`, `2h`, `1d12h`)",
    "`repeats`",
    "`true` or `false`",
    "`true`",
    "`false`",
    "`repeats(...)`",
    "`grade`",
    "`category`",
];

/// A rule's name as a policy officer would say it.
fn rule_name(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        EOI => "end of file",
        ident => "a name",
        metric_name => "a metric (`on_time_response`, `count`, ...)",
        key => "a key",
        string => "a string",
        number => "a number",
        percent => "a percentage",
        span_of_time | duration => "a duration (`30m`, `2h`, `1d12h`)",
        date => "a date (`2025-10-01`)",
        date_range => "a date or date range",
        time_of_day => "a time of day (`09:00`)",
        lbrace => "`{`",
        rbrace => "`}`",
        lbracket => "`[`",
        rbracket => "`]`",
        lparen => "`(`",
        rparen => "`)`",
        colon => "`:`",
        arrow => "`->`",
        dotdot => "`..`",
        dash => "`-`",
        lt => "`<`",
        cmp_op => "a comparison (`==`, `>=`, ...)",
        in_op => "`in`",
        expr | or_expr | and_expr | not_expr | comparison | paren => "a condition",
        attr_path => "`attr.<field>`",
        name_ref => "a field or value",
        boolean => "`true` or `false`",
        list => "a list `[...]`",
        json_object => "a JSON object",
        policy_decl | levels_decl | department_decl | grades_decl | grade_decl | category_decl
        | fallback_decl | empower_decl | relieve_decl | escalate_decl | threshold_decl
        | assess_decl | target_decl | test_decl | calendar_decl => "a declaration",
        policy_version | policy_effective | policy_timezone | policy_calendar => {
            "a policy item (`version`, `effective`, `timezone`, `calendar`)"
        }
        item_lead | item_assist | item_grade | item_limits => {
            "a category item (`lead`, `assist`, `grade`, `limits`, `level`)"
        }
        item_level => "`level`",
        item_respond => "`respond`",
        item_resolve => "`resolve`",
        external => "`external`",
        when_clause => "`when`",
        working => "`working`",
        empower_item => "`resolve`",
        relieve_item => "`forbid`",
        escalate_for => "`for`",
        step | step_at | step_when => "a ladder step (`at P% respond|resolve` or `when`)",
        clock => "`respond` or `resolve`",
        action_remind | action_notify | action_raise | action_raise_to | action_whistle => {
            "an action (`remind`, `notify`, `raise`, `whistle`)"
        }
        threshold_metric | threshold_when | threshold_alert => {
            "a threshold item (`metric`, `when`, `alert`)"
        }
        metric_expr | metric_count => "a metric",
        group_key | group_builtin => "`department`, `category` or a level",
        assess_item => "a weighted metric (`satisfaction weight 25`)",
        test_event | test_expect => "`event` or `expect`",
        expect_entry => "`key: value`",
        expect_list => "a list `[...]`",
        cal_week | cal_holiday | cal_workday => "a calendar item (`week`, `holiday`, `workday`)",
        day_spec => "a weekday (`mon`..`sun`)",
        interval => "a time interval (`09:00-12:00`)",
        repeats => "`repeats(...)`",
        // Pest names the whole file when nothing at its start matched.
        file => {
            "a declaration (`policy`, `levels`, `grades`, `grade`, `department`, `category`, `fallback`, `empower`, `relieve`, `escalate`, `threshold`, `assess`, `target`, `test` or `calendar`)"
        }
        kw_policy => "`policy`",
        kw_version => "`version`",
        kw_effective => "`effective`",
        kw_timezone => "`timezone`",
        kw_calendar => "`calendar`",
        kw_levels => "`levels`",
        kw_department => "`department`",
        kw_level => "`level`",
        kw_external => "`external`",
        kw_grades => "`grades`",
        kw_grade => "`grade`",
        kw_respond => "`respond`",
        kw_resolve => "`resolve`",
        kw_category => "`category`",
        kw_lead => "`lead`",
        kw_assist => "`assist`",
        kw_when => "`when`",
        kw_limits => "`limits`",
        kw_fallback => "`fallback`",
        kw_empower => "`empower`",
        kw_relieve => "`relieve`",
        kw_forbid => "`forbid`",
        kw_escalate => "`escalate`",
        kw_at => "`at`",
        kw_for => "`for`",
        kw_remind => "`remind`",
        kw_notify => "`notify`",
        kw_raise => "`raise`",
        kw_to => "`to`",
        kw_whistle => "`whistle`",
        kw_threshold => "`threshold`",
        kw_metric => "`metric`",
        kw_by => "`by`",
        kw_over => "`over`",
        kw_alert => "`alert`",
        kw_assess => "`assess`",
        kw_weight => "`weight`",
        kw_target => "`target`",
        kw_test => "`test`",
        kw_event => "`event`",
        kw_expect => "`expect`",
        kw_week => "`week`",
        kw_holiday => "`holiday`",
        kw_workday => "`workday`",
        kw_working => "`working`",
        kw_and => "`and`",
        kw_or => "`or`",
        kw_not => "`not`",
        kw_in => "`in`",
        kw_has => "`has`",
        kw_true => "`true`",
        kw_false => "`false`",
        kw_count => "`count`",
        kw_repeats => "`repeats`",
        _ => SOMETHING_ELSE,
    }
}

/// What an unnamed rule is called in "expected ...".
const SOMETHING_ELSE: &str = "something else";

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(text: &str) -> String {
        let (_, diags) = parse_file(FileId(0), text);
        diags.first().map(|d| d.message.clone()).unwrap_or_default()
    }

    /// A string that runs into a line break is said to, at its quote;
    /// an escaped quote or backslash does not close it, and a string
    /// closed on its line that is out of place is told as before.
    #[test]
    fn a_string_cut_by_a_line_break_is_named_as_such() {
        for text in [
            "category a \"multi\nline\" { lead urban grade blue }\n",
            "category a \"ends with \\\" { lead urban grade blue }\n",
            "category a \"open",
        ] {
            assert_eq!(
                first_error(text),
                "this string does not end on its line",
                "{text:?}"
            );
        }
        let m = first_error("levels \"grid\"\n");
        assert!(m.starts_with("expected"), "{m}");
    }

    #[test]
    fn a_file_that_starts_with_no_declaration_is_told_the_ones_it_may() {
        let m = first_error("garbage\n");
        assert!(
            m.starts_with("expected a declaration (`policy`, `levels`"),
            "{m}"
        );
        assert!(m.contains("`threshold`"), "{m}");
        assert!(m.ends_with("found `garbage`"), "{m}");
        assert!(!m.contains("something else"), "{m}");
    }

    /// A character that shows as nothing is named by its code point, not
    /// printed between backticks that would then look empty.
    #[test]
    fn an_invisible_character_is_named_by_its_code_point() {
        let m = first_error("category a\u{200B}b { lead x grade blue }\n");
        assert!(m.ends_with("found the invisible character U+200B"), "{m}");
    }

    #[test]
    fn a_bad_escape_is_named_as_one() {
        let (_, diags) = parse_file(FileId(0), "department a \"x\\qy\"\n");
        let d = diags.first().map(|d| (d.code, d.message.as_str()));
        assert_eq!(d, Some(("E0003", "unknown escape `\\q`")));
        for bad in ["\\u41", "\\u{}", "\\u{1234567}", "\\u{zz}"] {
            let (_, diags) = parse_file(FileId(0), &format!("department a \"{bad}\"\n"));
            let m = diags.first().map(|d| d.message.clone()).unwrap_or_default();
            assert!(m.contains("1 to 6 hex digits in braces"), "{bad}: {m}");
        }
        let (_, diags) = parse_file(FileId(0), "department a \"\\u{4E2D}\\\"\\n\"\n");
        assert!(diags.is_empty(), "{diags:?}");
    }
}
