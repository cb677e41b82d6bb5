import { APP } from '../config';
import { useFilter } from '../hooks/useFilter';

/** Three reasons to care, as cards. */
export function Features() {
  const features = useFilter([...APP.features], (feature) => [feature.title, feature.text]);
  return (
    <section id="features" data-testid="features" aria-label="Features" className="grid gap-4 sm:grid-cols-3">
      {features.map((feature) => (
        <article key={feature.title} data-testid="feature" className="feature card">
          <h3 className="text-lg font-semibold">{feature.title}</h3>
          <p className="mt-2 text-slate-600 dark:text-slate-300">{feature.text}</p>
        </article>
      ))}
    </section>
  );
}
