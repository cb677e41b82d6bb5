import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Relative asset URLs: previews are served under /preview/<buildId>/.
export default defineConfig({
  base: './',
  plugins: [react(), tailwindcss()],
  build: {
    // The preview's size report is not worth a gzip pass over every chunk.
    reportCompressedSize: false,
  },
});
