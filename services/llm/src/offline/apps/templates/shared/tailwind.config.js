/** @type {import('tailwindcss').Config} */
export default {
  content: ['./index.html', './src/**/*.{ts,tsx}'],
  // Dark mode follows `class="dark"` on <html>, set by the theme toggle.
  darkMode: 'class',
  theme: {
    extend: {},
  },
  plugins: [],
};
