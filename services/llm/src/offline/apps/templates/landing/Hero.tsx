import { APP } from '../config';

/** The opening section: the name, what it is, and a call to action. */
export function Hero() {
  return (
    <section
      id="hero"
      data-testid="hero"
      className="rounded-2xl bg-gradient-to-br from-indigo-600 to-violet-600 px-6 py-16 text-center text-white shadow-lg dark:from-indigo-900 dark:to-violet-950"
    >
      <h2 className="hero-title text-4xl font-bold tracking-tight sm:text-5xl">{APP.title}</h2>
      <p className="hero-tagline mx-auto mt-4 max-w-2xl text-lg text-indigo-100">{APP.tagline}</p>
      <a
        id="hero-cta"
        data-testid="hero-cta"
        href="#signup"
        className="mt-8 inline-block rounded-full bg-white px-6 py-3 font-semibold text-indigo-700 shadow hover:bg-indigo-50"
      >
        {APP.callToAction}
      </a>
    </section>
  );
}
