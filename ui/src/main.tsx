import { render } from 'preact';
import { useState } from 'preact/hooks';
import { hrefOf, usePlace } from './router';
import { keepSession, type Session, storedSession } from './session';
import { AuditLog } from './views/AuditLog';
import { ImageStory } from './views/ImageStory';
import { InstanceList } from './views/InstanceList';
import { InstancePage } from './views/InstancePage';
import { LogStatus } from './views/LogStatus';
import { SignIn } from './views/SignIn';
import './styles.css';

function App() {
  const [session, setSession] = useState<Session | null>(storedSession);
  const place = usePlace();
  if (session === null)
    return (
      <SignIn
        onSignedIn={(s) => {
          keepSession(s);
          setSession(s);
        }}
      />
    );
  return (
    <>
      <header class="top">
        <strong>snapledger</strong>
        <nav>
          <a href={hrefOf.instances()} aria-current={place.name.startsWith('instance')}>
            Instances
          </a>
          <a href={hrefOf.audit()} aria-current={place.name === 'audit'}>
            Audit log
          </a>
          <LogStatus session={session} compact />
        </nav>
        <span class="who" data-testid="who">
          {session.userName} · project {session.projectId} · {session.roles.join(', ')}
        </span>
        <button
          type="button"
          onClick={() => {
            keepSession(null);
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        {place.name === 'instances' && <InstanceList session={session} />}
        {place.name === 'instance' && (
          <InstancePage key={place.id} session={session} id={place.id} />
        )}
        {place.name === 'image' && <ImageStory key={place.id} session={session} id={place.id} />}
        {place.name === 'audit' && (
          <AuditLog key={place.query.toString()} session={session} query={place.query} />
        )}
        {place.name === 'log' && <LogStatus session={session} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
