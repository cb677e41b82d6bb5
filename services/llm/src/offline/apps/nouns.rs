//! English noun handling for the generic app: singular and plural forms, so "recipes" and
//! "recipe" name the same thing and labels read right ("1 recipe", "2 recipes").

/// Irregular plurals, as (singular, plural).
const IRREGULAR: &[(&str, &str)] = &[
    ("person", "people"),
    ("child", "children"),
    ("man", "men"),
    ("woman", "women"),
    ("mouse", "mice"),
    ("goose", "geese"),
    ("tooth", "teeth"),
    ("foot", "feet"),
    ("quiz", "quizzes"),
    ("series", "series"),
    ("species", "species"),
    ("news", "news"),
    ("knife", "knives"),
    ("wife", "wives"),
    ("life", "lives"),
    ("leaf", "leaves"),
    ("shelf", "shelves"),
    ("half", "halves"),
    ("wolf", "wolves"),
    ("loaf", "loaves"),
    ("scarf", "scarves"),
    ("potato", "potatoes"),
    ("tomato", "tomatoes"),
    ("hero", "heroes"),
    ("echo", "echoes"),
    ("cactus", "cacti"),
    ("analysis", "analyses"),
    ("crisis", "crises"),
    ("thesis", "theses"),
];

/// Singulars ending in `ie` (their plural ends in `ies` but is not `-y`).
const IE_WORDS: &[&str] = &[
    "movie", "cookie", "zombie", "selfie", "pie", "tie", "brownie", "smoothie", "calorie",
    "rookie", "genie", "hoodie", "lie", "goalie", "auntie", "veggie", "freebie", "birdie", "indie",
    "newbie", "roadie", "sortie", "prairie", "eerie",
];

/// Singulars ending in `se` whose plural ends in `uses` or `ses` (so only `s` is dropped).
const SE_WORDS: &[&str] = &[
    "house",
    "cause",
    "pause",
    "blouse",
    "clause",
    "use",
    "excuse",
    "spouse",
    "course",
    "horse",
    "nurse",
    "case",
    "expense",
    "purchase",
    "vase",
    "base",
    "phase",
    "release",
    "purpose",
    "database",
    "response",
    "license",
    "licence",
    "verse",
    "rose",
    "nose",
    "hose",
    "dose",
    "pose",
    "franchise",
    "exercise",
    "enterprise",
    "cheese",
    "mouse",
    "reverse",
    "universe",
    "promise",
    "premise",
    "warehouse",
    "greenhouse",
    "lighthouse",
    "glimpse",
    "lapse",
    "eclipse",
    "ellipse",
    "collapse",
    "impulse",
    "pulse",
    "sense",
    "tense",
    "defense",
    "offense",
    "fuse",
    "muse",
    "ruse",
    "browse",
    "synapse",
    "corpse",
    "dance",
    "sentence",
];

/// The singular of `word` (lowercase): "recipes" -> "recipe", "categories" -> "category";
/// a word that is not plural comes back as it is.
pub fn singular(word: &str) -> String {
    if let Some((one, _)) = IRREGULAR.iter().find(|(_, many)| *many == word) {
        return (*one).into();
    }
    if IRREGULAR.iter().any(|(one, _)| *one == word) {
        return word.into();
    }
    if let Some(stem) = word.strip_suffix("ies") {
        let ie = format!("{stem}ie");
        return if IE_WORDS.contains(&ie.as_str()) {
            ie
        } else {
            format!("{stem}y")
        };
    }
    if let Some(stem) = word.strip_suffix("es") {
        if SE_WORDS.contains(&format!("{stem}e").as_str()) {
            return format!("{stem}e");
        }
        if stem.ends_with("ss")
            || stem.ends_with('x')
            || stem.ends_with("ch")
            || stem.ends_with("sh")
            || stem.ends_with('z')
            || stem.ends_with("us")
        {
            return stem.into();
        }
    }
    if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        return word[..word.len() - 1].into();
    }
    word.into()
}

/// The plural of `word` (a lowercase singular): "recipe" -> "recipes", "box" -> "boxes".
pub fn plural(word: &str) -> String {
    if let Some((_, many)) = IRREGULAR.iter().find(|(one, _)| *one == word) {
        return (*many).into();
    }
    let vowel_before = |stem: &str| stem.ends_with(['a', 'e', 'i', 'o', 'u']);
    if let Some(stem) = word.strip_suffix('y')
        && !stem.is_empty()
        && !vowel_before(stem)
    {
        return format!("{stem}ies");
    }
    if word.ends_with('s')
        || word.ends_with('x')
        || word.ends_with('z')
        || word.ends_with("ch")
        || word.ends_with("sh")
    {
        return format!("{word}es");
    }
    format!("{word}s")
}

/// Whether `word` looks like a plural (and is not the same in both forms).
pub fn is_plural(word: &str) -> bool {
    singular(word) != word
}

/// `word` with its first letter upper-cased.
pub fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_and_plural_round_trip() {
        for (one, many) in [
            ("recipe", "recipes"),
            ("category", "categories"),
            ("movie", "movies"),
            ("box", "boxes"),
            ("dish", "dishes"),
            ("match", "matches"),
            ("address", "addresses"),
            ("course", "courses"),
            ("expense", "expenses"),
            ("bus", "buses"),
            ("person", "people"),
            ("knife", "knives"),
            ("day", "days"),
            ("plant", "plants"),
            ("quiz", "quizzes"),
            ("workout", "workouts"),
            ("house", "houses"),
            ("series", "series"),
        ] {
            assert_eq!(singular(many), one, "{many}");
            assert_eq!(plural(one), many, "{one}");
        }
        assert_eq!(singular("recipe"), "recipe");
        assert_eq!(singular("status"), "status");
        assert_eq!(singular("class"), "class");
        assert!(is_plural("ingredients") && !is_plural("time"));
        assert_eq!(capitalized("recipe"), "Recipe");
    }
}
