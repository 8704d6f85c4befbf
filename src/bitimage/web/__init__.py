"""The web application for people: pages and assets served from this package, no build step."""
