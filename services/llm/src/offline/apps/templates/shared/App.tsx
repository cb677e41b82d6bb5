import { Header } from './components/Header';
__IMPORTS__import { APP } from './config';
// buildwire:imports

/** The page: the header, then the app's sections. */
export default function App() {
  return (
    <div className="min-h-screen">
      <Header title={APP.title}>{/* buildwire:header */}</Header>
      <main id="app" className="mx-auto grid __WIDTH__ gap-6 px-4 py-8">
        {/* buildwire:main-start */}
__BODY__        {/* buildwire:main-end */}
      </main>
    </div>
  );
}
