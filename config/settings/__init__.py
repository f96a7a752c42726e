"""Settings: `base` reads everything from the environment; `production` hardens it; `test` for pytest."""
