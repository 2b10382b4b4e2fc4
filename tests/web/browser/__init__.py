"""Real-browser tests of the web app: Chromium driven by Playwright against a live server."""
