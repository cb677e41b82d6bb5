import { useState, type FormEvent } from 'react';
import { APP } from '../config';
import { useLocalStorage } from '../hooks/useLocalStorage';

const SIGNUP_KEY = `${APP.storageKey}.signup`;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const isText = (value: unknown): value is string => typeof value === 'string';

/** The signup form: checks the address and remembers who signed up (no network). */
export function Signup() {
  const [signedUp, setSignedUp] = useLocalStorage(SIGNUP_KEY, '', isText);
  const [email, setEmail] = useState('');
  const [error, setError] = useState('');

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const address = email.trim();
    if (!EMAIL.test(address)) {
      setError('Please enter a valid email address.');
      return;
    }
    setError('');
    setSignedUp(address);
    setEmail('');
  };

  return (
    <section id="signup" className="card" aria-labelledby="signup-heading">
      <h2 id="signup-heading" className="text-xl font-semibold">
        {APP.signupHeading}
      </h2>
      <form id="signup-form" data-testid="signup-form" className="mt-3 flex gap-2" noValidate onSubmit={submit}>
        <input
          id="signup-email"
          data-testid="signup-email"
          type="email"
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          placeholder="you@example.com"
          aria-label="Email address"
          className="input min-w-0 flex-1"
        />
        <button id="signup-submit" data-testid="signup-submit" type="submit" className="btn btn-primary">
          Sign up
        </button>
      </form>
      <p
        id="signup-message"
        data-testid="signup-message"
        role="status"
        className={`signup-message mt-3 min-h-[1.5rem] ${error ? 'error text-red-600 dark:text-red-400' : 'text-emerald-700 dark:text-emerald-400'}`}
      >
        {error || (signedUp ? `Thanks! We'll write to ${signedUp} soon.` : '')}
      </p>
    </section>
  );
}
