//! Prompt text handling for the offline provider: word splitting for keyword matching,
//! titles derived from prompts, and HTML escaping (prompts are untrusted).

/// `text` with `& < > " '` escaped, safe in HTML text and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The prompt's words, lowercased, split on anything that is not a letter or digit
/// ("To-Do app!" -> `["to", "do", "app"]`).
pub fn words(prompt: &str) -> Vec<String> {
    prompt
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Position of the first occurrence of `phrase` (a sequence of words) in `words`.
pub fn find_phrase(words: &[String], phrase: &[&str]) -> Option<usize> {
    if phrase.is_empty() || phrase.len() > words.len() {
        return None;
    }
    (0..=words.len() - phrase.len()).find(|&start| {
        phrase
            .iter()
            .enumerate()
            .all(|(offset, word)| words[start + offset] == *word)
    })
}

/// Leading words that say "please build" rather than what to build.
const FILLER: &[&str] = &[
    "create", "build", "make", "generate", "write", "design", "develop", "code", "give", "me", "i",
    "want", "need", "please", "a", "an", "the", "simple", "basic", "small", "new", "quick", "us",
    "can", "you", "could", "would", "like", "to", "my", "our", "nice", "cool",
];

/// Trailing words that name the medium rather than the app.
const MEDIUM: &[&str] = &[
    "app",
    "application",
    "website",
    "site",
    "web",
    "webapp",
    "tool",
];

/// Words kept lowercase inside a title.
const SMALL: &[&str] = &[
    "a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with",
];

/// A short title for the thing `prompt` asks for ("Create a recipe manager app with tags"
/// -> "Recipe Manager"), or `fallback` when nothing is left. At most eight words and 60
/// characters; not escaped (callers escape where it lands).
pub fn title_from(prompt: &str, fallback: &str) -> String {
    let first_line = prompt.lines().next().unwrap_or_default();
    let clause = first_line
        .split([',', '.', ';', ':', '!', '?', '(', '\n'])
        .next()
        .unwrap_or_default();
    let raw: Vec<&str> = clause.split_whitespace().collect();
    let bare = |word: &str| -> String {
        word.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let mut start = 0;
    while start < raw.len() && FILLER.contains(&bare(raw[start]).as_str()) {
        start += 1;
    }
    let mut end = raw.len();
    for (index, word) in raw.iter().enumerate().skip(start) {
        if ["with", "that", "which", "where", "using", "so"].contains(&bare(word).as_str()) {
            end = index;
            break;
        }
    }
    while end > start && MEDIUM.contains(&bare(raw[end - 1]).as_str()) {
        end -= 1;
    }
    let mut title = String::new();
    for (index, word) in raw[start..end].iter().take(8).enumerate() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric() || "-'&+#".contains(*c))
            .collect();
        if word.is_empty() {
            continue;
        }
        let lower = word.to_lowercase();
        let shaped = if index > 0 && SMALL.contains(&lower.as_str()) {
            lower
        } else {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        };
        if title.chars().count() + shaped.chars().count() + 1 > 60 {
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(&shaped);
    }
    if title.is_empty() {
        fallback.into()
    } else {
        title
    }
}

/// A name the prompt gives the app: after "called", "named" or "titled" ("a landing page
/// for my bakery called Sweet Crumbs" -> "Sweet Crumbs"), or in double quotes. Capitalized
/// words are taken up to the first word that is not part of the name ("with", "that",
/// punctuation); an all-lowercase name gets title case. At most eight words and 60
/// characters; not escaped.
pub fn name_in(prompt: &str) -> Option<String> {
    name_span(prompt).map(|(name, _)| name)
}

/// `prompt` without the name [`name_in`] finds (and its "called"), so words in a name
/// ("an app called Note Keeper") do not decide what kind of app it is.
pub fn without_name(prompt: &str) -> String {
    match name_span(prompt) {
        Some((_, (start, end))) => format!("{} {}", &prompt[..start], &prompt[end..]),
        None => prompt.to_owned(),
    }
}

/// The name and the byte range it (with its keyword) covers.
fn name_span(prompt: &str) -> Option<(String, (usize, usize))> {
    const KEYWORDS: &[&str] = &["called", "named", "titled"];
    let lower = prompt.to_lowercase();
    if lower.len() != prompt.len() {
        // Lowercasing changed byte offsets (rare scripts): only quotes are looked for.
        return quoted(prompt, 0).map(|(name, end)| (name, (0, end)));
    }
    let keyword = KEYWORDS
        .iter()
        .filter_map(|k| {
            lower.match_indices(k).find(|(at, _)| {
                let before = lower[..*at].chars().next_back();
                let after = lower[at + k.len()..].chars().next();
                before.is_none_or(char::is_whitespace) && after.is_some_and(char::is_whitespace)
            })
        })
        .map(|(at, k)| (at, at + k.len()))
        .min();
    if let Some((start, after)) = keyword {
        let rest_at = after + (prompt[after..].len() - prompt[after..].trim_start().len());
        if let Some((name, end)) = quoted(prompt, rest_at)
            .filter(|_| prompt[rest_at..].starts_with(['"', '\u{201c}', '\'']))
        {
            return Some((name, (start, end)));
        }
        if let Some((name, end)) = name_words(prompt, rest_at) {
            return Some((name, (start, end)));
        }
    }
    quoted(prompt, 0).map(|(name, end)| {
        let start = prompt[..end].rfind(['"', '\u{201c}']).unwrap_or(0);
        (name, (start, end))
    })
}

/// The text between the first pair of double (or curly) quotes at or after `from` (a
/// single quote too when `from` is right at it), if short enough to be a name; and the
/// byte offset after the closing quote.
fn quoted(prompt: &str, from: usize) -> Option<(String, usize)> {
    let text = &prompt[from..];
    // An opening quote starts the text or follows a space (not `alert("x")`).
    let (open_at, open) = text.char_indices().find(|(at, c)| {
        let starts_word = *at == 0 || text[..*at].ends_with(char::is_whitespace);
        starts_word && (matches!(c, '"' | '\u{201c}') || (*at == 0 && *c == '\''))
    })?;
    let close = match open {
        '\u{201c}' => '\u{201d}',
        other => other,
    };
    let inner_start = open_at + open.len_utf8();
    let inner_len = text[inner_start..].find(close)?;
    let inner = text[inner_start..inner_start + inner_len].trim();
    let words = inner.split_whitespace().count();
    if inner.is_empty() || words > 8 || inner.chars().count() > 60 {
        return None;
    }
    Some((
        inner.to_owned(),
        from + inner_start + inner_len + close.len_utf8(),
    ))
}

/// The name's words from `from`: capitalized words (and "and", "&", "of", "the" between
/// them), or up to four lowercase words, stopping at punctuation or a clause word.
fn name_words(prompt: &str, from: usize) -> Option<(String, usize)> {
    const STOP: &[&str] = &[
        "with",
        "that",
        "which",
        "where",
        "for",
        "to",
        "using",
        "featuring",
        "so",
        "because",
        "in",
        "on",
        "where",
        "who",
        "it",
        "please",
        "and",
        "or",
        "but",
        "as",
        "from",
    ];
    const JOINERS: &[&str] = &["and", "&", "of", "the", "de", "la", "le", "du"];
    let mut taken: Vec<&str> = Vec::new();
    let mut end = from;
    let mut offset = from;
    let tokens: Vec<(usize, &str)> = prompt[from..]
        .split_whitespace()
        .map(|token| {
            let at = prompt[offset..].find(token).map_or(offset, |i| offset + i);
            offset = at + token.len();
            (at, token)
        })
        .collect();
    let capitalized = |t: &str| t.chars().next().is_some_and(char::is_uppercase);
    let proper = tokens.first().is_some_and(|(_, t)| capitalized(t));
    for (index, (at, token)) in tokens.iter().enumerate() {
        let word = token.trim_end_matches([',', '.', ';', ':', '!', '?', ')']);
        let cut = word.len() < token.len();
        let lower = word.to_lowercase();
        if word.is_empty() || taken.len() == 8 {
            break;
        }
        if proper {
            let joins = JOINERS.contains(&lower.as_str())
                && !cut
                && tokens
                    .get(index + 1)
                    .is_some_and(|(_, next)| capitalized(next));
            if !(capitalized(word) || (index > 0 && joins)) {
                break;
            }
        } else if STOP.contains(&lower.as_str()) || taken.len() == 4 {
            break;
        }
        taken.push(word);
        end = at + word.len();
        if cut {
            break;
        }
    }
    let name = taken.join(" ");
    if name.is_empty() || name.chars().count() > 60 {
        return None;
    }
    let name = if proper {
        name
    } else {
        taken
            .iter()
            .map(|w| {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some((name, end))
}

/// `text` trimmed to at most `max` characters (with `…` when cut), whitespace collapsed.
pub fn shorten(text: &str, max: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let mut short: String = collapsed.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_specials() {
        assert_eq!(
            html_escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn titles_name_the_thing() {
        assert_eq!(
            title_from("Create a recipe manager app with tags", "X"),
            "Recipe Manager"
        );
        assert_eq!(
            title_from("build me a Budget tracker.", "X"),
            "Budget Tracker"
        );
        assert_eq!(title_from("Make an app", "My App"), "My App");
        assert_eq!(title_from("", "My App"), "My App");
        assert_eq!(title_from("a game of life", "X"), "Game of Life");
        let long = title_from(&"word ".repeat(50), "X");
        assert!(long.split(' ').count() <= 8 && long.len() <= 60, "{long}");
    }

    #[test]
    fn names_given_in_the_prompt() {
        for (prompt, name) in [
            (
                "a landing page for my bakery called Sweet Crumbs",
                Some("Sweet Crumbs"),
            ),
            (
                "Create a todo app called Daily Wins with dark mode",
                Some("Daily Wins"),
            ),
            ("an app named FitTrack, for workouts", Some("FitTrack")),
            ("a shop called Salt and Pepper", Some("Salt and Pepper")),
            (
                "a recipe manager named chef's corner",
                Some("Chef's Corner"),
            ),
            (
                "a notes app titled \"Brain Dump\" please",
                Some("Brain Dump"),
            ),
            ("a blog “Quiet Hours” with posts", Some("Quiet Hours")),
            ("Create a todo app", None),
            ("a so-called app", None),
        ] {
            assert_eq!(name_in(prompt).as_deref(), name, "{prompt}");
        }
        assert_eq!(
            without_name("an app called Note Keeper for recipes")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["an", "app", "for", "recipes"]
        );
    }

    #[test]
    fn finds_phrases() {
        let w = words("Create a To-Do list");
        assert_eq!(find_phrase(&w, &["to", "do"]), Some(2));
        assert_eq!(find_phrase(&w, &["todo"]), None);
    }

    #[test]
    fn shortens() {
        assert_eq!(shorten("  a   b ", 10), "a b");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
