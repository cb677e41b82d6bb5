//! The landing page: hero with a call to action, feature cards and a signup form that
//! confirms on the page (no network).
//!
//! Hooks: `#hero`, `#hero-cta`, `#features` with `.feature` cards, `#signup-form`,
//! `#signup-email`, `#signup-submit`, `#signup-message`.

use super::AppParts;
use crate::offline::text::{html_escape, shorten, title_from};

/// The landing page's parts; its title is what the prompt's "for ..." names.
pub fn parts(prompt: &str) -> AppParts {
    let lower = prompt.to_ascii_lowercase();
    let subject = lower
        .find(" for ")
        .and_then(|at| prompt.get(at + " for ".len()..))
        .unwrap_or("");
    let title = title_from(subject, "Your Product");
    let pitch = html_escape(&shorten(prompt, 200));
    let heading = html_escape(&title);
    AppParts {
        main_html: format!(
            r##"      <section id="hero" class="hero card" data-testid="hero">
        <h2 class="hero-title">{heading}: everything you need, nothing you don't.</h2>
        <p class="hero-text muted">{pitch}</p>
        <a id="hero-cta" class="cta" href="#signup" data-testid="hero-cta">Get started</a>
      </section>
      <section id="features" class="features" aria-label="Features" data-testid="features">
        <article class="feature card" data-search-item>
          <h3>Fast</h3>
          <p>Loads in a blink and stays out of your way.</p>
        </article>
        <article class="feature card" data-search-item>
          <h3>Simple</h3>
          <p>Everything important on one screen, nothing to learn.</p>
        </article>
        <article class="feature card" data-search-item>
          <h3>Reliable</h3>
          <p>Works on every device, online and off.</p>
        </article>
      </section>
      <section id="signup" class="card" aria-labelledby="signup-heading">
        <h2 id="signup-heading">Get early access</h2>
        <form id="signup-form" class="row" data-testid="signup-form" novalidate>
          <input id="signup-email" type="email" placeholder="you@example.com" aria-label="Email address" required data-testid="signup-email" />
          <button id="signup-submit" class="primary" type="submit" data-testid="signup-submit">Sign up</button>
        </form>
        <p id="signup-message" class="signup-message" role="status" data-testid="signup-message"></p>
      </section>
      <footer class="site-footer muted">&copy; <span id="year"></span> {heading}</footer>"##
        ),
        title,
        css: CSS,
        js: JS,
    }
}

const CSS: &str = r#".hero {
  text-align: center;
  padding: 3rem 1.5rem;
}

.hero-title {
  font-size: clamp(1.6rem, 4vw, 2.5rem);
  margin: 0 0 0.75rem;
}

.cta {
  display: inline-block;
  margin-top: 1rem;
  padding: 0.7rem 1.4rem;
  border-radius: 999px;
  background: var(--accent);
  color: var(--accent-text);
  text-decoration: none;
  font-weight: 600;
}

.features {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr));
  gap: 1rem;
}

.feature h3 {
  margin-top: 0;
}

.signup-message {
  min-height: 1.5rem;
  margin-bottom: 0;
}

.signup-message.error {
  color: var(--danger);
}

.site-footer {
  text-align: center;
  padding-bottom: 2rem;
}
"#;

const JS: &str = r#"// Landing page: the signup form checks the address and thanks the visitor.
const signupForm = document.querySelector('#signup-form');
const signupEmail = document.querySelector('#signup-email');
const signupMessage = document.querySelector('#signup-message');
document.querySelector('#year').textContent = String(new Date().getFullYear());

signupForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const email = signupEmail.value.trim();
  const valid = /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);
  signupMessage.classList.toggle('error', !valid);
  signupMessage.textContent = valid
    ? `Thanks! We'll write to ${email} when we launch.`
    : 'Please enter a valid email address.';
  if (valid) signupForm.reset();
});
"#;
