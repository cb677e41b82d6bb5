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
