import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter } from "react-router";
import { App } from "./App";
import { isApiError } from "./api/client";
import "./styles.css";
import "./i18n";
import { listenForInstallPrompt, listenForOfflineCopies, registerServiceWorker } from "./lib/pwa";

listenForInstallPrompt();
listenForOfflineCopies();
registerServiceWorker();

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // 4xx answers are final; retry only what may pass on a second try.
      retry: (n, e) => n < 2 && !(isApiError(e) && e.status >= 400 && e.status < 500),
      refetchOnWindowFocus: false,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
