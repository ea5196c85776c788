import { useState } from 'preact/hooks';
import { type Session, signInWithPassword, signInWithToken } from '../session';
import { ErrorLine } from './ErrorLine';

/** Sign in with a token (from `snapledger user token` or `openstack token issue`) or a password. */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const attempt = async (signIn: () => Promise<Session>) => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn());
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>snapledger</h1>
      <p>Review instances, their snapshots and the audit log of one project.</p>
      <form
        aria-label="Sign in with a token"
        onSubmit={(e) => {
          e.preventDefault();
          void attempt(() => signInWithToken(token.trim()));
        }}
      >
        <label>
          Token
          <input
            name="token"
            type="password"
            autocomplete="off"
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in with token
        </button>
      </form>
      <p class="or">or</p>
      <form
        aria-label="Sign in with a password"
        onSubmit={(e) => {
          e.preventDefault();
          void attempt(() => signInWithPassword(name.trim(), password));
        }}
      >
        <label>
          User
          <input
            name="user"
            autocomplete="username"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorLine message={error} />
    </main>
  );
}
