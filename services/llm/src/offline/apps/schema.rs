//! Reading a prompt the offline provider has no app for: what it keeps a list of (the
//! entity: "a recipe manager" keeps recipes) and which fields each one has ("with
//! ingredients and cooking time"), each with a kind that decides its input and display.

use super::nouns::{capitalized, is_plural, plural, singular};
use crate::offline::text::words;

/// How a field is entered and shown (the app's `FieldKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One line of text.
    Text,
    /// Several lines (notes, instructions).
    LongText,
    /// One entry per line, shown as a bulleted list (ingredients, tags).
    List,
    /// A number.
    Number,
    /// A length of time in minutes.
    Duration,
    /// A calendar date.
    Date,
    /// A time of day.
    Time,
    /// An email address.
    Email,
    /// A link.
    Url,
    /// Yes or no.
    Checkbox,
}

impl Kind {
    /// The name the app's `FieldKind` type uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::LongText => "longtext",
            Kind::List => "list",
            Kind::Number => "number",
            Kind::Duration => "duration",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Email => "email",
            Kind::Url => "url",
            Kind::Checkbox => "checkbox",
        }
    }
}

/// One field of the entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// camelCase key (`cookingTime`).
    pub key: String,
    /// Sentence-case label (`Cooking time`).
    pub label: String,
    /// How it is entered and shown.
    pub kind: Kind,
}

/// What the app keeps a list of, and the fields of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    /// Singular, lowercase (`recipe`).
    pub one: String,
    /// Plural, lowercase (`recipes`).
    pub many: String,
    /// The fields; the first names the record.
    pub fields: Vec<Field>,
}

/// Whether `word` names the kind of tool rather than what it holds ("recipe *manager*"):
/// one of [`GENERIC_TOOLS`] or [`NAMING_TOOLS`].
fn is_tool_word(word: &str) -> bool {
    GENERIC_TOOLS.contains(&word) || NAMING_TOOLS.contains(&word)
}

/// Tool words that can also name the thing kept ("book" in "book tracker"), besides
/// [`GENERIC_TOOLS`].
const NAMING_TOOLS: &[&str] = &[
    "list",
    "log",
    "catalog",
    "catalogue",
    "collection",
    "library",
    "inventory",
    "book",
    "diary",
    "registry",
    "archive",
    "box",
    "board",
    "watchlist",
    "wishlist",
    "journal",
    "manager's",
];

/// Tool words that never name the thing kept ("manager"), unlike "book" or "log" in
/// "book tracker", "log viewer".
const GENERIC_TOOLS: &[&str] = &[
    "manager",
    "tracker",
    "planner",
    "organizer",
    "organiser",
    "logger",
    "keeper",
    "finder",
    "app",
    "application",
    "tool",
    "website",
    "site",
    "system",
    "dashboard",
    "hub",
    "portal",
    "crm",
    "viewer",
    "tracking",
    "management",
    "database",
    "directory",
];

/// Verbs after which the entity follows ("an app to *track* my workouts").
const LIST_VERBS: &[&str] = &[
    "track",
    "manage",
    "organize",
    "organise",
    "store",
    "save",
    "log",
    "record",
    "catalog",
    "catalogue",
    "collect",
    "list",
    "plan",
    "keep",
    "browse",
    "rate",
    "review",
    "follow",
];

/// Words that end a noun phrase.
const STOPS: &[&str] = &[
    "with",
    "and",
    "that",
    "which",
    "in",
    "on",
    "for",
    "by",
    "from",
    "including",
    "using",
    "so",
    "to",
    "where",
    "plus",
    "each",
    "per",
    "or",
    "where",
    "having",
    "containing",
    "i",
    "we",
    "you",
    "it",
    "they",
    "like",
    "as",
    "called",
    "named",
    "titled",
    "into",
    "at",
];

/// Words skipped before an entity noun ("a *personal* book tracker").
const MODIFIERS: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "your",
    "their",
    "simple",
    "basic",
    "small",
    "little",
    "personal",
    "new",
    "nice",
    "cool",
    "web",
    "online",
    "mobile",
    "quick",
    "modern",
    "minimal",
    "care",
    "management",
    "tracking",
    "planning",
    "inventory",
    "collection",
    "of",
    "all",
    "some",
    "create",
    "build",
    "make",
    "me",
    "us",
    "app",
    "application",
    "tool",
    "full",
    "fancy",
    "beautiful",
    "clean",
    "cute",
    "tiny",
    "react",
    "typescript",
    "tailwind",
];

/// Compounds whose entity is not the noun itself.
const SPECIAL: &[(&str, &str, &str)] = &[
    ("address", "book", "contact"),
    ("phone", "book", "contact"),
    ("reading", "list", "book"),
    ("finance", "tracker", "transaction"),
    ("money", "tracker", "transaction"),
    ("budget", "tracker", "expense"),
    ("spending", "tracker", "expense"),
    ("movie", "watchlist", "movie"),
    ("gift", "wishlist", "gift"),
    ("shopping", "list", "item"),
    ("grocery", "list", "item"),
    ("packing", "list", "item"),
];

/// Phrases that name a feature of the app, not a field of its records.
const FEATURE_WORDS: &[&str] = &[
    "mode",
    "theme",
    "dark",
    "light",
    "search",
    "searching",
    "filter",
    "filters",
    "filtering",
    "sort",
    "sorting",
    "storage",
    "localstorage",
    "persistence",
    "persist",
    "design",
    "ui",
    "layout",
    "style",
    "styling",
    "styles",
    "animation",
    "animations",
    "login",
    "auth",
    "authentication",
    "notifications",
    "pagination",
    "export",
    "import",
    "support",
    "ability",
    "option",
    "options",
    "tailwind",
    "react",
    "typescript",
    "responsive",
    "sidebar",
    "navbar",
    "header",
    "footer",
    "page",
    "pages",
    "button",
    "buttons",
    "chart",
    "charts",
    "graph",
    "graphs",
    "dashboard",
    "stats",
    "statistics",
    "drag",
    "drop",
    "feature",
    "features",
    "app",
    "edit",
    "editing",
    "delete",
    "deleting",
    "add",
    "adding",
    "crud",
    "way",
    "ways",
];

/// Leading words dropped from a field phrase.
const DETERMINERS: &[&str] = &[
    "a", "an", "the", "its", "their", "his", "her", "my", "our", "your", "each", "every", "some",
    "optional", "any", "and", "also", "plus", "own", "of",
];

/// Entities whose first field is a title rather than a name.
const TITLED: &[&str] = &[
    "book", "movie", "film", "song", "album", "article", "post", "episode", "show", "podcast",
    "course", "task", "video", "game", "paper", "story", "poem", "chapter", "lesson", "project",
    "goal", "idea", "bookmark", "talk", "note", "entry", "track", "series",
];

/// Fields for common entities when the prompt names none.
const DEFAULT_FIELDS: &[(&str, &[&str])] = &[
    ("recipe", &["ingredients", "cooking time", "instructions"]),
    ("book", &["author", "rating", "finished"]),
    ("movie", &["director", "release date", "rating", "watched"]),
    ("contact", &["email", "phone", "notes"]),
    ("expense", &["amount", "category", "date"]),
    ("transaction", &["amount", "category", "date"]),
    ("workout", &["date", "duration", "notes"]),
    ("plant", &["species", "last watered", "notes"]),
    ("event", &["date", "location", "notes"]),
    ("habit", &["frequency", "done"]),
    ("bookmark", &["url", "tags"]),
    ("item", &["quantity", "notes"]),
];

/// The schema `prompt` asks for.
pub fn read(prompt: &str) -> Schema {
    let one = entity(prompt).unwrap_or_else(|| "item".into());
    let mut phrases = field_phrases(prompt);
    if phrases.is_empty()
        && let Some((_, defaults)) = DEFAULT_FIELDS.iter().find(|(entity, _)| *entity == one)
    {
        phrases = defaults.iter().map(|p| (*p).to_owned()).collect();
    }
    let mut fields: Vec<Field> = Vec::new();
    for phrase in phrases {
        let field = field(&phrase);
        if !fields.iter().any(|f| f.key == field.key) && fields.len() < 8 {
            fields.push(field);
        }
    }
    let primary = if TITLED.contains(&one.as_str()) {
        "title"
    } else {
        "name"
    };
    if !fields.iter().any(|f| f.key == "name" || f.key == "title") {
        fields.insert(0, field(primary));
    } else if let Some(at) = fields
        .iter()
        .position(|f| f.key == "name" || f.key == "title")
    {
        let named = fields.remove(at);
        fields.insert(0, named);
    }
    if fields.len() == 1 {
        fields.push(field("notes"));
    }
    Schema {
        many: plural(&one),
        one,
        fields,
    }
}

/// The singular noun the app keeps a list of, if the prompt names one.
fn entity(prompt: &str) -> Option<String> {
    let words = words(&first_sentence(prompt));
    let good = |word: &str| {
        word.len() > 2
            && word.chars().all(char::is_alphabetic)
            && !MODIFIERS.contains(&word)
            && !STOPS.contains(&word)
            && !is_tool_word(word)
            && !FEATURE_WORDS.contains(&word)
    };
    // "an app to track my workouts", "keep track of books".
    for (at, word) in words.iter().enumerate() {
        if LIST_VERBS.contains(&word.as_str()) {
            let phrase: Vec<&String> = words[at + 1..]
                .iter()
                .skip_while(|w| {
                    matches!(
                        w.as_str(),
                        "track" | "of" | "my" | "our" | "your" | "all" | "the" | "a" | "an"
                    )
                })
                .take_while(|w| !STOPS.contains(&w.as_str()))
                .collect();
            let head = phrase
                .iter()
                .find(|w| is_plural(w) && good(w))
                .or_else(|| phrase.iter().rev().find(|w| good(w)));
            if let Some(head) = head {
                return Some(singular(head));
            }
        }
    }
    // "a list of movies", "a collection of vinyl records".
    for at in 1..words.len() {
        if words[at] == "of" && is_tool_word(&words[at - 1]) {
            let head = words[at + 1..]
                .iter()
                .take_while(|w| !STOPS.contains(&w.as_str()))
                .filter(|w| good(w))
                .find(|w| is_plural(w));
            if let Some(head) = head {
                return Some(singular(head));
            }
        }
    }
    // "a recipe manager", "a plant care app", "an address book", "a book tracker": the
    // noun before the last tool word of a run ("book" is one in "recipe book", the thing
    // itself in "book tracker").
    for (at, word) in words.iter().enumerate() {
        let last_of_run = words.get(at + 1).is_none_or(|next| !is_tool_word(next));
        if at == 0 || !is_tool_word(word) || !last_of_run {
            continue;
        }
        let before = &words[at - 1];
        if let Some((_, _, entity)) = SPECIAL
            .iter()
            .find(|(first, tool, _)| first == before && tool == word)
        {
            return Some((*entity).into());
        }
        let noun = words[..at].iter().rev().take(3).find(|w| {
            w.len() > 2
                && w.chars().all(char::is_alphabetic)
                && !MODIFIERS.contains(&w.as_str())
                && !STOPS.contains(&w.as_str())
                && !GENERIC_TOOLS.contains(&w.as_str())
                && !FEATURE_WORDS.contains(&w.as_str())
        });
        if let Some(noun) = noun {
            return Some(singular(noun));
        }
    }
    None
}

/// The prompt up to its first sentence end (where later sentences add other wishes).
fn first_sentence(prompt: &str) -> String {
    prompt
        .split(['.', '!', '?', '\n', ';'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The field phrases after "with", "that has", "including", ...: split on commas and
/// "and", features ("dark mode", "search") left out.
fn field_phrases(prompt: &str) -> Vec<String> {
    let text = first_sentence(prompt).to_lowercase();
    let markers = [
        " with ",
        " that has ",
        " that have ",
        " having ",
        " including ",
        " containing ",
        " fields ",
        " fields: ",
        " storing ",
        " has ",
    ];
    let Some(start) = markers
        .iter()
        .filter_map(|m| text.find(m).map(|at| at + m.len()))
        .min()
    else {
        return Vec::new();
    };
    let clause = &text[start..];
    let clause = clause.split(['(', ':']).next().unwrap_or_default();
    let mut phrases = Vec::new();
    for piece in clause.split(',') {
        for part in piece.split(" and ").flat_map(|p| p.split(" & ")) {
            let words: Vec<String> = words(part);
            let words: Vec<&str> = words
                .iter()
                .map(String::as_str)
                .filter(|w| w.len() > 1)
                .skip_while(|w| DETERMINERS.contains(w))
                .take_while(|w| {
                    !matches!(
                        *w,
                        "for" | "per" | "so" | "that" | "which" | "where" | "to" | "on" | "in"
                    )
                })
                .collect();
            if words.is_empty()
                || words.len() > 3
                || words.iter().any(|w| FEATURE_WORDS.contains(w))
                || words.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()))
            {
                continue;
            }
            phrases.push(words.join(" "));
        }
    }
    phrases
}

/// A field from its phrase ("cooking time" -> `cookingTime`, `Cooking time`, duration).
fn field(phrase: &str) -> Field {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    let last = words.last().copied().unwrap_or("notes");
    let first = words.first().copied().unwrap_or_default();
    let kind = kind_of(first, last, words.len());
    let key = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                (*w).to_owned()
            } else {
                capitalized(w)
            }
        })
        .collect::<String>();
    let key = match key.as_str() {
        "id" | "values" | "createdAt" => format!("{key}Field"),
        _ => key,
    };
    Field {
        key,
        label: capitalized(&words.join(" ")),
        kind,
    }
}

fn kind_of(first: &str, last: &str, count: usize) -> Kind {
    const DURATION_BEFORE_TIME: &[&str] = &[
        "cooking",
        "cook",
        "prep",
        "preparation",
        "baking",
        "bake",
        "reading",
        "travel",
        "run",
        "running",
        "total",
        "watch",
        "play",
        "playing",
        "study",
        "brewing",
        "workout",
        "commute",
        "rest",
        "screen",
        "wait",
        "waiting",
    ];
    let one_of = |list: &[&str], word: &str| list.contains(&word);
    if last == "time" && count > 1 && DURATION_BEFORE_TIME.contains(&first) {
        return Kind::Duration;
    }
    if one_of(
        &["duration", "length", "runtime", "minutes", "mins", "hours"],
        last,
    ) {
        return Kind::Duration;
    }
    if one_of(&["time", "hour", "starts", "ends"], last) {
        return Kind::Time;
    }
    if one_of(
        &[
            "date",
            "deadline",
            "due",
            "birthday",
            "anniversary",
            "day",
            "published",
            "expiry",
            "expiration",
            "watered",
            "released",
            "when",
        ],
        last,
    ) {
        return Kind::Date;
    }
    if one_of(
        &[
            "price",
            "cost",
            "amount",
            "budget",
            "quantity",
            "qty",
            "count",
            "servings",
            "calories",
            "rating",
            "score",
            "age",
            "weight",
            "height",
            "pages",
            "year",
            "number",
            "total",
            "stock",
            "size",
            "distance",
            "reps",
            "sets",
            "salary",
            "balance",
            "level",
            "stars",
            "portions",
            "capacity",
            "volume",
            "percent",
            "percentage",
            "priority",
        ],
        last,
    ) {
        return Kind::Number;
    }
    if one_of(&["email", "mail"], last) {
        return Kind::Email;
    }
    if one_of(
        &[
            "url", "link", "website", "homepage", "image", "photo", "picture",
        ],
        last,
    ) {
        return Kind::Url;
    }
    if one_of(
        &[
            "done",
            "completed",
            "complete",
            "finished",
            "favorite",
            "favourite",
            "watched",
            "paid",
            "available",
            "active",
            "visited",
            "owned",
            "vegetarian",
            "vegan",
            "archived",
            "pinned",
            "starred",
            "read",
        ],
        last,
    ) {
        return Kind::Checkbox;
    }
    if one_of(
        &[
            "notes",
            "note",
            "description",
            "instructions",
            "steps",
            "directions",
            "comments",
            "comment",
            "summary",
            "review",
            "bio",
            "details",
            "body",
            "content",
            "text",
            "method",
            "thoughts",
            "remarks",
            "story",
            "synopsis",
            "plot",
            "address",
        ],
        last,
    ) {
        return Kind::LongText;
    }
    if is_plural(last) {
        return Kind::List;
    }
    Kind::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(prompt: &str) -> (String, Vec<(String, Kind)>) {
        let schema = read(prompt);
        let fields = schema.fields.into_iter().map(|f| (f.key, f.kind)).collect();
        (schema.one, fields)
    }

    #[test]
    fn reads_the_entity_and_its_fields() {
        assert_eq!(
            summary("a recipe manager with ingredients and cooking time"),
            (
                "recipe".into(),
                vec![
                    ("name".into(), Kind::Text),
                    ("ingredients".into(), Kind::List),
                    ("cookingTime".into(), Kind::Duration),
                ]
            )
        );
        let (one, fields) =
            summary("Build an app to track my workouts with date, duration, calories and notes");
        assert_eq!(one, "workout");
        assert_eq!(
            fields.iter().map(|(_, kind)| *kind).collect::<Vec<_>>(),
            [
                Kind::Text,
                Kind::Date,
                Kind::Duration,
                Kind::Number,
                Kind::LongText
            ]
        );
        let (one, fields) = summary("A personal book tracker with author, rating and a read flag");
        assert_eq!(one, "book");
        assert_eq!(fields[0].0, "title");
        assert_eq!(fields[1], ("author".into(), Kind::Text));
        assert_eq!(fields[2], ("rating".into(), Kind::Number));
        assert_eq!(summary("a list of movies").0, "movie");
        assert_eq!(summary("an address book with email and phone").0, "contact");
        assert_eq!(summary("a plant care app").0, "plant");
    }

    #[test]
    fn features_are_not_fields_and_defaults_fill_in() {
        let (one, fields) = summary("Create a recipe manager with dark mode and search");
        assert_eq!(one, "recipe");
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["name", "ingredients", "cookingTime", "instructions"]);
        let (one, fields) = summary("mastodon client");
        assert_eq!(one, "item");
        assert!(fields.len() >= 2);
        let (_, fields) = summary("a contact list with name, email, website and birthday");
        assert_eq!(
            fields,
            [
                ("name".into(), Kind::Text),
                ("email".into(), Kind::Email),
                ("website".into(), Kind::Url),
                ("birthday".into(), Kind::Date),
            ]
        );
    }
}
