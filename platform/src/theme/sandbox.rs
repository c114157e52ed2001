//! The sandbox a store's own templates are compiled and rendered in: only storefront
//! templates, no process environment, bounded `range` and output, a deadline checked by
//! `range()` and every write of output, and no template that can recurse into itself.
//! Renders run in a worker process ([`super::worker`]) that bounds their memory and is
//! killed when a render outlives the deadline without checking it.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};
use std::time::Instant;

use tera::ast::Node;
use tera::{Tera, Value};

/// Largest template source a merchant may save.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// Most numbers one `range()` call may produce.
pub const MAX_RANGE: usize = 10_000;
/// Largest page a store template may render.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of brackets or block tags in a source: the template parser recurses
/// once per level, and a deep enough nest would overflow the stack.
const MAX_NESTING: usize = 64;
/// Longest `{{ ... }}` or `{% ... %}` tag: the parser and renderer also recurse once per
/// operator of an expression (`1 + 1 + ...`).
const MAX_TAG_BYTES: usize = 1_000;

/// Stack of a sandbox thread. Parsing and rendering recurse per nesting level and per
/// operator; the source limits keep that far below this, with room to spare in debug builds.
/// (Only the pages touched are committed.)
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

thread_local! {
    /// When the render running on this thread must stop (checked by `range()` and on
    /// every write of output).
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Why a template was refused, for the merchant: the message and, for a syntax error, the
/// line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong.
    pub message: String,
    /// The 1-based line of a syntax error.
    pub line: Option<usize>,
}

impl Refusal {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line: None,
        }
    }
}

/// Why a sandboxed render produced no page.
#[derive(Debug)]
pub enum RenderFailure {
    /// It ran past its deadline.
    TimedOut,
    /// It needed more memory than a render may use (its worker ran out and ended).
    OutOfMemory,
    /// Every render worker was taken for longer than the time limit.
    Busy,
    /// No render worker could be started or talked to: the node's fault, not the template's.
    Unavailable(String),
    /// Tera refused or failed it.
    Error(String),
}

/// A Tera instance for store templates: exactly `templates` (the default theme's and the
/// store's own), autoescaped like every other page, with `get_env` disabled and `range`
/// bounded.
pub fn build(templates: Vec<(String, String)>) -> Result<Tera, Refusal> {
    let mut tera = Tera::default();
    tera.register_function("get_env", no_env);
    tera.register_function("range", bounded_range);
    tera.autoescape_on(vec![".html", ".xml"]);
    tera.set_escape_fn(crate::views::escape_html);
    tera.add_raw_templates(templates).map_err(|e| {
        let message = error_chain(&e);
        Refusal {
            line: syntax_error_line(&message),
            message,
        }
    })?;
    Ok(tera)
}

/// Checks a source before it is parsed: its size and how deeply it nests.
pub fn precheck(source: &str) -> Result<(), Refusal> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Refusal::new(format!(
            "The template is too long: at most {} KB.",
            MAX_SOURCE_BYTES / 1024
        )));
    }
    let line_at = |i: usize| source[..i].matches('\n').count() + 1;
    let mut rest = source;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[open + 1..];
            continue;
        };
        let length = after
            .find(close)
            .map_or(after.len(), |end| end + close.len());
        if length > MAX_TAG_BYTES {
            return Err(Refusal {
                message: format!(
                    "A tag is too long: at most {MAX_TAG_BYTES} characters between {{{{ and }}}} or {{% and %}}."
                ),
                line: Some(line_at(source.len() - after.len())),
            });
        }
        rest = &after[length..];
    }
    let (mut brackets, mut tags) = (0usize, 0usize);
    let bytes = source.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => brackets += 1,
            b')' | b']' | b'}' => brackets = brackets.saturating_sub(1),
            _ => {}
        }
        if b == b'{' && bytes.get(i + 1) == Some(&b'%') {
            let rest = source[i + 2..]
                .trim_start_matches(['-', ' ', '\t', '\r', '\n'])
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .next()
                .unwrap_or("");
            match rest {
                "if" | "for" | "block" | "macro" | "filter" | "raw" => tags += 1,
                r if r.starts_with("end") => tags = tags.saturating_sub(1),
                _ => {}
            }
        }
        if brackets > MAX_NESTING * 2 || tags > MAX_NESTING {
            return Err(Refusal {
                message: format!("The template nests too deeply (at most {MAX_NESTING} levels)."),
                line: Some(line_at(i)),
            });
        }
    }
    Ok(())
}

/// Checks a compiled set for what would be unsafe to render: `name` reading the
/// environment, a macro calling macros (unbounded recursion would crash the server), and
/// templates that include, extend or import themselves through any chain.
pub fn check(tera: &Tera, name: &str) -> Result<(), Refusal> {
    let template = tera
        .get_template(name)
        .map_err(|e| Refusal::new(error_chain(&e)))?;
    let ast = format!("{:?}{:?}", template.ast, template.macros);
    if ast.contains("name: \"get_env\"") {
        return Err(Refusal::new(
            "get_env() is not available in store templates: they cannot read the server's environment.",
        ));
    }
    for (macro_name, definition) in &template.macros {
        if format!("{:?}", definition.body).contains("MacroCall(") {
            return Err(Refusal::new(format!(
                "The macro {macro_name} calls a macro: store templates may define macros, \
                 but a macro may not call macros."
            )));
        }
    }
    let graph = graph(tera);
    if let Some(cycle) = find_cycle(&graph) {
        return Err(Refusal::new(format!(
            "Templates may not include, extend or import themselves: {}.",
            cycle.join(" → ")
        )));
    }
    Ok(())
}

/// Which templates each template pulls in when rendered (its parent, includes, imports).
pub fn graph(tera: &Tera) -> BTreeMap<String, BTreeSet<String>> {
    tera.templates
        .iter()
        .map(|(name, template)| {
            let mut edges = BTreeSet::new();
            if let Some(parent) = &template.parent {
                edges.insert(parent.clone());
            }
            for (file, _) in &template.imported_macro_files {
                edges.insert(file.clone());
            }
            collect_includes(&template.ast, &mut edges);
            for definition in template.macros.values() {
                collect_includes(&definition.body, &mut edges);
            }
            (name.clone(), edges)
        })
        .collect()
}

/// Every template `start` pulls in, directly or not (without `start` itself unless it
/// reaches itself).
pub fn reach(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph
        .get(start)
        .map(|e| e.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(next) = todo.pop() {
        if seen.insert(next.to_owned())
            && let Some(edges) = graph.get(next)
        {
            todo.extend(edges.iter().map(String::as_str));
        }
    }
    seen
}

fn collect_includes(nodes: &[Node], out: &mut BTreeSet<String>) {
    for node in nodes {
        match node {
            Node::Include(_, names, _) => out.extend(names.iter().cloned()),
            Node::MacroDefinition(_, definition, _) => collect_includes(&definition.body, out),
            Node::FilterSection(_, section, _) => collect_includes(&section.body, out),
            Node::Block(_, block, _) => collect_includes(&block.body, out),
            Node::Forloop(_, for_loop, _) => {
                collect_includes(&for_loop.body, out);
                if let Some(empty) = &for_loop.empty_body {
                    collect_includes(empty, out);
                }
            }
            Node::If(if_node, _) => {
                for (_, _, body) in &if_node.conditions {
                    collect_includes(body, out);
                }
                if let Some((_, body)) = &if_node.otherwise {
                    collect_includes(body, out);
                }
            }
            _ => {}
        }
    }
}

/// A chain of templates leading back to its start, if the graph has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        node: &'a str,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Open);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(graph, node, &mut marks, &mut path) {
            return Some(cycle);
        }
    }
    None
}

/// Runs `work` on a thread of its own with a [`STACK_BYTES`] stack. None when it panicked
/// (the template engine has a few `unwrap`s) or no thread could be started.
pub async fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("theme-sandbox".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(work());
        })
        .ok()?;
    rx.await.ok()
}

/// Renders `template` on this (sandbox) thread, stopping at `deadline` or when the page
/// outgrows [`MAX_OUTPUT_BYTES`].
pub fn render(
    tera: &Tera,
    template: &str,
    context: &tera::Context,
    deadline: Instant,
) -> Result<String, RenderFailure> {
    struct ClearDeadline;
    impl Drop for ClearDeadline {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(None));
        }
    }
    DEADLINE.with(|d| d.set(Some(deadline)));
    let _clear = ClearDeadline;
    let mut out = Bounded {
        buf: Vec::with_capacity(16 * 1024),
        deadline,
    };
    let rendered = tera.render_to(template, context, &mut out);
    if Instant::now() >= deadline {
        return Err(RenderFailure::TimedOut);
    }
    rendered.map_err(|e| RenderFailure::Error(error_chain(&e)))?;
    String::from_utf8(out.buf)
        .map_err(|_| RenderFailure::Error("the template produced invalid UTF-8".into()))
}

/// Output that refuses to grow past [`MAX_OUTPUT_BYTES`] or to be written after the
/// deadline: Tera stops at the first failed write.
struct Bounded {
    buf: Vec<u8>,
    deadline: Instant,
}

impl Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::other("the render time limit was reached"));
        }
        if self.buf.len() + data.len() > MAX_OUTPUT_BYTES {
            return Err(io::Error::other(format!(
                "the page is larger than {} MB",
                MAX_OUTPUT_BYTES / (1024 * 1024)
            )));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn past_deadline() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// `get_env` reads the server's environment (database URL, secret key): never in a store
/// template.
fn no_env(_: &HashMap<String, Value>) -> tera::Result<Value> {
    Err(tera::Error::msg(
        "get_env() is not available in store templates",
    ))
}

/// Tera's `range`, refusing more than [`MAX_RANGE`] numbers and stopping at the deadline.
fn bounded_range(args: &HashMap<String, Value>) -> tera::Result<Value> {
    if past_deadline() {
        return Err(tera::Error::msg("the render time limit was reached"));
    }
    let number = |key: &str, default: Option<usize>| -> tera::Result<usize> {
        match args.get(key) {
            Some(v) => tera::from_value::<usize>(v.clone()).map_err(|_| {
                tera::Error::msg(format!(
                    "Function `range` received {key}={v} but `{key}` can only be a number"
                ))
            }),
            None => default.ok_or_else(|| {
                tera::Error::msg(format!(
                    "Function `range` was called without a `{key}` argument"
                ))
            }),
        }
    };
    let start = number("start", Some(0))?;
    let step_by = number("step_by", Some(1))?;
    let end = number("end", None)?;
    if step_by == 0 {
        return Err(tera::Error::msg("Function `range` needs a step_by above 0"));
    }
    if start > end {
        return Err(tera::Error::msg(
            "Function `range` was called with a `start` argument greater than the `end` one",
        ));
    }
    if (end - start).div_ceil(step_by) > MAX_RANGE {
        return Err(tera::Error::msg(format!(
            "Function `range` may produce at most {MAX_RANGE} numbers in a store template"
        )));
    }
    Ok(Value::Array(
        (start..end).step_by(step_by).map(Value::from).collect(),
    ))
}

/// Tera's error with its causes (the top level only names the template).
pub fn error_chain(e: &tera::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The line of a parse error (`--> 3:9` in the parser's message).
fn syntax_error_line(message: &str) -> Option<usize> {
    let at = message.find("--> ")? + 4;
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(overrides: &[(&str, &str)]) -> Result<Tera, Refusal> {
        build(
            overrides
                .iter()
                .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let refusal = set(&[("store/a.html", "one\ntwo\n{% if %}\n")]).unwrap_err();
        assert_eq!(refusal.line, Some(3), "{}", refusal.message);
    }

    #[test]
    fn the_environment_and_huge_ranges_are_out_of_reach() {
        let tera = set(&[
            ("store/env.html", "{{ get_env(name=\"HOME\") }}"),
            (
                "store/range.html",
                "{% for i in range(end=100000) %}{% endfor %}",
            ),
            (
                "store/ok.html",
                "{% for i in range(end=3) %}{{ i }}{% endfor %}",
            ),
        ])
        .unwrap();
        let ctx = tera::Context::new();
        let later = Instant::now() + std::time::Duration::from_secs(5);
        assert!(matches!(
            render(&tera, "store/env.html", &ctx, later),
            Err(RenderFailure::Error(_))
        ));
        assert!(matches!(
            render(&tera, "store/range.html", &ctx, later),
            Err(RenderFailure::Error(_))
        ));
        assert_eq!(render(&tera, "store/ok.html", &ctx, later).unwrap(), "012");
        assert!(check(&tera, "store/env.html").is_err());
    }

    #[test]
    fn long_renders_stop_at_the_deadline() {
        let tera = set(&[(
            "store/slow.html",
            "{% for i in range(end=10000) %}{% for j in range(end=10000) %}x{% endfor %}{% endfor %}",
        )])
        .unwrap();
        let started = Instant::now();
        let deadline = started + std::time::Duration::from_millis(50);
        let result = render(&tera, "store/slow.html", &tera::Context::new(), deadline);
        assert!(matches!(result, Err(RenderFailure::TimedOut)), "{result:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn self_inclusion_and_recursive_macros_are_refused() {
        let tera = set(&[
            ("store/a.html", "{% include \"store/b.html\" %}"),
            (
                "store/b.html",
                "{% if x %}{% include \"store/a.html\" %}{% endif %}",
            ),
        ])
        .unwrap();
        assert!(check(&tera, "store/a.html").is_err());
        let tera = set(&[(
            "store/m.html",
            "{% macro m() %}{{ self::m() }}{% endmacro m %}{{ self::m() }}",
        )])
        .unwrap();
        assert!(check(&tera, "store/m.html").is_err());
    }

    /// Sources built to exhaust the parser's or renderer's stack are refused before
    /// parsing, or are harmless within the limits on a sandbox thread (an overflow would
    /// abort the test process).
    #[test]
    fn pathological_expressions_cannot_overflow_the_stack() {
        let within = |unit: &str| unit.repeat((MAX_TAG_BYTES - 8) / unit.len());
        let cases = [
            format!("{{{{ {} x }}}}", within("not ")),
            format!("{{{{ x{} }}}}", within(" | upper")),
            format!("{{{{ 1{} }}}}", within("+1")),
            format!("{{{{ x{} }}}}", within("~x")),
            format!("{{{{ x{} }}}}", within(" and x")),
            format!("{{{{ {}1 }}}}", within("-")),
            format!("{{% if x %}}{{{{ 1{} }}}}{{% endif %}}", within("*1")),
            format!("{{{{ 1{} }}}}", "+1".repeat(20_000)),
        ];
        for source in cases {
            let handle = std::thread::Builder::new()
                .stack_size(STACK_BYTES)
                .spawn(move || {
                    if precheck(&source).is_err() {
                        return;
                    }
                    if let Ok(tera) = build(vec![("store/p.html".into(), source)]) {
                        let mut ctx = tera::Context::new();
                        ctx.insert("x", &true);
                        let later = Instant::now() + std::time::Duration::from_secs(2);
                        let _ = render(&tera, "store/p.html", &ctx, later);
                    }
                })
                .expect("a thread");
            handle.join().expect("no crash");
        }
        assert!(precheck(&format!("{{{{ 1{} }}}}", "+1".repeat(20_000))).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        assert!(precheck(&"(".repeat(10_000)).is_err());
        assert!(precheck(&"{% if x %}".repeat(100)).is_err());
        assert!(precheck("{% if a %}{% for b in c %}{{ b }}{% endfor %}{% endif %}").is_ok());
    }
}
