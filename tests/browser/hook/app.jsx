// A minimal main-app component on useBuildProgress, bundled by demo.mjs with esbuild and
// run in Chromium: it renders a line per step and exposes what the hook returned.
import { useEffect } from "react";
import { createRoot } from "react-dom/client";
import { useBuildProgress } from "../../../clients/web/react.js";

function BuildView({ buildId, token, baseUrl }) {
  const { events, status, connection, progress } = useBuildProgress(buildId, token, { baseUrl });
  useEffect(() => {
    window.hookSeen.connections.push(connection);
  }, [connection]);
  window.hookSeen.seqs = events.map((event) => event.seq);
  window.hookSeen.status = status;
  window.hookSeen.previewUrl = progress.previewUrl;
  return (
    <div id="hook" data-status={status} data-connection={connection}>
      {progress.lines.map((line) => (
        <p key={line.key} className="line" data-state={line.state}>
          {line.label}
        </p>
      ))}
      {progress.previewUrl && <a id="hook-preview" href={progress.previewUrl}>View Preview</a>}
    </div>
  );
}

window.hookSeen = { connections: [], seqs: [], status: null, previewUrl: null };
window.mountBuildView = (props) => {
  const root = document.createElement("div");
  document.body.replaceChildren(root);
  createRoot(root).render(<BuildView {...props} />);
};
