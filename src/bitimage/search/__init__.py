"""Finding images by name, tag and content label: fuzzy, ranked, paged."""
