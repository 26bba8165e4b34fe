//! Lowering: pest pairs → the typed AST, one `lower`-style method per rule.
//!
//! The grammar has already accepted the shape, so lowering only converts
//! tokens into values. What the grammar cannot say (a date that does not
//! exist, `25:00`, an escape past U+10FFFF, a number too large) is reported
//! here as a diagnostic, and a harmless placeholder keeps the tree whole.

use pest::iterators::Pair;

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::parse::Rule;
use crate::source::{FileId, Span};

/// Converts parse trees of one file into AST nodes.
pub struct Lowerer<'d> {
    file: FileId,
    offset: usize,
    diags: &'d mut Vec<Diagnostic>,
}

type P<'i> = Pair<'i, Rule>;

/// Tokens that carry no information once the grammar has matched them.
fn is_noise(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        lbrace
            | rbrace
            | lbracket
            | rbracket
            | lparen
            | rparen
            | colon
            | arrow
            | dotdot
            | dash
            | lt
            | EOI
            | kw_policy
            | kw_version
            | kw_effective
            | kw_timezone
            | kw_calendar
            | kw_levels
            | kw_department
            | kw_level
            | kw_external
            | kw_grades
            | kw_grade
            | kw_respond
            | kw_resolve
            | kw_category
            | kw_lead
            | kw_assist
            | kw_when
            | kw_limits
            | kw_fallback
            | kw_empower
            | kw_relieve
            | kw_forbid
            | kw_escalate
            | kw_at
            | kw_for
            | kw_remind
            | kw_notify
            | kw_raise
            | kw_to
            | kw_whistle
            | kw_threshold
            | kw_metric
            | kw_by
            | kw_over
            | kw_alert
            | kw_assess
            | kw_weight
            | kw_target
            | kw_test
            | kw_event
            | kw_expect
            | kw_week
            | kw_holiday
            | kw_workday
            | kw_working
            | kw_and
            | kw_or
            | kw_not
            | kw_in
            | kw_has
            | kw_true
            | kw_false
            | kw_count
            | kw_repeats
    )
}

/// Where a pair's last token ends. pest counts the white space and comments
/// it skipped while trying a trailing optional part (`when_clause?`) as part
/// of the rule, so a span would run over the comment after a line; the last
/// token's end is where the text really ends.
fn tight_end(p: &P<'_>) -> usize {
    use Rule::*;
    let mut cur = p.clone();
    loop {
        // Atomic rules skip nothing inside: their own end is tight.
        if matches!(
            cur.as_rule(),
            ident
                | key
                | string
                | number
                | percent
                | span_of_time
                | date
                | time_of_day
                | attr_path
                | json_object
        ) {
            return cur.as_span().end();
        }
        match cur.clone().into_inner().last() {
            Some(last) => cur = last,
            None => return cur.as_span().end(),
        }
    }
}

fn parts(pair: P<'_>) -> Vec<P<'_>> {
    pair.into_inner()
        .filter(|p| !is_noise(p.as_rule()))
        .collect()
}

impl<'d> Lowerer<'d> {
    /// A lowerer for `file`, whose parsed text started at byte `offset`.
    pub fn new(file: FileId, offset: usize, diags: &'d mut Vec<Diagnostic>) -> Lowerer<'d> {
        Lowerer {
            file,
            offset,
            diags,
        }
    }

    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(
            self.file,
            self.offset + s.start(),
            self.offset + tight_end(p),
        )
    }

    fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }

    /// `file`
    pub fn file(&mut self, pair: P<'_>) -> File {
        let decls = parts(pair)
            .into_iter()
            .filter_map(|p| self.decl(p))
            .collect();
        File { decls }
    }

    fn decl(&mut self, p: P<'_>) -> Option<Decl> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::policy_decl => Decl::Policy(self.policy(p, span)),
            Rule::levels_decl => Decl::Levels(self.order(p, span)),
            Rule::grades_decl => Decl::Grades(self.order(p, span)),
            Rule::department_decl => Decl::Department(self.department(p, span)),
            Rule::grade_decl => Decl::Grade(self.grade(p, span)),
            Rule::category_decl => Decl::Category(self.category(p, span)),
            Rule::fallback_decl => Decl::Fallback(FallbackDecl {
                items: parts(p)
                    .into_iter()
                    .filter_map(|i| self.category_item(i))
                    .collect(),
                span,
            }),
            Rule::empower_decl => Decl::Empower(self.empower(p, span)),
            Rule::relieve_decl => Decl::Relieve(self.relieve(p, span)),
            Rule::escalate_decl => Decl::Escalate(self.escalate(p, span)),
            Rule::threshold_decl => Decl::Threshold(self.threshold(p, span)),
            Rule::assess_decl => Decl::Assess(self.assess(p, span)),
            Rule::target_decl => Decl::Target(self.target(p, span)),
            Rule::test_decl => Decl::Test(self.test(p, span)),
            Rule::calendar_decl => Decl::Calendar(self.calendar(p, span)),
            _ => return None,
        })
    }

    fn ident(&self, p: &P<'_>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(p),
        }
    }

    /// The name a declaration starts with, or a blank one at the
    /// declaration's span when the parser recovered without it.
    fn ident_or_missing(&self, p: Option<P<'_>>, span: Span) -> Ident {
        p.map_or_else(|| Ident::missing(span), |i| self.ident(&i))
    }

    fn string(&mut self, p: &P<'_>) -> StrLit {
        let span = self.span(p);
        let raw = p.as_str();
        let inner = raw
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(raw);
        let value = match unescape(inner) {
            Ok(v) => v,
            Err(msg) => {
                self.error("E0003", span, msg);
                String::new()
            }
        };
        StrLit { value, span }
    }

    fn number(&mut self, p: &P<'_>) -> Number {
        let span = self.span(p);
        let text = p.as_str().trim_end_matches('%').to_string();
        let value = match text.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                self.error("E0003", span, format!("`{text}` is not a usable number"));
                0.0
            }
        };
        Number { value, text, span }
    }

    fn percent(&mut self, p: &P<'_>) -> Number {
        let mut n = self.number(p);
        n.value /= 100.0;
        n
    }

    fn date(&mut self, p: &P<'_>) -> Date {
        let span = self.span(p);
        let s = p.as_str();
        let field = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i32>().ok());
        let (y, m, d) = (
            field(0..4).unwrap_or(0),
            field(5..7).unwrap_or(0),
            field(8..10).unwrap_or(0),
        );
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            self.error("E0003", span, format!("`{s}` is not a date"));
            return Date {
                year: 1970,
                month: 1,
                day: 1,
            };
        }
        Date {
            year: i16::try_from(y).unwrap_or(1970),
            month: i8::try_from(m).unwrap_or(1),
            day: i8::try_from(d).unwrap_or(1),
        }
    }

    fn time_of_day(&mut self, p: &P<'_>) -> TimeOfDay {
        let span = self.span(p);
        let s = p.as_str();
        let h: u16 = s.get(0..2).and_then(|t| t.parse().ok()).unwrap_or(99);
        let m: u16 = s.get(3..5).and_then(|t| t.parse().ok()).unwrap_or(99);
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            self.error("E0003", span, format!("`{s}` is not a time of day"));
            return TimeOfDay { minutes: 0 };
        }
        TimeOfDay {
            minutes: h * 60 + m,
        }
    }

    fn duration(&mut self, p: P<'_>) -> Duration {
        let span = self.span(&p);
        let mut parts_out = Vec::new();
        let mut working = false;
        for part in p.into_inner() {
            match part.as_rule() {
                Rule::span_of_time => {
                    let text = part.as_str();
                    let mut digits = String::new();
                    for c in text.chars() {
                        if c.is_ascii_digit() {
                            digits.push(c);
                            continue;
                        }
                        let unit = match c {
                            'd' => TimeUnit::Day,
                            'h' => TimeUnit::Hour,
                            'm' => TimeUnit::Minute,
                            _ => TimeUnit::Second,
                        };
                        match digits.parse::<u64>() {
                            // A hundred years is more than any limit means.
                            Ok(n) if n <= 36_500 * 86_400 => parts_out.push((n, unit)),
                            _ => {
                                let s = self.span(&part);
                                self.error("E0003", s, format!("`{text}` is too long a duration"));
                            }
                        }
                        digits.clear();
                    }
                }
                Rule::working => working = true,
                _ => {}
            }
        }
        // One part per unit, largest first: `30m2h` means what `2h30m`
        // means (days count first, then the rest), and the formatter
        // writes it so.
        let parts = [
            TimeUnit::Day,
            TimeUnit::Hour,
            TimeUnit::Minute,
            TimeUnit::Second,
        ]
        .into_iter()
        .filter_map(|unit| {
            let mut of_unit = parts_out.iter().filter(|(_, u)| *u == unit).peekable();
            of_unit.peek()?;
            Some((
                of_unit.fold(0u64, |sum, (n, _)| sum.saturating_add(*n)),
                unit,
            ))
        })
        .collect();
        Duration {
            parts,
            working,
            span,
        }
    }

    fn literal(&mut self, p: P<'_>) -> Option<Literal> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::number => Literal::Number(self.number(&p)),
            Rule::percent => Literal::Percent(self.percent(&p)),
            Rule::string => Literal::Str(self.string(&p)),
            Rule::boolean => Literal::Bool(p.as_str() == "true", span),
            Rule::duration => Literal::Duration(self.duration(p)),
            _ => return None,
        })
    }

    fn ident_list(&self, p: P<'_>) -> Vec<Ident> {
        parts(p).iter().map(|i| self.ident(i)).collect()
    }

    fn when(&mut self, p: Option<P<'_>>) -> Option<Expr> {
        let p = p?;
        let e = parts(p).into_iter().find(|i| i.as_rule() == Rule::expr)?;
        Some(self.expr(e))
    }

    fn policy(&mut self, p: P<'_>, span: Span) -> PolicyDecl {
        let mut it = parts(p).into_iter();
        let name = it
            .next()
            .map_or_else(|| StrLit::missing(span), |s| self.string(&s));
        let mut items = Vec::new();
        for item in it {
            let ispan = self.span(&item);
            let rule = item.as_rule();
            let Some(v) = parts(item).into_iter().next() else {
                continue;
            };
            items.push(match rule {
                Rule::policy_version => PolicyItem::Version(self.string(&v), ispan),
                Rule::policy_effective => PolicyItem::Effective(self.date(&v), ispan),
                Rule::policy_timezone => PolicyItem::Timezone(self.string(&v), ispan),
                _ => PolicyItem::Calendar(self.ident(&v), ispan),
            });
        }
        PolicyDecl { name, items, span }
    }

    fn order(&self, p: P<'_>, span: Span) -> OrderDecl {
        OrderDecl {
            names: parts(p).iter().map(|i| self.ident(i)).collect(),
            span,
        }
    }

    fn department(&mut self, p: P<'_>, span: Span) -> DepartmentDecl {
        let has_block = p.clone().into_inner().any(|i| i.as_rule() == Rule::lbrace);
        let mut d = DepartmentDecl {
            name: Ident::missing(span),
            display: None,
            has_block,
            level: Vec::new(),
            external: None,
            span,
        };
        for item in parts(p) {
            match item.as_rule() {
                Rule::ident => d.name = self.ident(&item),
                Rule::string => d.display = Some(self.string(&item)),
                Rule::item_level => {
                    if let Some(l) = parts(item).first() {
                        d.level.push(self.ident(l));
                    }
                }
                Rule::external => d.external = Some(self.span(&item)),
                _ => {}
            }
        }
        d
    }

    fn limit(&mut self, p: P<'_>) -> Option<Limit> {
        let span = self.span(&p);
        let clock = if p.as_rule() == Rule::item_respond {
            Clock::Respond
        } else {
            Clock::Resolve
        };
        let d = parts(p)
            .into_iter()
            .find(|i| i.as_rule() == Rule::duration)?;
        Some(Limit {
            clock,
            duration: self.duration(d),
            span,
        })
    }

    fn grade(&mut self, p: P<'_>, span: Span) -> GradeDecl {
        let mut it = parts(p).into_iter();
        let name = self.ident_or_missing(it.next(), span);
        let mut items = Vec::new();
        for item in it {
            let ispan = self.span(&item);
            match item.as_rule() {
                Rule::item_level => {
                    if let Some(l) = parts(item).first() {
                        items.push(GradeItem::Level(self.ident(l), ispan));
                    }
                }
                _ => {
                    if let Some(l) = self.limit(item) {
                        items.push(GradeItem::Limit(l));
                    }
                }
            }
        }
        GradeDecl { name, items, span }
    }

    fn category(&mut self, p: P<'_>, span: Span) -> CategoryDecl {
        let mut c = CategoryDecl {
            name: Ident::missing(span),
            display: None,
            items: Vec::new(),
            span,
        };
        for item in parts(p) {
            match item.as_rule() {
                Rule::ident => c.name = self.ident(&item),
                Rule::string => c.display = Some(self.string(&item)),
                _ => {
                    if let Some(i) = self.category_item(item) {
                        c.items.push(i);
                    }
                }
            }
        }
        c
    }

    fn category_item(&mut self, p: P<'_>) -> Option<CategoryItem> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let mut it = parts(p).into_iter();
        Some(match rule {
            Rule::item_lead => CategoryItem::Lead(self.ident(&it.next()?), span),
            Rule::item_level => CategoryItem::Level(self.ident(&it.next()?), span),
            Rule::item_assist => {
                let list = self.ident_list(it.next()?);
                let when = self.when(it.next());
                CategoryItem::Assist(list, when, span)
            }
            Rule::item_grade => {
                let g = self.ident(&it.next()?);
                let when = self.when(it.next());
                CategoryItem::Grade(g, when, span)
            }
            Rule::item_limits => {
                let g = self.ident(&it.next()?);
                let limits = it.filter_map(|l| self.limit(l)).collect();
                CategoryItem::Limits(g, limits, span)
            }
            _ => return None,
        })
    }

    fn empower(&mut self, p: P<'_>, span: Span) -> EmpowerDecl {
        let mut it = parts(p).into_iter();
        let level = self.ident_or_missing(it.next(), span);
        let items = it
            .filter_map(|item| {
                let ispan = self.span(&item);
                let mut ii = parts(item).into_iter();
                let categories = self.ident_list(ii.next()?);
                let when = self.when(ii.next());
                Some(EmpowerItem {
                    categories,
                    when,
                    span: ispan,
                })
            })
            .collect();
        EmpowerDecl { level, items, span }
    }

    fn relieve(&mut self, p: P<'_>, span: Span) -> RelieveDecl {
        let mut it = parts(p).into_iter();
        let level = self.ident_or_missing(it.next(), span);
        let items = it
            .filter_map(|item| {
                let ispan = self.span(&item);
                let list = parts(item).into_iter().next()?;
                Some(RelieveItem {
                    categories: self.ident_list(list),
                    span: ispan,
                })
            })
            .collect();
        RelieveDecl { level, items, span }
    }

    fn escalate(&mut self, p: P<'_>, span: Span) -> EscalateDecl {
        let mut grade = None;
        let mut steps = Vec::new();
        for item in parts(p) {
            match item.as_rule() {
                Rule::escalate_for => grade = parts(item).first().map(|g| self.ident(g)),
                Rule::step => {
                    if let Some(s) = self.step(item) {
                        steps.push(s);
                    }
                }
                _ => {}
            }
        }
        EscalateDecl { grade, steps, span }
    }

    fn step(&mut self, p: P<'_>) -> Option<Step> {
        let span = self.span(&p);
        let mut it = parts(p).into_iter();
        let trig = it.next()?;
        let trigger = match trig.as_rule() {
            Rule::step_at => {
                let mut t = parts(trig).into_iter();
                let percent = self.percent(&t.next()?);
                let clock = if t.next()?.as_str().starts_with("respond") {
                    Clock::Respond
                } else {
                    Clock::Resolve
                };
                Trigger::At { percent, clock }
            }
            _ => {
                let e = parts(trig)
                    .into_iter()
                    .find(|i| i.as_rule() == Rule::expr)?;
                Trigger::When(self.expr(e))
            }
        };
        let actions = it.filter_map(|a| self.action(a)).collect();
        Some(Step {
            trigger,
            actions,
            span,
        })
    }

    fn action(&mut self, p: P<'_>) -> Option<Action> {
        let span = self.span(&p);
        let rule = p.as_rule();
        let it = parts(p);
        Some(match rule {
            Rule::action_remind => Action::Remind(span),
            Rule::action_notify => Action::Notify(self.ident(it.first()?), span),
            Rule::action_raise_to => Action::RaiseTo(self.ident(it.first()?), span),
            Rule::action_raise => Action::Raise(self.number(it.first()?), span),
            Rule::action_whistle => {
                Action::Whistle(it.iter().map(|i| self.ident(i)).collect(), span)
            }
            _ => return None,
        })
    }

    fn group_key(&self, p: &P<'_>) -> GroupKey {
        let span = self.span(p);
        match p.as_str() {
            "department" => GroupKey::Department(span),
            "category" => GroupKey::Category(span),
            _ => GroupKey::Level(Ident {
                name: p.as_str().to_string(),
                span,
            }),
        }
    }

    fn threshold(&mut self, p: P<'_>, span: Span) -> ThresholdDecl {
        let mut t = ThresholdDecl {
            name: Ident::missing(span),
            display: None,
            items: Vec::new(),
            span,
        };
        for item in parts(p) {
            let ispan = self.span(&item);
            match item.as_rule() {
                Rule::ident => t.name = self.ident(&item),
                Rule::string => t.display = Some(self.string(&item)),
                Rule::threshold_metric => {
                    let mut it = parts(item).into_iter();
                    let (Some(m), Some(by), Some(over)) = (it.next(), it.next(), it.next()) else {
                        continue;
                    };
                    let metric = match parts(m).into_iter().next() {
                        Some(c) if c.as_rule() == Rule::metric_count => {
                            let cspan = self.span(&c);
                            let e = parts(c).into_iter().find(|i| i.as_rule() == Rule::expr);
                            MetricExpr::Count(e.map(|e| self.expr(e)), cspan)
                        }
                        Some(i) => MetricExpr::Builtin(self.ident(&i)),
                        None => continue,
                    };
                    t.items.push(ThresholdItem::Metric {
                        metric,
                        by: self.group_key(&by),
                        over: self.duration(over),
                        span: ispan,
                    });
                }
                Rule::threshold_when => {
                    let mut it = parts(item).into_iter();
                    let (Some(op), Some(v)) = (it.next(), it.next()) else {
                        continue;
                    };
                    let op = cmp_op(op.as_str());
                    if let Some(lit) = self.literal(v) {
                        t.items.push(ThresholdItem::When(op, lit, ispan));
                    }
                }
                Rule::threshold_alert => {
                    if let Some(l) = parts(item).first() {
                        t.items.push(ThresholdItem::Alert(self.ident(l), ispan));
                    }
                }
                _ => {}
            }
        }
        t
    }

    fn assess(&mut self, p: P<'_>, span: Span) -> AssessDecl {
        let mut it = parts(p).into_iter();
        let by = it
            .next()
            .map_or(GroupKey::Department(span), |k| self.group_key(&k));
        let weights = it
            .filter_map(|w| {
                let wspan = self.span(&w);
                let ws = parts(w);
                Some(Weight {
                    metric: self.ident(ws.first()?),
                    weight: self.number(ws.get(1)?),
                    span: wspan,
                })
            })
            .collect();
        AssessDecl { by, weights, span }
    }

    fn target(&mut self, p: P<'_>, span: Span) -> TargetDecl {
        let mut it = parts(p).into_iter();
        let metric = self.ident_or_missing(it.next(), span);
        let op = it.next().map_or(CmpOp::Ge, |o| cmp_op(o.as_str()));
        let value = it
            .next()
            .and_then(|v| self.literal(v))
            .unwrap_or(Literal::Bool(false, span));
        TargetDecl {
            metric,
            op,
            value,
            span,
        }
    }

    fn test(&mut self, p: P<'_>, span: Span) -> TestDecl {
        let mut t = TestDecl {
            name: StrLit::missing(span),
            events: Vec::new(),
            expects: Vec::new(),
            order: Vec::new(),
            span,
        };
        for item in parts(p) {
            match item.as_rule() {
                Rule::string => t.name = self.string(&item),
                Rule::test_event => {
                    let Some(obj) = parts(item).into_iter().next() else {
                        continue;
                    };
                    let ospan = self.span(&obj);
                    let json = obj.as_str().to_string();
                    let value = match serde_json::from_str(&json) {
                        Ok(v) => v,
                        Err(e) => {
                            self.error("E0003", ospan, format!("invalid JSON in `event`: {e}"));
                            serde_json::Value::Null
                        }
                    };
                    t.order.push(TestItemRef::Event(t.events.len()));
                    t.events.push(TestEvent {
                        json,
                        value,
                        span: ospan,
                    });
                }
                Rule::test_expect => {
                    let espan = self.span(&item);
                    let entries = parts(item)
                        .into_iter()
                        .filter_map(|e| self.expect_entry(e))
                        .collect();
                    t.order.push(TestItemRef::Expect(t.expects.len()));
                    t.expects.push(Expect {
                        entries,
                        span: espan,
                    });
                }
                _ => {}
            }
        }
        t
    }

    fn expect_entry(&mut self, p: P<'_>) -> Option<ExpectEntry> {
        let span = self.span(&p);
        let mut it = parts(p).into_iter();
        let key = self.ident(&it.next()?);
        let v = it.next()?;
        let vspan = self.span(&v);
        let value = match v.as_rule() {
            Rule::expect_list => {
                ExpectValue::List(parts(v).iter().map(|i| self.ident(i)).collect(), vspan)
            }
            Rule::boolean => ExpectValue::Bool(v.as_str() == "true", vspan),
            Rule::string => ExpectValue::Str(self.string(&v)),
            Rule::number => ExpectValue::Number(self.number(&v)),
            _ => ExpectValue::Name(self.ident(&v)),
        };
        Some(ExpectEntry { key, value, span })
    }

    fn calendar(&mut self, p: P<'_>, span: Span) -> CalendarDecl {
        let mut it = parts(p).into_iter();
        let name = self.ident_or_missing(it.next(), span);
        let mut items = Vec::new();
        for item in it {
            let ispan = self.span(&item);
            match item.as_rule() {
                Rule::cal_week => {
                    let mut days = Vec::new();
                    let mut intervals = Vec::new();
                    for x in parts(item) {
                        match x.as_rule() {
                            Rule::day_spec => {
                                let ds = parts(x);
                                if let Some(from) = ds.first() {
                                    days.push(DaySpec {
                                        from: self.ident(from),
                                        to: ds.get(1).map(|t| self.ident(t)),
                                    });
                                }
                            }
                            Rule::interval => {
                                let ts = parts(x);
                                if let (Some(a), Some(b)) = (ts.first(), ts.get(1)) {
                                    intervals.push((self.time_of_day(a), self.time_of_day(b)));
                                }
                            }
                            _ => {}
                        }
                    }
                    items.push(CalendarItem::Week {
                        days,
                        intervals,
                        span: ispan,
                    });
                }
                rule @ (Rule::cal_holiday | Rule::cal_workday) => {
                    let mut xs = parts(item).into_iter();
                    let Some(range) = xs.next() else { continue };
                    let ds = parts(range);
                    let Some(from) = ds.first().map(|d| self.date(d)) else {
                        continue;
                    };
                    let to = ds.get(1).map(|d| self.date(d));
                    let label = xs.next().map(|s| self.string(&s));
                    items.push(if rule == Rule::cal_holiday {
                        CalendarItem::Holiday(from, to, label, ispan)
                    } else {
                        CalendarItem::Workday(from, to, label, ispan)
                    });
                }
                _ => {}
            }
        }
        CalendarDecl { name, items, span }
    }

    /// `expr`
    pub fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr => match p.into_inner().next() {
                Some(inner) => self.expr(inner),
                None => truthy_false(span),
            },
            Rule::or_expr | Rule::and_expr => {
                let is_or = p.as_rule() == Rule::or_expr;
                let mut xs: Vec<Expr> = parts(p).into_iter().map(|x| self.expr(x)).collect();
                if xs.len() == 1 {
                    return xs.pop().unwrap_or_else(|| truthy_false(span));
                }
                let kind = if is_or {
                    ExprKind::Or(xs)
                } else {
                    ExprKind::And(xs)
                };
                Expr { kind, span }
            }
            Rule::not_expr => {
                let inner: Vec<P<'_>> = p.into_inner().collect();
                let nots: Vec<Span> = inner
                    .iter()
                    .filter(|x| x.as_rule() == Rule::kw_not)
                    .map(|x| self.span(x))
                    .collect();
                let Some(prim) = inner.into_iter().find(|x| x.as_rule() != Rule::kw_not) else {
                    return truthy_false(span);
                };
                // Each `not` nests the condition one level deeper, as a
                // bracket does: checking and deciding walk it recursively.
                if nots.len() > crate::parse::MAX_NESTING {
                    self.diags.push(
                        Diagnostic::error(
                            "E0002",
                            nots.first().copied().unwrap_or(span),
                            format!(
                                "`not` repeated {} times; at most {} are accepted",
                                nots.len(),
                                crate::parse::MAX_NESTING
                            ),
                        )
                        .with_help("two `not`s cancel out: drop them in pairs"),
                    );
                    return truthy_false(span);
                }
                let mut e = self.expr(prim);
                for not_span in nots.into_iter().rev() {
                    let s = not_span.join(e.span);
                    e = Expr {
                        kind: ExprKind::Not(Box::new(e)),
                        span: s,
                    };
                }
                e
            }
            Rule::paren => match parts(p).into_iter().next() {
                Some(inner) => Expr {
                    kind: ExprKind::Paren(Box::new(self.expr(inner))),
                    span,
                },
                None => truthy_false(span),
            },
            Rule::has_expr => {
                let path = parts(p).into_iter().next();
                let (keys, pspan) = path.map_or((Vec::new(), span), |a| self.attr_path(&a));
                Expr {
                    kind: ExprKind::Has(keys, pspan),
                    span,
                }
            }
            Rule::comparison => self.comparison(p, span),
            _ => truthy_false(span),
        }
    }

    fn comparison(&mut self, p: P<'_>, span: Span) -> Expr {
        let mut it = parts(p).into_iter();
        let Some(lhs) = it.next().and_then(|o| self.operand(o)) else {
            return truthy_false(span);
        };
        let Some(op) = it.next() else {
            return Expr {
                kind: ExprKind::Truthy(lhs),
                span,
            };
        };
        let kind = if op.as_rule() == Rule::in_op {
            let negated = op.as_str().starts_with("not");
            let list = it
                .next()
                .map(|l| {
                    parts(l)
                        .into_iter()
                        .filter_map(|o| self.operand(o))
                        .collect()
                })
                .unwrap_or_default();
            ExprKind::In { lhs, negated, list }
        } else {
            let Some(rhs) = it.next().and_then(|o| self.operand(o)) else {
                return truthy_false(span);
            };
            ExprKind::Cmp {
                lhs,
                op: cmp_op(op.as_str()),
                rhs,
            }
        };
        Expr { kind, span }
    }

    fn attr_path(&self, p: &P<'_>) -> (Vec<String>, Span) {
        let keys = p
            .clone()
            .into_inner()
            .filter(|k| k.as_rule() == Rule::key)
            .map(|k| k.as_str().to_string())
            .collect();
        (keys, self.span(p))
    }

    fn operand(&mut self, p: P<'_>) -> Option<Operand> {
        let span = self.span(&p);
        Some(match p.as_rule() {
            Rule::attr_path => {
                let (keys, s) = self.attr_path(&p);
                Operand::Attr(keys, s)
            }
            Rule::repeats => {
                let mut it = parts(p).into_iter();
                let window = self.duration(it.next()?);
                let by = it.next().map(|b| self.ident(&b));
                Operand::Repeats { window, by, span }
            }
            Rule::name_ref => Operand::Name(Ident {
                name: p.as_str().to_string(),
                span,
            }),
            _ => Operand::Lit(self.literal(p)?),
        })
    }
}

fn truthy_false(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Truthy(Operand::Lit(Literal::Bool(false, span))),
        span,
    }
}

fn cmp_op(s: &str) -> CmpOp {
    match s {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

fn days_in_month(y: i32, m: i32) -> i32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Resolves the escapes of a string literal's inside.
pub fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let shape =
                    || "`\\u` takes 1 to 6 hex digits in braces, as in `\\u{4E2D}`".to_string();
                if chars.next() != Some('{') {
                    return Err(shape());
                }
                let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if hex.is_empty() || hex.len() > 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(shape());
                }
                let ch = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("`\\u{{{hex}}}` is not a Unicode character"))?;
                out.push(ch);
            }
            other => {
                return Err(format!(
                    "unknown escape `\\{}`",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// Whether `c` would not show as itself where a reviewer reads it: a
/// control character, a format character (a zero-width space, a
/// right-to-left override — the "Trojan Source" trick — a byte-order
/// mark, a soft hyphen) or a line or paragraph separator. `fmt` writes
/// these as `\u{...}` escapes, and messages name them by code point.
pub fn invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// Escapes a string for writing it back as a literal (inverse of [`unescape`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if invisible(c) => out.push_str(&format!("\\u{{{:X}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{escape, unescape};

    /// What a reviewer could not see is written as an escape, and reads
    /// back as the same text; what shows as itself (CJK, a full-width
    /// space) is written as it is.
    #[test]
    fn invisible_characters_stay_escaped() {
        for (text, written) in [
            ("x\u{200B}y", r#""x\u{200B}y""#),
            ("x\u{202E}y", r#""x\u{202E}y""#),
            ("x\u{FEFF}y", r#""x\u{FEFF}y""#),
            ("x\u{2028}y", r#""x\u{2028}y""#),
            ("x\u{7}y", r#""x\u{7}y""#),
            ("网格\u{3000}一", "\"网格\u{3000}一\""),
            ("a\tb\n", r#""a\tb\n""#),
        ] {
            assert_eq!(escape(text), written);
            let inner = &written[1..written.len() - 1];
            assert_eq!(unescape(inner).unwrap(), text);
        }
    }
}
