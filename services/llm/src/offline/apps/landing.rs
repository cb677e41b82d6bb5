//! The landing page: a hero with a call to action, three feature cards and a signup form
//! that checks the address and remembers the signup (no network). Its name is the one the
//! prompt gives ("... called Sweet Crumbs"), else what its "for ..." names; the copy fits
//! the kind of business the prompt mentions (a bakery, an app, a gym, a studio, a shop).
//!
//! Hooks: `#hero` (`.hero-title`, `.hero-tagline`), `#hero-cta`, `#features` with
//! `.feature` cards, `#signup-form`, `#signup-email`, `#signup-submit`, `#signup-message`
//! (class `error` on a bad address). localStorage: `buildwire.landing.signup`.

use serde_json::json;

use super::{AppParts, file};
use crate::offline::text::{name_in, title_from, without_name, words};

/// Copy for one kind of business: the words that select it, a tagline (`{}` is the
/// business word found), the call to action, the signup heading, three features.
struct Copy {
    words: &'static [&'static str],
    tagline: &'static str,
    cta: &'static str,
    signup: &'static str,
    features: [(&'static str, &'static str); 3],
}

const COPIES: &[Copy] = &[
    Copy {
        words: &[
            "bakery",
            "cafe",
            "café",
            "coffee",
            "restaurant",
            "bistro",
            "pizzeria",
            "brewery",
            "patisserie",
            "deli",
            "diner",
            "kitchen",
            "catering",
            "bar",
            "tea",
            "donut",
            "cake",
        ],
        tagline: "Your neighbourhood {}: made fresh every day, with ingredients we know by name.",
        cta: "See what's fresh",
        signup: "Get our weekly specials",
        features: [
            (
                "Fresh every morning",
                "Made in small batches from scratch, every single day.",
            ),
            (
                "Local ingredients",
                "Flour, milk and fruit from farms a short drive away.",
            ),
            ("Order ahead", "Tell us what you'd like and skip the queue."),
        ],
    },
    Copy {
        words: &[
            "app",
            "software",
            "saas",
            "startup",
            "product",
            "platform",
            "api",
            "extension",
            "plugin",
            "tool",
            "service",
        ],
        tagline: "The {} that gets out of your way: everything you need, nothing you don't.",
        ..GENERIC
    },
    Copy {
        words: &[
            "gym", "fitness", "yoga", "pilates", "trainer", "training", "coaching", "crossfit",
            "dance", "martial",
        ],
        tagline: "A {} for every body: stronger, calmer and more energetic, week by week.",
        cta: "Book a free class",
        signup: "Claim your free first class",
        features: [
            (
                "Expert coaches",
                "Certified trainers who know your name and your goals.",
            ),
            (
                "Flexible times",
                "Classes from early morning to late evening, every day.",
            ),
            (
                "All levels",
                "Beginner or seasoned: every session scales to you.",
            ),
        ],
    },
    Copy {
        words: &[
            "agency",
            "studio",
            "consulting",
            "consultancy",
            "design",
            "photography",
            "photographer",
            "portfolio",
            "freelance",
            "freelancer",
            "architect",
            "marketing",
        ],
        tagline: "An independent {} that turns ideas into work people remember.",
        cta: "Start a project",
        signup: "Tell us about your project",
        features: [
            (
                "Thoughtful craft",
                "Every detail considered, nothing left to templates.",
            ),
            (
                "Clear process",
                "Fixed milestones, honest timelines, no surprises.",
            ),
            (
                "Proven results",
                "Work that has helped clients grow, year after year.",
            ),
        ],
    },
    Copy {
        words: &[
            "shop",
            "store",
            "boutique",
            "market",
            "florist",
            "flowers",
            "bookstore",
            "bookshop",
            "gallery",
            "salon",
            "barber",
        ],
        tagline: "A small {} with a big heart: hand-picked goods and friendly advice.",
        cta: "Visit us",
        signup: "Hear about new arrivals first",
        features: [
            (
                "Hand-picked",
                "Every item chosen by people who love what they sell.",
            ),
            (
                "Friendly advice",
                "Ask us anything: we are happy to help you choose.",
            ),
            (
                "Easy returns",
                "Not quite right? Bring it back within 30 days.",
            ),
        ],
    },
];

/// The generic copy when no kind of business is recognised (apps and software share its
/// call to action, signup heading and features).
const GENERIC: Copy = Copy {
    words: &[],
    tagline: "{}: everything you need, nothing you don't.",
    cta: "Get started",
    signup: "Get early access",
    features: [
        ("Fast", "Loads in a blink and stays out of your way."),
        (
            "Simple",
            "Everything important on one screen, nothing to learn.",
        ),
        ("Reliable", "Works on every device, online and off."),
    ],
};

/// The landing page's parts for `prompt`.
pub fn parts(prompt: &str) -> AppParts {
    let unnamed = without_name(prompt);
    let lower = unnamed.to_lowercase();
    let subject = lower
        .find(" for ")
        .and_then(|at| unnamed.get(at + " for ".len()..))
        .unwrap_or("");
    let title = name_in(prompt).unwrap_or_else(|| title_from(subject, "Your Product"));
    let said = words(prompt);
    let (copy, business) = COPIES
        .iter()
        .find_map(|copy| {
            said.iter()
                .find(|word| copy.words.contains(&word.as_str()))
                .map(|word| (copy, word.clone()))
        })
        .unwrap_or((&GENERIC, title.clone()));
    let features: Vec<serde_json::Value> = copy
        .features
        .iter()
        .map(|(title, text)| json!({ "title": title, "text": text }))
        .collect();
    AppParts {
        title,
        storage: "buildwire.landing".into(),
        config: vec![
            ("tagline", copy.tagline.replace("{}", &business).into()),
            ("callToAction", copy.cta.into()),
            ("signupHeading", copy.signup.into()),
            ("features", features.into()),
        ],
        files: vec![
            file(
                "src/components/Hero.tsx",
                include_str!("templates/landing/Hero.tsx"),
            ),
            file(
                "src/components/Features.tsx",
                include_str!("templates/landing/Features.tsx"),
            ),
            file(
                "src/components/Signup.tsx",
                include_str!("templates/landing/Signup.tsx"),
            ),
            file(
                "src/components/Footer.tsx",
                include_str!("templates/landing/Footer.tsx"),
            ),
        ],
        components: vec!["Hero", "Features", "Signup", "Footer"],
        width: "max-w-5xl",
    }
}
